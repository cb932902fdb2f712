"""Backups and erasures that survive them (issue 19, DESIGN.md privacy rule 9): a restore from a
backup taken before an erasure (by the visitor, by an admin's request by address, or by the
purge) leaves the erased text and address out of the database's raw bytes before anything is
served; a backup taken under load is consistent; an encrypted backup needs its key; a backup of
a newer schema is refused in one line."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pyrage
import pytest

from chatserver.cli import main
from chatserver.db.models import Conversation
from chatserver.services.privacy import backup, retention, rights
from chatserver.settings import ConfigError
from tests.helpers import Chat
from tests.mailserver import Clock, all_sent, until

SECRET_TEXT = "salainen tilausnumero 4711-9"
ADDRESS = "erased.person@example.fi"


async def _conversation(chat: Chat, text: str = SECRET_TEXT, email: str | None = ADDRESS
                        ) -> tuple[Any, str]:
    visitor = await chat.visitor("fi")
    sent = await visitor.call("message", {"client_id": "c1", "text": text})
    assert sent["ok"], sent
    if email:
        assert (await visitor.call("transcript", {"email": email}))["ok"]
    return visitor, sent["message"]["conversation_id"]


def _gone(chat: Chat, *needles: str) -> bool:
    raw = chat.database_bytes()
    return all(needle.encode() not in raw for needle in needles)


async def test_a_restore_does_not_bring_back_what_a_visitor_erased(chat: Chat,
                                                                   tmp_path: Path) -> None:
    visitor, conversation_id = await _conversation(chat)
    await _conversation(chat, "toinen keskustelu jää", None)
    made = await backup.backup(chat.ctx, tmp_path / "backups")
    assert made.path.exists() and made.revision is not None
    assert (await visitor.call("erase", {}))["ok"]
    assert _gone(chat, SECRET_TEXT, ADDRESS)

    info, removed = await backup.restore(chat.ctx, made.path)
    assert info.created_at == made.created_at and removed >= 2  # the conversation, its message
    assert _gone(chat, SECRET_TEXT, ADDRESS)  # (its id stays, in the tombstone and the audit log)
    assert "toinen keskustelu jää".encode() in chat.database_bytes()  # the rest came back


async def test_a_restore_does_not_bring_back_an_admins_erasure_by_address(
        chat: Chat, tmp_path: Path) -> None:
    await _conversation(chat)
    other = await chat.visitor("fi")
    left = await other.call("offline_message", {"name": "Poistettava", "email": ADDRESS,
                                                "text": "viesti lomakkeella 5521"})
    assert left["ok"], left
    # The running test app's email worker would otherwise still be sending these while the
    # restore runs (a real restore runs with the server stopped): let it finish first.
    await until(lambda: all_sent(chat))
    made = await backup.backup(chat.ctx, tmp_path)
    erased = await rights.erase_by_email(chat.ctx, rights.Actor("cli"), ADDRESS)
    assert erased["conversations"] == 1 and erased["offline_messages"] == 1

    await backup.restore(chat.ctx, made.path)
    assert _gone(chat, SECRET_TEXT, ADDRESS, "viesti lomakkeella 5521", "Poistettava")


async def test_a_restore_does_not_bring_back_what_the_purge_deleted(
        chat_factory: Any, tmp_path: Path) -> None:
    clock = Clock()
    chat: Chat = await chat_factory(clock=clock)
    await _conversation(chat, email=None)
    made = await backup.backup(chat.ctx, tmp_path / "b")
    clock.advance(days=61)
    assert (await retention.purge(chat.ctx)).conversations == 1
    assert _gone(chat, SECRET_TEXT)
    await backup.restore(chat.ctx, made.path)
    assert _gone(chat, SECRET_TEXT)


async def test_a_database_file_copied_back_by_hand_is_cleaned_before_serving(
        chat_factory: Any, tmp_path: Path) -> None:
    """No restore command: an operator copies last night's file in place. The tombstones in
    the journal beside the database are applied at start-up, before the first connection."""
    chat: Chat = await chat_factory()
    visitor, _conversation_id = await _conversation(chat)
    made = await backup.backup(chat.ctx, tmp_path / "by-hand")
    assert (await visitor.call("erase", {}))["ok"]
    await chat.close()
    await chat.server.close()
    database = Path(chat.settings.database_url.split("///", 1)[1])
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(made.path, database)
    assert SECRET_TEXT.encode() in await asyncio.to_thread(database.read_bytes)  # back again

    again: Chat = await chat_factory()  # same data folder, same database file
    assert _gone(again, SECRET_TEXT, ADDRESS)
    async with again.ctx.db() as session:
        assert await session.get(Conversation, _conversation_id) is None


async def test_a_backup_taken_under_load_is_consistent(chat: Chat, tmp_path: Path) -> None:
    visitors = [await chat.visitor("fi") for _ in range(10)]
    stop = asyncio.Event()

    async def write(visitor: Any, n: int) -> int:
        sent = 0
        while not stop.is_set():
            ack = await visitor.call("message", {"client_id": f"{n}-{sent}", "text": f"m{sent}"})
            assert ack["ok"], ack
            sent += 1
            await asyncio.sleep(0.05)  # ten writers: about 200 messages a second
        return sent

    writers = [asyncio.create_task(write(v, n)) for n, v in enumerate(visitors)]
    await asyncio.sleep(0.5)
    made = await backup.backup(chat.ctx, tmp_path)
    await asyncio.sleep(0.3)
    stop.set()
    written = sum(await asyncio.gather(*writers))
    assert written > 100
    with sqlite3.connect(made.path) as db:
        orphans = db.execute("SELECT count(*) FROM message WHERE conversation_id NOT IN "
                             "(SELECT id FROM conversation)").fetchone()[0]
        gaps = db.execute("SELECT count(*) FROM (SELECT conversation_id, count(*) AS n, "
                          "max(seq) AS top, min(seq) AS low FROM message "
                          "GROUP BY conversation_id) WHERE n != top OR low != 1").fetchone()[0]
        stale = db.execute("SELECT count(*) FROM conversation c WHERE last_seq != (SELECT "
                           "count(*) FROM message m WHERE m.conversation_id = c.id)").fetchone()[0]
        stored = db.execute("SELECT count(*) FROM message").fetchone()[0]
    db.close()
    assert (orphans, gaps, stale) == (0, 0, 0)
    assert 0 < stored < written + 10  # a snapshot taken mid-way


async def test_an_encrypted_backup_needs_its_key(chat_factory: Any, tmp_path: Path) -> None:
    key = pyrage.x25519.Identity.generate()
    chat: Chat = await chat_factory(backup={"recipient": str(key.to_public())})
    await _conversation(chat, email=None)
    made = await backup.backup(chat.ctx, tmp_path / "enc")
    assert made.encrypted and made.path.name.endswith(".db.age")
    assert SECRET_TEXT.encode() not in made.path.read_bytes()
    with pytest.raises(ConfigError, match="is encrypted: give its private key"):
        await backup.restore(chat.ctx, made.path)
    wrong = tmp_path / "wrong.key"
    wrong.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    with pytest.raises(ConfigError, match="encrypted to another key"):
        await backup.restore(chat.ctx, made.path, wrong)
    right = tmp_path / "right.key"
    right.write_text(f"# created for the test\n{key}\n")
    info, _removed = await backup.restore(chat.ctx, made.path, right)
    assert info.revision is not None and SECRET_TEXT.encode() in chat.database_bytes()


async def test_a_backup_of_a_newer_schema_is_refused_in_one_line(chat: Chat,
                                                                 tmp_path: Path) -> None:
    made = await backup.backup(chat.ctx, tmp_path)
    with sqlite3.connect(made.path) as db:
        db.execute("UPDATE chatserver_backup SET revision = '9999'")
    db.close()
    with pytest.raises(ConfigError) as refused:
        await backup.restore(chat.ctx, made.path)
    message = str(refused.value)
    assert "newer schema (9999)" in message and "\n" not in message


def test_the_commands_back_up_and_restore(settings_factory: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_factory()
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{settings.data_dir}"\n[backup]\nfolder = "{tmp_path}/kept"\n')
    main(["--config", str(config), "backup"])
    (made,) = (tmp_path / "kept").glob("chatserver-*.db")
    assert str(made) in capsys.readouterr().out
    main(["--config", str(config), "restore", str(made), "--yes"])
    assert "restored" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="error: .* is not a chatserver backup"):
        bogus = tmp_path / "bogus.db"
        bogus.write_bytes(b"not a database")
        main(["--config", str(config), "restore", str(bogus), "--yes"])
