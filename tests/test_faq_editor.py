"""The FAQ edited in the console (issue 23, docs/bot.md "The FAQ editor"): saved versions the
assistant uses at once, the audit log without answer texts, the labelled questions' guard,
the read-only file source, the review list of hand-offs, and `bot export` / `bot import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlmodel import col, select

from chatserver.db.models import AuditEvent, BotDecision
from chatserver.services import agents
from chatserver.services.assistant import bot, faq_review
from chatserver.services.assistant import faq as bot_faq
from chatserver.services.privacy import retention
from chatserver.settings.bot import EXAMPLE_FAQ
from tests.helpers import PASSWORD, Chat

BOT_ON = {"enabled": True}
ADMIN = "admin@example.fi"
ANSWERS = {"fi": "Korjaamme levysoittimia verstaallamme.",
           "sv": "Vi lagar skivspelare i vår verkstad.",
           "en": "We fix turntables in our workshop."}
REPAIRS: dict[str, Any] = {"id": "repairs",
           "fi": {"title": "Korjaukset", "questions": ["Huollatteko levysoittimia?"],
                  "answer": ANSWERS["fi"]},
           "sv": {"title": "Reparationer", "questions": ["Servar ni skivspelare?"],
                  "answer": ANSWERS["sv"]},
           "en": {"title": "Repairs", "questions": ["Do you service turntables?"],
                  "answer": ANSWERS["en"]}}
UNSURE = "Do you repair vintage gramophones?"


def example() -> list[dict[str, Any]]:
    return bot_faq.to_data(bot_faq.load(EXAMPLE_FAQ))


async def api(http: aiohttp.ClientSession, chat: Chat, method: str, path: str,
              body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"X-CSRF-Token": http.headers_csrf}  # type: ignore[attr-defined]
    async with http.request(method, chat.url + path, json=body, headers=headers) as response:
        return response.status, await response.json()


async def admin(chat: Chat) -> aiohttp.ClientSession:
    await chat.add_agent(ADMIN, "Aada", role="admin")
    return await chat.login(ADMIN)


async def ask(visitor: Any, number: int, text: str) -> dict[str, Any]:
    """The bot's reply to `text` (its last message after the ack)."""
    sent = await visitor.call("message", {"client_id": f"c{number}", "text": text})
    assert sent["ok"], sent
    seq = sent["message"]["seq"]
    while True:
        reply = await visitor.next("message", where=lambda m: m["author"]["kind"] == "bot")
        if reply["seq"] > seq and "Hello! I am" not in reply["text"]:
            return dict(reply)


async def test_a_saved_entry_is_answered_at_once_and_the_save_is_audited(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    http = await admin(chat)
    status, found = await api(http, chat, "GET", "/api/v1/faq")
    assert status == 200, found
    assert (found["source"], found["read_only"], found["version"]) == ("example", False, None)
    assert found["entries"] == example() and found["labelled"]
    visitor = await chat.visitor("en")
    assert (await ask(visitor, 1, UNSURE))["text"] != ANSWERS["en"]

    draft = [*example(), REPAIRS]
    status, tried = await api(http, chat, "POST", "/api/v1/faq/try",
                              {"entries": draft, "language": "en", "question":
                               "Do you service turntables at your shop?"})
    assert status == 200, tried
    assert (tried["draft"]["kind"], tried["draft"]["entry_id"]) == ("answer", "repairs")
    assert tried["draft"]["answer"] == ANSWERS["en"] and tried["draft"]["candidates"]
    assert tried["live"]["entry_id"] != "repairs"

    status, saved = await api(http, chat, "PUT", "/api/v1/faq",
                              {"entries": draft, "labelled": found["labelled"]})
    assert status == 200, saved
    assert saved["version"] >= 1
    assert (await ask(visitor, 2, "Do you service turntables?"))["text"] == ANSWERS["en"]

    status, now = await api(http, chat, "GET", "/api/v1/faq")
    assert (now["source"], now["version"], now["saved_by"]) == ("database", saved["version"],
                                                                "Aada")
    assert now["entries"] == draft
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(AuditEvent).where(
            AuditEvent.action == "faq.save"))).all()
    assert [r.target_id for r in rows] == [str(saved["version"])]
    detail = json.loads(rows[0].detail)
    assert detail["entries"] == len(draft) and detail["confirmed"] is False
    for text in ANSWERS.values():
        assert all(text not in repr(vars(r)) for r in rows)


async def test_a_save_that_lowers_the_labelled_score_needs_confirmation(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    http = await admin(chat)
    labelled = [{"language": "en", "question": "How long does delivery take?",
                 "expected": "delivery_time"},
                {"language": "en", "question": UNSURE, "expected": "none"}]
    status, first = await api(http, chat, "PUT", "/api/v1/faq",
                              {"entries": example(), "labelled": labelled})
    assert status == 200, first
    assert first["after"]["right"] == 2
    worse = [e for e in example() if e["id"] != "delivery_time"]
    status, measured = await api(http, chat, "POST", "/api/v1/faq/evaluate",
                                 {"entries": worse, "labelled": labelled})
    assert status == 200, measured
    assert measured["before"]["languages"]["en"] == {"right": 2, "wrong": 0, "handed_off": 0}
    assert measured["after"]["right"] == 1

    status, refused = await api(http, chat, "PUT", "/api/v1/faq",
                                {"entries": worse, "labelled": labelled})
    assert (status, refused["error"]["code"]) == (409, "conflict"), refused
    assert "2" in refused["error"]["message"] and "1" in refused["error"]["message"]
    assert refused["error"]["field"] == "confirm"
    status, found = await api(http, chat, "GET", "/api/v1/faq")
    assert found["version"] == first["version"] and found["entries"] == example()

    status, saved = await api(http, chat, "PUT", "/api/v1/faq",
                              {"entries": worse, "labelled": labelled, "confirm": True,
                               "base_version": first["version"]})
    assert status == 200, saved
    status, stale = await api(http, chat, "PUT", "/api/v1/faq",
                              {"entries": worse, "labelled": labelled,
                               "base_version": first["version"]})
    assert (status, stale["error"]["code"]) == (409, "conflict")


async def test_the_files_checks_name_the_entry_and_the_field(chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    http = await admin(chat)
    broken = [*example(), {**REPAIRS, "en": {**REPAIRS["en"], "answer":
                                             "See <a href='x'>here</a>"}}]
    status, refused = await api(http, chat, "PUT", "/api/v1/faq", {"entries": broken})
    assert (status, refused["error"]["code"]) == (400, "invalid_input")
    assert f"Entry {len(broken)}" in refused["error"]["message"]
    assert "en.answer" in refused["error"]["message"]
    assert refused["error"]["field"] == f"entries.{len(broken) - 1}.en.answer"
    duplicate = [*example(), {**REPAIRS, "id": "hello"}]
    status, refused = await api(http, chat, "POST", "/api/v1/faq/try",
                                {"entries": duplicate, "language": "fi", "question": "Hei"})
    assert status == 400 and "“id”" in refused["error"]["message"], refused


async def test_with_an_faq_file_the_editor_is_read_only_and_says_why(
        chat_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    path.write_text(bot_faq.to_toml(bot_faq.load(EXAMPLE_FAQ)), encoding="utf-8")
    chat: Chat = await chat_factory(bot={"enabled": True, "faq_file": str(path)})
    http = await admin(chat)
    status, found = await api(http, chat, "GET", "/api/v1/faq")
    assert (found["source"], found["read_only"]) == ("file", True), found
    assert "bot.faq_file" in found["read_only_reason"]
    status, refused = await api(http, chat, "PUT", "/api/v1/faq",
                                {"entries": [*example(), REPAIRS]})
    assert (status, refused["error"]["code"]) == (409, "conflict")
    assert "bot.faq_file" in refused["error"]["message"]


async def review(http: aiohttp.ClientSession, chat: Chat) -> dict[str, dict[str, Any]]:
    status, found = await api(http, chat, "GET", "/api/v1/faq/review")
    assert status == 200, found
    return {item["text"]: item for group in found["groups"] for item in group["items"]}


async def test_a_handed_off_question_added_as_an_example_is_answered_afterwards(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    http = await admin(chat)
    status, saved = await api(http, chat, "PUT", "/api/v1/faq",
                              {"entries": [*example(), REPAIRS]})
    assert status == 200, saved
    visitor = await chat.visitor("en")
    clock = "Can you tune my grandfather clock, serial 4471239?"
    assert (await ask(visitor, 1, UNSURE))["text"] != ANSWERS["en"]
    assert (await ask(visitor, 2, clock))["text"] != ANSWERS["en"]
    items = await review(http, chat)
    assert set(items) == {UNSURE, clock}
    assert items[clock]["flags"] == ["digits"] and items[UNSURE]["flags"] == []

    # A question with a long number is not copied.
    status, refused = await api(http, chat, "POST", f"/api/v1/faq/review/{items[clock]['id']}",
                                {"action": "labelled"})
    assert (status, refused["error"]["code"]) == (400, "invalid_input"), refused
    status, done = await api(http, chat, "POST", f"/api/v1/faq/review/{items[UNSURE]['id']}",
                             {"action": "example", "entry_id": "repairs"})
    assert status == 200, done
    assert done["saved"]["version"] > saved["version"]
    assert (await ask(visitor, 3, UNSURE))["text"] == ANSWERS["en"]
    status, found = await api(http, chat, "GET", "/api/v1/faq")
    repairs = next(e for e in found["entries"] if e["id"] == "repairs")
    assert repairs["en"]["questions"] == ["Do you service turntables?", UNSURE]

    status, done = await api(http, chat, "POST", f"/api/v1/faq/review/{items[clock]['id']}",
                             {"action": "dismiss"})
    assert (status, done["saved"]) == (200, None)
    assert set(await review(http, chat)) == set()  # dismissed, answered: neither comes back
    status, again = await api(http, chat, "POST", f"/api/v1/faq/review/{items[clock]['id']}",
                              {"action": "dismiss"})
    assert status == 404
    async with chat.ctx.db() as session:
        rows = (await session.exec(select(AuditEvent).where(
            col(AuditEvent.action).startswith("faq.")).order_by(col(AuditEvent.id)))).all()
    assert [(r.action, json.loads(r.detail).get("how")) for r in rows] == [
        ("faq.save", "editor"), ("faq.review.read", None), ("faq.save", "review.example"),
        ("faq.review.dismiss", None), ("faq.review.read", None)]
    assert all(UNSURE not in r.detail and ANSWERS["en"] not in r.detail for r in rows)


async def test_questions_near_no_entry_are_grouped_by_similar_wording(chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    http = await admin(chat)
    for number, text in enumerate(("Do you repair vintage gramophones?",
                                   "Which gramophones do you repair?",
                                   "Can you tune my grandfather clock?")):
        await ask(await chat.visitor("en"), number, text)
    status, found = await api(http, chat, "GET", "/api/v1/faq/review")
    assert status == 200, found
    groups = {g["wording"]: sorted(i["text"] for i in g["items"]) for g in found["groups"]}
    assert groups.pop("gramophones") == ["Do you repair vintage gramophones?",
                                         "Which gramophones do you repair?"]
    assert list(groups.values()) == [["Can you tune my grandfather clock?"]]


async def test_the_review_list_disappears_with_erased_and_purged_conversations(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    http = await admin(chat)
    erased, kept = await chat.visitor("en"), await chat.visitor("fi")
    await ask(erased, 1, UNSURE)
    await ask(kept, 1, "Voitteko korjata gramofonin?")
    assert len(await review(http, chat)) == 2
    assert (await erased.call("erase", {}))["ok"]
    assert set(await review(http, chat)) == {"Voitteko korjata gramofonin?"}
    await retention.purge(chat.ctx, chat.ctx.clock() + timedelta(days=400))
    assert await faq_review.review_items(chat.ctx) == []  # (the admin's session is purged too)
    async with chat.ctx.db() as session:
        assert (await session.exec(select(BotDecision))).all() == []


def test_the_editor_flags_what_looks_personal() -> None:
    assert faq_review.flags("Mail me at matti.m@example.fi") == ["email"]
    assert faq_review.flags("Soita 040 123 4567") == ["phone"]
    assert faq_review.flags("Tilaus 1234567 ei tullut") == ["digits"]
    assert faq_review.flags("Kuinka kauan toimitus kestää 2-3 päivää?") == []


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CHATSERVER_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "chatserver", *args], capture_output=True,
                          text=True, env=environment, timeout=120)


def test_import_and_export_round_trip_exactly(tmp_path: Path) -> None:
    entries = bot_faq.load(EXAMPLE_FAQ)
    data = bot_faq.to_data(entries)
    data[1]["disabled"] = True
    data[2]["en"]["answer"] = 'Two lines:\n"quoted" \\ back\tslash, ä ö å €'
    source = tmp_path / "in.toml"
    source.write_text(bot_faq.to_toml(bot_faq.from_data(data)), encoding="utf-8")
    labelled = tmp_path / "in.tsv"
    labelled.write_text("fi\tKuinka kauan toimitus kestää?\tdelivery_time\n"
                        "en\tDo you sell bicycles?\tnone\n", encoding="utf-8")
    assert run(tmp_path, "migrate").returncode == 0
    done = run(tmp_path, "bot", "import", str(source), "--labelled", str(labelled))
    assert done.returncode == 0, done.stderr
    assert "stored as FAQ version 1" in done.stdout
    out, out_labelled = tmp_path / "out.toml", tmp_path / "out.tsv"
    done = run(tmp_path, "bot", "export", "--output", str(out), "--labelled", str(out_labelled))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == source.read_bytes()
    assert out_labelled.read_bytes() == labelled.read_bytes()
    assert bot_faq.to_data(bot_faq.load(out)) == data
    # And back: the exported file imported again is the same FAQ.
    assert run(tmp_path, "bot", "import", str(out)).returncode == 0
    again = run(tmp_path, "bot", "export")
    assert again.stdout == source.read_text(encoding="utf-8")


async def test_the_agent_who_takes_over_sees_what_the_assistant_did(chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    agent = await chat.agent("anna@example.fi", "Anna")
    visitor = await chat.visitor("en")
    answered = await ask(visitor, 1, "How long does delivery take?")
    assert "Hello! I am" not in answered["text"]
    await ask(visitor, 2, UNSURE)  # an agent is online: handed off to the queue
    queued = await agent.next("queue", where=lambda q: q["conversations"])
    conversation_id = queued["conversations"][0]["id"]
    claimed = await agent.call("claim", {"conversation_id": conversation_id})
    assert claimed["ok"], claimed
    title = bot.live(chat.ctx).titles[("delivery_time", "en")]
    assert [(a["seq"], a["kind"], a["entry_id"], a["title"]) for a in claimed["assistant"]] == [
        (1, "answer", "delivery_time", title), (4, "unsure", None, None)]
    history = await agent.call("history", {"conversation_id": conversation_id, "after_seq": 0})
    assert history["assistant"] == claimed["assistant"]
    async with agent.http.get(f"{chat.url}/api/v1/conversations/{conversation_id}") as response:
        read = await response.json()
    assert read["conversation"]["assistant"] == claimed["assistant"]


async def test_a_refusal_is_in_the_admins_language_and_names_the_field(
        chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    await agents.create_agent(chat.ctx, ADMIN, "Aada", PASSWORD, "admin", "fi")
    http = await chat.login(ADMIN)
    broken = [{**REPAIRS, "fi": {**REPAIRS["fi"], "answer": "Katso javascript:alert(1)"}}]
    status, refused = await api(http, chat, "PUT", "/api/v1/faq", {"entries": broken})
    assert status == 400, refused
    assert refused["error"]["message"] == (
        "Kysymys 1, ”fi.answer”: fi.answer: sisältää javascript:-linkin; vain https://-, "
        "http://- ja mailto:-linkit ovat sallittuja")
    assert refused["error"]["field"] == "entries.0.fi.answer"


async def test_the_visitors_export_has_what_the_assistant_decided(chat_factory: Any) -> None:
    chat: Chat = await chat_factory(bot=BOT_ON)
    visitor = await chat.visitor("en")
    await ask(visitor, 1, "How long does delivery take?")
    exported = await visitor.call("export", {})
    assert exported["ok"], exported
    (conversation,) = exported["data"]["conversations"]
    assert [(d["kind"], d["entry_id"]) for d in conversation["assistant"]] == [
        ("answer", "delivery_time")]
    assert conversation["assistant"][0]["message_id"] == conversation["messages"][0]["id"]


async def test_a_broken_faq_file_is_reported_not_crashed_on(
        chat_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    path.write_text(bot_faq.to_toml(bot_faq.load(EXAMPLE_FAQ)), encoding="utf-8")
    chat: Chat = await chat_factory(bot={"enabled": True, "faq_file": str(path)})
    http = await admin(chat)
    path.write_text("[[entry]]\nid = 'x'\n[entry.fi]\nanwser = 'oops'\n", encoding="utf-8")
    status, refused = await api(http, chat, "GET", "/api/v1/faq")
    assert (status, refused["error"]["code"]) == (503, "unavailable"), refused
    assert "anwser" in refused["error"]["message"]
