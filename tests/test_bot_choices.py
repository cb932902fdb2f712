"""The assistant beyond its own FAQ (issue 15, docs/bot.md): the held-out test domains of
corpus/bot/, "Did you mean…?" choices through a real socket, the privacy answers added for what
visitors ask (each built from a setting), and the FAQ file's titles.

The figures asserted for the test domains are floors just under what was measured when the
matcher was last tuned (on the dev domains only). They are below the issue's targets for direct
answers (85 %) and for right-answered-or-offered (95 %): docs/bot.md gives the figures.
"""
# The fixtures imported from tests.browser are redefined as parameters by design:
# ruff: noqa: F811

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatserver.services.assistant import bot
from chatserver.services.assistant import evaluation as bot_eval
from chatserver.services.assistant import faq as bot_faq
from chatserver.services.assistant import privacy_answers as bot_privacy
from chatserver.settings import load_settings
from tests.browser import (  # noqa: F401  (fixtures)
    axe_source,
    base_url,
    browser_type_launch_args,
    expect,
    run_axe,
    screenshot,
    send,
    shadow,
    start_chat,
    widget_bundle,
)
from tests.helpers import Chat
from tests.test_bot import BOT_ON, bot_messages, faq_answer, t

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "bot"
# Per language: least share answered right directly, most answered wrongly, most out-of-scope
# questions answered, least share answered right or offered among the choices.
FLOORS = {"fi": (0.58, 0.05, 0.10, 0.85), "sv": (0.58, 0.05, 0.10, 0.85),
          "en": (0.60, 0.05, 0.10, 0.85)}


@pytest.fixture(scope="module")
def test_domains() -> dict[str, bot_eval.Score]:
    return bot_eval.evaluate_folder(load_settings(environ={}), CORPUS / "test")["all"]


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_the_held_out_domains_stay_above_the_measured_floors(
        test_domains: dict[str, bot_eval.Score], language: str) -> None:
    score = test_domains[language]
    right, wrong, answered_out, reach = FLOORS[language]
    assert score.in_scope >= 3 * 50 and score.out_of_scope >= 3 * 15, "corpus too small"
    assert score.accuracy >= right, bot_eval.report({language: score}, load_settings(environ={}))
    assert score.wrong_rate <= wrong
    assert 1 - score.refusal_rate <= answered_out
    assert score.reach >= reach


def test_the_corpus_splits_into_dev_and_test_domains() -> None:
    dev = {d.name for d in bot_eval.domains(CORPUS / "dev")}
    test = {d.name for d in bot_eval.domains(CORPUS / "test")}
    assert len(dev) + len(test) >= 5 and not dev & test
    for domain in bot_eval.domains(CORPUS / "test"):
        for entry in bot_faq.load(domain / "faq.toml"):
            for part in entry.languages.values():  # as an operator writes them
                assert 2 <= len(part.questions) <= 3 and not part.keywords, entry.id


UNSURE = {"en": ("how do i pay", "can i add an item to my order", "i need to change my adress"),
          "fi": ("voiko ostaa laskulla", "haluan palauttaa kengät", "onko osamaksua")}


def unsure_question(settings: Any, language: str) -> tuple[str, tuple[str, ...]]:
    for text in UNSURE[language]:
        decision = bot.decide(settings, language, text)
        if decision.kind == "choices":
            return text, decision.choices
    raise AssertionError("no question of the list gets choices any more")


async def test_a_choice_offered_and_picked_gets_that_entrys_answer(chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    text, choices = unsure_question(chat.settings, "en")
    visitor = await chat.visitor("en")
    asked = await visitor.call("message", {"client_id": "c1", "text": text})
    assert asked["ok"] is True and asked["conversation"]["state"] == "bot", asked
    _greeting, offer = await bot_messages(visitor, 2)
    titles = [bot.knowledge(chat.settings).titles[(c, "en")] for c in choices]
    assert offer["choices"] == [{"id": c, "title": title}
                                for c, title in zip(choices, titles, strict=True)]
    assert offer["actions"] == ["handoff"]
    assert all(title in offer["text"] for title in titles)  # history reads as text

    picked = choices[-1]
    chose = await visitor.call("message", {"client_id": "c2", "text": titles[-1],
                                           "choice": picked})
    assert chose["ok"] is True, chose
    (answer,) = await bot_messages(visitor, 1)
    assert answer["text"] == faq_answer(chat, picked, "en")

    history = await visitor.call("history", {"after_seq": 0})
    assert "choices" not in history["messages"][2]  # the hint lives on the live event only
    assert history["messages"][2]["text"] == offer["text"]

    # A choice the FAQ does not have is ignored: the text is matched as usual.
    stale = await visitor.call("message", {"client_id": "c3", "text": "How do I return a "
                                           "product?", "choice": "no-such-entry"})
    assert stale["ok"] is True
    (matched,) = await bot_messages(visitor, 1)
    assert matched["text"] == faq_answer(chat, "returns", "en")
    bad = await visitor.call("message", {"client_id": "c4", "text": "x", "choice": 5})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_input"


async def test_talk_to_a_person_from_the_choices_hands_off(chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    await chat.agent("anna@example.fi", "Anna")
    text, _choices = unsure_question(chat.settings, "en")
    visitor = await chat.visitor("en")
    asked = await visitor.call("message", {"client_id": "c1", "text": text})
    assert asked["conversation"]["state"] == "bot"  # choices first, not the queue
    _greeting, offer = await bot_messages(visitor, 2)
    assert "handoff" in offer["actions"]
    handed = await visitor.call("handoff", {})
    assert handed["ok"] is True and handed["conversation"]["state"] == "queued"
    (note,) = await bot_messages(visitor, 1)
    assert note["text"] == t(chat, "en", bot.TO_QUEUE)


@pytest.mark.browser
async def test_the_widget_shows_choices_as_buttons_usable_by_keyboard(
        chat_factory: Any, page: Any, axe_source: str) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    text, choices = unsure_question(chat.settings, "fi")
    await page.goto(chat.url + "/")
    await start_chat(page)
    await send(page, text)
    group = shadow(page).get_by_role("group", name="Ehdotetut kysymykset")
    await expect(group.get_by_role("button")).to_have_count(len(choices) + 1)
    titles = [bot.knowledge(chat.settings).titles[(c, "fi")] for c in choices]
    await expect(group.get_by_role("button").first).to_have_text(titles[0])
    await expect(group.get_by_role("button").last).to_have_text("Haluan puhua ihmisen kanssa")
    assert await run_axe(page, axe_source) == []
    await screenshot(page, "10-bot-choices")
    second = group.get_by_role("button").nth(1)
    await second.focus()
    await second.press("Enter")
    await expect(group).to_have_count(0)  # answered once: the buttons go
    answer = faq_answer(chat, choices[1], "fi")
    await expect(shadow(page).locator("li .txt").last).to_have_text(answer)


def test_asking_whether_a_person_answers_is_a_question_not_a_request() -> None:
    settings = load_settings(environ={})
    for language, text in (("fi", "Onks tää botti vai oikea ihminen?"),
                           ("sv", "Är du en robot eller en människa?"),
                           ("en", "Am I chatting with a bot or a real person?")):
        assert bot.decide(settings, language, text).entry_id == "privacy.bot", text
    for language, text in (("fi", "Haluan puhua ihmisen kanssa"),
                           ("en", "Can I talk to a person?")):
        assert bot.decide(settings, language, text).kind == "handoff", text


NEW_PRIVACY = [
    # entry, a visitor's question, two settings that must give different answers
    ("privacy.cookies", "Tallentaako tämä chatti evästeitä koneelleni?",
     {}, {"privacy": {"collect_user_agent": True}}),
    ("privacy.controller", "Kuka on tietojeni rekisterinpitäjä?",
     {}, {"privacy": {"controller": {"name": "Toinen Oy"}}}),
    ("privacy.transcript", "Mitä sähköpostiosoitteelleni tapahtuu kun saan kopion?",
     {}, {"privacy": {"retention": {"sent_emails": 3}}}),
    ("privacy.bot", "Vastaako tähän botti?",
     {}, {"privacy": {"controller": {"name": "Toinen Oy"}}}),
]


@pytest.mark.parametrize(("entry_id", "question", "before", "after"), NEW_PRIVACY,
                         ids=[row[0] for row in NEW_PRIVACY])
async def test_each_new_privacy_answer_follows_its_setting(
        chat_factory: Any, entry_id: str, question: str, before: dict[str, Any],
        after: dict[str, Any]) -> None:
    first: Chat = await chat_factory(bot=BOT_ON, **before)
    assert bot.decide(first.settings, "fi", question).entry_id == entry_id
    visitor = await first.visitor("fi")
    await visitor.call("message", {"client_id": "c1", "text": question})
    _greeting, said = await bot_messages(visitor, 2)
    expected, _actions = bot_privacy.answer(first.ctx, "fi", entry_id)
    assert said["text"] == expected
    second: Chat = await chat_factory(bot=BOT_ON, **after)
    changed, _actions = bot_privacy.answer(second.ctx, "fi", entry_id)
    assert changed != expected


async def test_the_transcript_answer_says_so_when_transcripts_are_off(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON, smtp={"transcripts": False})
    text, _actions = bot_privacy.answer(chat.ctx, "en", "privacy.transcript")
    assert text.startswith(t(chat, "en", bot_privacy.NO_TRANSCRIPT))


@pytest.mark.parametrize(("text", "expected"), [
    ('[[entry]]\nid = "a"\n[entry.fi]\ntitle = "Toimitus"\nquestions = ["x"]\nanswer = "y"\n'
     '[entry.en]\nquestions = ["x"]\nanswer = "y"\n',
     "FAQ faq.toml: line 7: entry 'a': en: title is missing; give every language of the entry "
     "a title (as fi has) or none"),
    ('[[entry]]\nid = "a"\n[entry.fi]\ntitle = ["Toimitus"]\nquestions = ["x"]\nanswer = "y"\n',
     "FAQ faq.toml: line 4: entry 'a': fi.title must be one line of text"),
    ('[[entry]]\nid = "a"\n[entry.sv]\ntitle = "two\\nlines"\nquestions = ["x"]\nanswer = "y"\n',
     "FAQ faq.toml: line 4: entry 'a': sv.title must be one line of text"),
    ('[[entry]]\nid = "a"\n[entry.en]\ntitle = ""\nquestions = ["x"]\nanswer = "y"\n',
     "FAQ faq.toml: line 4: entry 'a': en.title must be one line of text"),
])
def test_a_malformed_or_missing_title_names_the_entry_and_the_line(text: str,
                                                                   expected: str) -> None:
    with pytest.raises(bot_faq.FaqError) as error:
        bot_faq.parse(text, "faq.toml")
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


def test_an_entry_without_titles_offers_its_first_question() -> None:
    (entry,) = bot_faq.parse('[[entry]]\nid = "a"\n[entry.fi]\nquestions = ["Milloin olette '
                             'auki?", "Aukioloajat"]\nanswer = "9–17"\n', "faq.toml")
    assert entry.languages["fi"].label == "Milloin olette auki?"
