"""The built-in FAQ assistant (docs/bot.md): greets, answers from the operator's FAQ and the
live privacy notice, and hands the visitor to a person.

With `bot.enabled`, a new conversation starts in state `bot`, and the app wires `FaqAssistant`
as `ctx.assistant`: conversations.post_visitor_message calls its `after_visitor_message` once
the visitor's message is committed, and routing.handoff its `handoff`. The assistant appends
its messages (author kind `bot`) in one transaction, taken with a conditional UPDATE on the row
still being in state `bot`, so a conversation an agent has meanwhile claimed is left alone. A
hand-off (the visitor's words, the `handoff` event, or a question the bot cannot answer confidently)
queues the conversation when an agent is online; when none is, the bot stays and offers the
offline form (`offer_offline_form` in the `conversation` event). Nothing leaves the server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Conversation, Message
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.package_data import data_path
from chatserver.services import presence, queue
from chatserver.services.assistant import confidence as bot_confidence
from chatserver.services.assistant import faq as bot_faq
from chatserver.services.assistant import faq_review
from chatserver.services.assistant import privacy_answers as bot_privacy
from chatserver.services.assistant.match import Document, Index
from chatserver.services.assistant.text import words_of
from chatserver.services.context import Context
from chatserver.services.conversations import Visitor, open_conversation
from chatserver.services.messages import append
from chatserver.services.views import message_view
from chatserver.settings import LANGUAGES, Settings

log = logging.getLogger(__name__)
PRIVACY_FAQ = data_path("faq", "privacy.toml")

GREETING = _("Hello! I am an automatic assistant and I answer common questions right away. "
             "To chat with a person, just say so.")
TO_QUEUE = _("I will pass you to a person from our customer service. Please wait a moment; "
             "they will see what we have written here.")
UNSURE_TO_QUEUE = _("I am not sure I understood. I will pass your question to a person from our "
                    "customer service; please wait a moment.")
OFFLINE = _("No one from our customer service is online right now. You can leave a message and "
            "we will reply by email, or ask me something else.")
CHOICES_INTRO = _("I am not quite sure what you mean. Is it one of these?")
CHOICES_OUTRO = _("Or ask for a person from our customer service.")
UNSURE_OFFLINE = _("I am not sure I understood, and no one from our customer service is online "
                   "right now. You can leave a message and we will reply by email, or ask me "
                   "in other words.")

BOT_QUESTION = "privacy.bot"  # "am I talking to a person?" is a question, not a request
CHOICES = 3  # entries offered at most when the assistant is unsure
# Words that, beside a word for a person, make the message a question about the bot (whole
# words, then beginnings).
BOT_WORDS = (frozenset({"ai", "real", "kone", "koneen", "oikea", "oikee", "aito", "riktig",
                        "äkta", "machine"}),
             ("bot", "robot", "chatbot", "botti", "automa", "tekoäly", "maskin", "artificial"))

# Words that ask for a person, matched on whole lower-case words (not stems: "personal" is not
# "person"). Per language: exact words, then prefixes. The unambiguous ones work in any language.
HANDOFF_WORDS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "fi": (frozenset({"henkilö", "henkilön", "henkilölle", "henkilöä", "agentti", "agentin",
                      "agentille", "myyjä", "myyjän", "myyjälle", "työntekijä", "työntekijän",
                      "työntekijälle"}),
           ("ihmi", "asiakaspalvelij", "asiakaspalvelijo", "virkailij")),
    "sv": (frozenset({"person", "personen", "personal", "personalen", "agent", "agenten",
                      "handläggare", "handläggaren", "säljare", "säljaren"}),
           ("männi", "kundtjänstmedarbetar", "medarbetar", "kundtjänstpersonal")),
    "en": (frozenset({"human", "humans", "person", "agent", "agents", "representative",
                      "operator", "staff", "employee"}),
           ()),
}
UNIVERSAL_HANDOFF = (frozenset({"human", "humans", "ihminen", "människa"}),
                     ("ihmi", "asiakaspalvelij", "männi", "kundtjänstmedarbetar"))
# Word pairs that contain a hand-off word but do not ask for a person.
NOT_HANDOFF = {"en": {("in", "person"), ("user", "agent")}, "sv": {("personal", "data")}}


@dataclass(frozen=True)
class Knowledge:
    answers: dict[tuple[str, str], str]  # (entry id, language) → the operator's answer
    titles: dict[tuple[str, str], str]  # (entry id, language) → the label of a choice
    indexes: dict[str, Index]


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer", "choices" ("Did you mean…?"), "handoff" (asked for a person), "unsure"
    entry_id: str | None = None  # the best entry, when any shares words with the question
    confidence: float = 0.0  # the probability that entry_id is right (confidence.py)
    choices: tuple[str, ...] = ()  # entries offered when kind is "choices", best first


Hints = dict[str, Any]  # extra fields of a live bot message: "actions", "choices"
_CACHE: dict[tuple[Any, ...], Knowledge] = {}


def knowledge(settings: Settings, *, strict: bool = False) -> Knowledge:
    """The FAQ (plus the privacy questions) indexed per language; re-read when the file
    changes. A malformed file raises FaqError at start-up (`check`); if it is edited into a
    malformed state while running, the error is logged and the previous version kept."""
    path = settings.bot.faq_path
    try:
        stat = path.stat()
        key: tuple[Any, ...] = (str(path), stat.st_mtime_ns, stat.st_size,
                                settings.bot.privacy_answers)
    except OSError:
        key = (str(path), None, None, settings.bot.privacy_answers)
    found = _CACHE.get(key)
    if found is not None:
        return found
    try:
        built = build(bot_faq.load(path), settings.bot.privacy_answers)
    except bot_faq.FaqError:
        previous = [k for k in _CACHE if k[0] == str(path) and k[3] == key[3]]
        if strict or not previous:
            raise
        log.exception("bot: the FAQ file changed but cannot be used; keeping the previous one")
        return _CACHE[previous[-1]]
    for stale in [k for k in _CACHE if k[0] == str(path) and k[3] == key[3]]:
        del _CACHE[stale]
    _CACHE[key] = built
    return built


def build(entries: list[bot_faq.Entry], privacy_answers: bool = True) -> Knowledge:
    if privacy_answers:
        entries = [*entries, *bot_faq.load(PRIVACY_FAQ, answers=False)]
    answers: dict[tuple[str, str], str] = {}
    titles: dict[tuple[str, str], str] = {}
    documents: dict[str, list[Document]] = {language: [] for language in LANGUAGES}
    for entry in entries:
        if entry.disabled:
            continue
        for language, part in entry.languages.items():
            answers[(entry.id, language)] = part.answer
            titles[(entry.id, language)] = part.label
            documents[language].append(Document(entry.id, part.questions, part.keywords,
                                                part.title, part.answer))
    return Knowledge(answers, titles,
                     {lang: Index(lang, docs) for lang, docs in documents.items()})


def check(settings: Settings) -> None:
    """At start-up: stop with FaqError (a ConfigError) when the FAQ file is malformed."""
    if settings.bot.enabled:
        knowledge(settings, strict=True)


def wants_person(language: str, text: str) -> bool:
    words = words_of(text)
    exact, prefixes = HANDOFF_WORDS.get(language, (frozenset(), ()))
    skip = NOT_HANDOFF.get(language, set())
    for position, word in enumerate(words):
        if (words[position - 1] if position else "", word) in skip or \
                (word, words[position + 1] if position + 1 < len(words) else "") in skip:
            continue
        if word in exact or word in UNIVERSAL_HANDOFF[0] or \
                word.startswith(prefixes + UNIVERSAL_HANDOFF[1]):
            return True
    return False


def asks_about_bot(text: str) -> bool:
    """Whether a message that names a person also names a bot or a machine: "Am I talking to
    a bot or a real person?" asks about the assistant; "Can I talk to a person?" asks for one."""
    exact, beginnings = BOT_WORDS
    return any(word in exact or word.startswith(beginnings) for word in words_of(text))


def live(ctx: Context) -> Knowledge:
    """The FAQ this node answers from: the newest version saved in the console, or the file
    (services/assistant/faq_store.py); the file alone when nothing wired a store."""
    store = ctx.faq
    return store.knowledge() if store is not None else knowledge(ctx.settings)


def decide(settings: Settings, language: str, text: str,
           known: Knowledge | None = None) -> Decision:
    """The best FAQ entry when the assistant is sure enough; a few entries to choose from when
    it is less sure; else unsure. Asking for a person wins over everything but a question
    about whether a person is answering (privacy.bot). `known` defaults to the file's FAQ."""
    known = known or knowledge(settings)
    if wants_person(language, text):
        if asks_about_bot(text) and (BOT_QUESTION, language) in known.titles:
            return Decision("answer", BOT_QUESTION, 1.0)  # its answer offers the hand-off
        return Decision("handoff")
    index = known.indexes.get(language)
    match = index.match(text) if index is not None else None
    if match is None or match.id is None:
        return Decision("unsure")
    sure = bot_confidence.confidence(match)
    best = match.id
    if sure.answer >= settings.bot.threshold:
        return Decision("answer", best, sure.answer)
    choices = tuple(c.id for c in match.candidates[:CHOICES])
    if sure.offer >= settings.bot.choices_threshold and len(choices) > 1:
        return Decision("choices", best, sure.answer, choices)
    return Decision("unsure", best, sure.answer)


def chosen(known: Knowledge, language: str, choice: str | None) -> Decision | None:
    """The visitor picked `choice` from the offered ones: answer it, if the FAQ has it."""
    if choice is None or (choice, language) not in known.titles:
        return None
    return Decision("answer", choice, 1.0)


def _choices(ctx: Context, language: str, choices: tuple[str, ...]) -> tuple[str, Hints]:
    """"Did you mean…?": the text lists the titles (so history and transcripts read well); the
    live event also carries them as buttons, with "talk to a person"."""
    titles = [live(ctx).titles[(entry_id, language)] for entry_id in choices]
    text = "\n".join([_t(ctx, language, CHOICES_INTRO), *(f"• {title}" for title in titles),
                      _t(ctx, language, CHOICES_OUTRO)])
    return text, {"choices": [{"id": entry_id, "title": title}
                              for entry_id, title in zip(choices, titles, strict=True)],
                  "actions": ["handoff"]}


def answer_text(ctx: Context, language: str, entry_id: str) -> tuple[str, list[str]]:
    if entry_id in bot_privacy.IDS:
        return bot_privacy.answer(ctx, language, entry_id)
    return live(ctx).answers[(entry_id, language)], []


def _t(ctx: Context, language: str, msgid: str) -> str:
    return ctx.translator.gettext(language, msgid)


async def _say(ctx: Context, session: AsyncSession, conversation_id: str, text: str) -> Message:
    message, _agent = await append(ctx, session, conversation_id, kind="bot", text=text)
    return message


# Emits scheduled to run after the current event's ack (see _announce); kept referenced.
_AFTER_ACK: set[asyncio.Task[None]] = set()


async def after_visitor_message(ctx: Context, visitor: Visitor, conversation_id: str,
                                text: str, *, opened: bool, sid: str | None = None,
                                choice: str | None = None) -> dict[str, Any] | None:
    """Answer or hand off after the visitor's committed message. Returns the visitor's view of
    the conversation when the bot handled the message (state and `offer_offline_form`).
    `choice` is the entry the visitor picked from the choices offered earlier; one the FAQ no
    longer has is ignored and the text (the choice's title) is matched instead."""
    if opened and sid is not None:
        # The socket enters the room now, so it hears the greeting before the ack arrives.
        await ctx.bus.join_conversation(sid, conversation_id)
    known = live(ctx)
    decision = chosen(known, visitor.language, choice) or \
        decide(ctx.settings, visitor.language, text, known)
    online = decision.kind not in ("answer", "choices") and await presence.is_online(ctx)
    now = ctx.clock()
    said: list[tuple[Message, Hints]] = []
    async with ctx.db.begin() as session:
        locked = (await session.exec(
            update(Conversation).where(col(Conversation.id) == conversation_id)
            .where(col(Conversation.state) == "bot").values(last_activity_at=now)
            .returning(col(Conversation.id)))).first()
        if locked is None:
            return None  # claimed, queued or closed meanwhile: the bot stays quiet
        await faq_review.record(ctx, session, conversation_id, visitor.language, decision.kind,
                                decision.entry_id, decision.confidence)
        if opened and ctx.settings.bot.greeting:
            said.append((await _say(ctx, session, conversation_id,
                                    _t(ctx, visitor.language, GREETING)), {}))
        if decision.kind == "answer" and decision.entry_id is not None:
            reply, actions = answer_text(ctx, visitor.language, decision.entry_id)
            said.append((await _say(ctx, session, conversation_id, reply),
                         {"actions": actions} if actions else {}))
        elif decision.kind == "choices":
            text, hints = _choices(ctx, visitor.language, decision.choices)
            said.append((await _say(ctx, session, conversation_id, text), hints))
        else:
            unsure = decision.kind == "unsure"
            if online:
                note = UNSURE_TO_QUEUE if unsure else TO_QUEUE
                await session.exec(update(Conversation)
                                   .where(col(Conversation.id) == conversation_id)
                                   .values(state="queued", queued_at=now))
            else:
                note = UNSURE_OFFLINE if unsure else OFFLINE
            said.append((await _say(ctx, session, conversation_id,
                                    _t(ctx, visitor.language, note)),
                         {} if online else {"actions": ["offline_form"]}))
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
    return await _announce(ctx, conversation, said,
                           offer=decision.kind not in ("answer", "choices") and not online)


async def _announce(ctx: Context, conversation: Conversation,
                    said: list[tuple[Message, Hints]], *, offer: bool) -> dict[str, Any]:
    """The visitor's view of the conversation now (for the ack); the bot's messages, the state
    change and the agents' queue are emitted right after the ack. The task is created now and
    first runs when this event's handler has returned and python-socketio has queued the ack,
    so the widget sees its message acknowledged (seq n) before the bot's (n + 1, ...)."""
    view = await queue.visitor_view(ctx, conversation)
    if offer:
        view["offer_offline_form"] = True
    messages = []
    for message, hints in said:
        # Hints for the widget's buttons, on the live event only: not stored (docs/protocol.md).
        messages.append({**message_view(message), **hints})

    async def emit() -> None:
        try:
            for shown in messages:
                await ctx.bus.to_visitors_of(conversation.id, "message", shown)
            if conversation.state == "queued" or offer:
                await ctx.bus.to_visitors_of(conversation.id, "conversation", view)
            if conversation.state == "queued":
                await queue.joined(ctx, conversation, view.get("queue_position"))
        except Exception:
            log.exception("bot: emitting the reply failed (it is stored; history has it)")

    task = asyncio.get_running_loop().create_task(emit())
    _AFTER_ACK.add(task)
    task.add_done_callback(_AFTER_ACK.discard)
    return view


async def handoff(ctx: Context, visitor: Visitor, sid: str | None = None) -> dict[str, Any]:
    """The visitor asked for a person (the `handoff` event) while the bot is on: queue the
    conversation when an agent is online, else offer the offline form in the chat."""
    online = await presence.is_online(ctx)
    now = ctx.clock()
    said: list[tuple[Message, Hints]] = []
    async with ctx.db.begin() as session:
        if visitor.conversation_id is None:
            opened = open_conversation(ctx, visitor, "queued" if online else "bot")
            session.add(opened)
            await session.flush()
            visitor.conversation_id = conversation_id = opened.id
            state, fresh = opened.state, True
        else:
            conversation_id = visitor.conversation_id
            found = await session.get(Conversation, conversation_id)
            if found is None:
                raise ServiceError(Code.NOT_FOUND, _("The conversation was not found."))
            if found.state == "closed":
                raise ServiceError(Code.CLOSED)
            state, fresh = found.state, False
        if fresh or state == "bot":
            if online:
                await session.exec(update(Conversation)
                                   .where(col(Conversation.id) == conversation_id)
                                   .values(state="queued", queued_at=now))
            said.append((await _say(ctx, session, conversation_id,
                                    _t(ctx, visitor.language, TO_QUEUE if online else OFFLINE)),
                         {} if online else {"actions": ["offline_form"]}))
        conversation = await session.get(Conversation, conversation_id, populate_existing=True)
        assert conversation is not None
    if fresh and sid is not None:
        await ctx.bus.join_conversation(sid, conversation_id)
    if not said:  # already queued or with an agent: nothing changes
        return await queue.visitor_view(ctx, conversation)
    return await _announce(ctx, conversation, said, offer=not online)


class FaqAssistant:
    """The assistant's hooks into the chat core (`ctx.assistant`, services/context.py)."""

    after_visitor_message = staticmethod(after_visitor_message)
    handoff = staticmethod(handoff)
