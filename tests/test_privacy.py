"""The privacy notice is generated from the configuration (DESIGN.md §5.1, §5.2), served as HTML
and JSON, published once per version, and acknowledged before anything is stored."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from sqlalchemy import func, select
from sqlmodel import SQLModel

from chatserver.db.models import Conversation, NoticeVersion
from chatserver.i18n import Translator
from chatserver.services.privacy import notice
from chatserver.services.privacy.notice_render import SECTION_IDS, Features
from chatserver.settings import LANGUAGES, Settings, load_settings
from tests.helpers import Chat

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "chatserver" / "locales"
NOTICE_SOURCES = ("chatserver/services/privacy/notice_render.py", "chatserver/http/privacy.py")
TRANSLATOR = Translator()


def settings(**privacy: Any) -> Settings:
    return load_settings(environ={}, overrides={"privacy": privacy} if privacy else None)


def text_of(content: dict[str, Any], section_id: str) -> str:
    section = next(s for s in content["sections"] if s["id"] == section_id)
    return json.dumps(section, ensure_ascii=False)


def test_retention_setting_changes_notice_text_and_version() -> None:
    default = notice.build(settings(), TRANSLATOR)
    shorter = notice.build(settings(retention={"conversations": 30}), TRANSLATOR)
    assert default.version != shorter.version
    assert "60 päivää" in text_of(default.content["fi"], "retention")
    assert "30 päivää" in text_of(shorter.content["fi"], "retention")
    assert "30 dagar" in shorter.content["sv"]["summary"]
    assert "30 days" in shorter.content["en"]["summary"]
    emails = notice.build(settings(retention={"sent_emails": 1}), TRANSLATOR)
    assert emails.version != default.version
    assert "one day" in text_of(emails.content["en"], "retention")


def test_transcript_email_switch_changes_notice_text_and_version() -> None:
    on = notice.build(settings(), TRANSLATOR, Features(transcript=True))
    off = notice.build(settings(), TRANSLATOR, Features(transcript=False))
    assert on.version != off.version
    assert "transcript" in text_of(on.content["en"], "data")
    assert "transcript" not in json.dumps(off.content["en"])
    assert "keskusteluhistorian" in text_of(on.content["fi"], "purpose").lower()
    assert "keskusteluhistorian" not in text_of(off.content["fi"], "purpose").lower()


@pytest.mark.parametrize(("switch", "words"), [
    ("collect_user_agent", "user agent"),
    ("collect_page_url", "address of the web page"),
])
def test_metadata_switch_changes_notice_text_and_version(switch: str, words: str) -> None:
    off = notice.build(settings(), TRANSLATOR)
    on = notice.build(settings(**{switch: True}), TRANSLATOR)
    assert on.version != off.version
    assert words in text_of(on.content["en"], "data")
    assert words not in text_of(off.content["en"], "data")
    assert "see the full notice" in on.content["en"]["summary"]


def test_processors_and_transfers_come_from_the_configuration() -> None:
    eu = notice.build(settings(processors=[
        {"name": "Hosting Oy", "role": "hosting", "country": "FI"}]), TRANSLATOR)
    abroad = notice.build(settings(enforce_eu=False, processors=[
        {"name": "Hosting Oy", "role": "hosting", "country": "FI"},
        {"name": "Mail Inc", "role": "email", "country": "US", "endpoint": "smtp.mail.example"}]),
        TRANSLATOR)
    assert "Hosting Oy" in text_of(eu.content["fi"], "disclosures")
    assert "Yhdysvallat" in text_of(abroad.content["fi"], "transfers")
    assert "Mail Inc: e-postleverans, USA" in text_of(abroad.content["sv"], "disclosures")
    assert "is not transferred outside" in text_of(eu.content["en"], "transfers")
    assert "is transferred outside the EU/EEA, to: United States" in \
        text_of(abroad.content["en"], "transfers")


def test_every_language_renders_every_section() -> None:
    rendered = notice.build(settings(collect_user_agent=True, collect_page_url=True), TRANSLATOR,
                            Features(transcript=True, offline_form=True, bot=True))
    for language in LANGUAGES:
        content = rendered.content[language]
        assert [s["id"] for s in content["sections"]] == list(SECTION_IDS)
        assert content["title"] and content["summary"]
        for section in content["sections"]:
            assert section["title"], (language, section["id"])
            assert section["fields"] or section["paragraphs"] or section["items"], section["id"]
    english = json.dumps(rendered.content["en"], ensure_ascii=False)
    for language in ("fi", "sv"):
        translated = json.dumps(rendered.content[language], ensure_ascii=False)
        # No English sentence of the notice is left in a translated notice.
        for msgid in notice_msgids():
            if len(msgid) > 25 and "{" not in msgid and msgid in english:
                assert msgid not in translated, (language, msgid)


def notice_msgids() -> set[str]:
    found = set()
    for source in NOTICE_SOURCES:
        for _line, msgid, _comments, _context in extract_from_file(
                "python", str(ROOT / source), keywords={"_": None}):
            found.add(msgid)
    return found


def read_catalog(path: Path, locale: str | None = None) -> Any:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def test_every_notice_message_is_in_the_template_and_translated() -> None:
    template = read_catalog(LOCALES / "messages.pot")
    assert notice_msgids() <= {m.id for m in template if m.id}, "run `make i18n`"
    for language in ("fi", "sv"):
        catalog = read_catalog(LOCALES / language / "LC_MESSAGES" / "messages.po",
                               language)
        for msgid in notice_msgids():
            assert msgid in catalog and catalog[msgid].string, (language, msgid)


def test_catalogs_match_the_template_and_translate_every_message() -> None:
    template = read_catalog(LOCALES / "messages.pot")
    template_ids = {m.id for m in template if m.id}
    for language in ("fi", "sv", "en"):
        catalog = read_catalog(LOCALES / language / "LC_MESSAGES" / "messages.po",
                               language)
        ids = {m.id for m in catalog if m.id}
        assert ids == template_ids, f"{language} catalog differs from the template: make i18n"
        if language != "en":
            untranslated = [m.id for m in catalog if m.id and not m.string]
            assert not untranslated, (language, untranslated[:5])


async def test_notice_is_served_as_html_and_json_with_the_same_sections(chat: Chat) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{chat.url}/privacy?lang=sv") as response:
            assert response.status == 200
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            page = await response.text()
        async with http.get(f"{chat.url}/api/v1/privacy-notice?lang=sv") as response:
            data = await response.json()
        async with http.get(f"{chat.url}/api/v1/widget/config?lang=sv") as response:
            config = await response.json()
    assert '<html lang="sv">' in page and "<main>" in page and "<h1>" in page
    assert [s["id"] for s in data["sections"]] == list(SECTION_IDS)
    for section in data["sections"]:
        assert f'<h2 id="s-{section["id"]}">{section["title"]}</h2>' in page
    assert re.search(r"Publicerad \d+ \w+ 20\d\d", page), "the publication date in Swedish"
    assert data["published_at"].endswith("Z") and data["current"] is True
    assert set(config["notice"]) == {"version", "title", "summary", "url"}
    assert config["notice"]["version"] == data["version"]
    assert config["notice"]["summary"] == data["summary"]
    assert config["notice"]["url"].endswith("/privacy?lang=sv")
    assert config["features"] == {"transcript": True, "offline_form": True,
                                  "bot": chat.settings.bot.enabled, "rating": False}


async def count_rows(chat: Chat, model: Any) -> int:
    async with chat.ctx.db() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one()[0])


async def test_each_version_is_published_once_with_its_full_text(chat: Chat) -> None:
    first = notice.current_version(chat.ctx)
    assert await count_rows(chat, NoticeVersion) == 3  # published at start-up, per language
    await notice.publish(chat.ctx)
    assert await count_rows(chat, NoticeVersion) == 3
    chat.ctx.settings.privacy.retention.conversations = 14
    second = await notice.publish(chat.ctx)
    assert second != first and await count_rows(chat, NoticeVersion) == 6
    async with aiohttp.ClientSession() as http, http.get(
            f"{chat.url}/api/v1/privacy-notice?lang=en&version={first}") as response:
        old = await response.json()
    assert old["current"] is False and old["version"] == first
    assert "60 days" in text_of(old, "retention")
    async with aiohttp.ClientSession() as http, http.get(
            f"{chat.url}/api/v1/privacy-notice?lang=en&version=nonexistent") as response:
        assert response.status == 404


async def all_row_counts(chat: Chat) -> dict[str, int]:
    counts = {}
    async with chat.ctx.db() as session:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = int(
                (await session.exec(select(func.count()).select_from(table))).one()[0])
    return counts


async def refused(chat: Chat, auth: dict[str, Any]) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/visitor")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(chat.url, namespaces=["/visitor"], transports=["websocket"],
                             auth=auth, wait_timeout=5)
    assert errors
    return dict(errors[0]["data"])


async def test_stale_or_missing_version_is_refused_and_nothing_is_stored(chat: Chat) -> None:
    before = await all_row_counts(chat)
    current = notice.current_version(chat.ctx)
    for auth in ({"lang": "fi"}, {"lang": "fi", "notice_version": "0123456789abcdef"},
                 {"lang": "sv", "notice_version": "", "token": "made-up-token"}):
        error = await refused(chat, auth)
        assert error["code"] == "notice_required" and error["message"]
        assert error["notice"]["version"] == current
        assert error["notice"]["summary"] and error["notice"]["url"]
    assert await all_row_counts(chat) == before


async def test_a_new_notice_does_not_cut_an_open_chat(chat: Chat) -> None:
    old = notice.current_version(chat.ctx)
    visitor = await chat.visitor("fi", notice_version=old)
    sent = await visitor.call("message", {"client_id": "1", "text": "ennen muutosta"})
    assert sent["ok"] is True
    chat.ctx.settings.privacy.collect_page_url = True  # a new notice is published
    new = await notice.publish(chat.ctx)
    assert new != old
    after = await visitor.call("message", {"client_id": "2", "text": "muutoksen jälkeen"})
    assert after["ok"] is True, after
    # Reconnecting to the open chat under the notice it was started with is allowed.
    resumed = await chat.visitor("fi", token=visitor.welcome["token"], notice_version=old)
    assert resumed.welcome["conversation"]["id"] == sent["conversation"]["id"]
    # A new conversation needs the new notice.
    error = await refused(chat, {"lang": "fi", "notice_version": old})
    assert error["notice"]["version"] == new
    fresh = await chat.visitor("fi", notice_version=new)
    assert fresh.welcome["conversation"] is None


def test_bot_switch_changes_notice_text_and_version() -> None:
    on = notice.build(settings(), TRANSLATOR, Features(bot=True))
    off = notice.build(settings(), TRANSLATOR, Features(bot=False))
    assert on.version != off.version
    assert "automatic assistant" in text_of(on.content["en"], "sources")
    assert "automatic assistant" not in json.dumps(off.content["en"])


async def stored_metadata(chat: Chat) -> tuple[str | None, str | None]:
    version = notice.current_version(chat.ctx)
    client = socketio.AsyncClient(reconnection=False)
    chat.clients.append(client)
    await client.connect(chat.url, namespaces=["/visitor"], transports=["websocket"],
                         headers={"User-Agent": "TestBrowser/1.0 (X11)"}, wait_timeout=5,
                         auth={"lang": "fi", "notice_version": version,
                               "page_url": "https://shop.example.fi/tuote?email=a@b.fi#x"})
    sent = await client.call("message", {"client_id": "m", "text": "hei"}, namespace="/visitor",
                             timeout=5)
    async with chat.ctx.db() as session:
        row = await session.get(Conversation, sent["conversation"]["id"])
    assert row is not None
    return row.user_agent, row.page_url


async def test_metadata_is_stored_only_when_switched_on(chat_factory: Any) -> None:
    off = await chat_factory()
    assert await stored_metadata(off) == (None, None)
    on = await chat_factory(privacy={"collect_user_agent": True, "collect_page_url": True})
    assert await stored_metadata(on) == ("TestBrowser/1.0 (X11)", "https://shop.example.fi/tuote")
