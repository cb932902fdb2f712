"""Fixtures that start the real application on a real port, with real socket.io clients; what
they build on is in tests/helpers.py."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chatserver.app import create_app
from chatserver.db import migrate
from chatserver.settings import Settings
from tests.helpers import Chat, free_port, make_settings


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once from empty with Alembic; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "chatserver.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def settings_factory(tmp_path: Path, template_database: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        database = tmp_path / "chatserver.db"
        if not database.exists():
            shutil.copy(template_database, database)
        return make_settings(tmp_path, free_port(), **overrides)

    return factory


@pytest.fixture
async def chat_factory(aiohttp_server: Any, settings_factory: Callable[..., Settings]
                       ) -> AsyncIterator[Callable[..., Any]]:
    started: list[Chat] = []

    async def factory(clock: Callable[[], Any] | None = None, **overrides: Any) -> Chat:
        settings = settings_factory(**overrides)
        app = create_app(settings, clock=clock)
        server = await aiohttp_server(app, port=settings.port)
        chat = Chat(server, settings, app)
        started.append(chat)
        return chat

    yield factory
    for chat in started:
        await chat.close()


@pytest.fixture
async def chat(chat_factory: Callable[..., Any]) -> Chat:
    return await chat_factory()


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    from tests.servers import PostgresServer

    try:
        server = PostgresServer()
        server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"PostgreSQL cannot run here: {exc} {detail.decode(errors='replace')[:300]}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any, request: pytest.FixtureRequest) -> str:
    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:50].lower()
    return str(postgres_server.create_database(name + "_" + str(free_port())))


@pytest.fixture
async def migrated_postgres_url(postgres_url: str) -> str:
    """`postgres_url`, migrated to the latest schema."""
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings overrides for SQLite (the test's own file), then for a migrated PostgreSQL
    database: for what the two databases do differently (upserts, the message batch)."""
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("migrated_postgres_url")}


@pytest.fixture(scope="session")
def redis_server() -> Any:
    from tests.servers import RedisServer

    try:
        server = RedisServer()
        server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"Redis cannot run here: {exc}")
    yield server
    server.stop()
