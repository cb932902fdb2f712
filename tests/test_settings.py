"""Configuration: one validated object from TOML and CHATSERVER_* variables; bad values name the
key and the expected form."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatserver.settings import ConfigError, load_settings


def test_runs_with_no_file_at_all() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite+aiosqlite:///data/chatserver.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.socket_origins == ["http://127.0.0.1:8080"]


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "chat.toml"
    config.write_text('port = 9000\nallowed_origins = ["https://shop.example.fi/"]\n'
                      "[limits]\nmax_message_chars = 2000\n")
    settings = load_settings(config, environ={"CHATSERVER_LIMITS__MAX_MESSAGE_CHARS": "1500",
                                              "CHATSERVER_HOST": "0.0.0.0"})
    assert settings.port == 9000 and settings.host == "0.0.0.0"
    assert settings.limits.max_message_chars == 1500
    assert settings.allowed_origins == ["https://shop.example.fi"]
    env_file = load_settings(environ={"CHATSERVER_CONFIG": str(config),
                                      "CHATSERVER_ALLOWED_ORIGINS": "https://a.fi, https://b.fi"})
    assert env_file.port == 9000
    assert env_file.allowed_origins == ["https://a.fi", "https://b.fi"]


@pytest.mark.parametrize("environ,expected", [
    ({"CHATSERVER_PORT": "eighty"}, "configuration: port: "),
    ({"CHATSERVER_PORT": "70000"}, "CHATSERVER_PORT"),
    ({"CHATSERVER_DATABASE_URL": "mysql://x"}, "database_url: expected sqlite+aiosqlite"),
    ({"CHATSERVER_ALLOWED_ORIGINS": "shop.example.fi"}, "is not an origin"),
    ({"CHATSERVER_TIME_ZONE": "Mars/Olympus"}, "time_zone: expected an IANA time zone"),
    ({"CHATSERVER_LIMITS__MAX_MESSAGE_CHARS": "0"}, "limits.max_message_chars"),
    ({"CHATSERVER_PRESENCE__TIMEOUT_SECONDS": "1"}, "heartbeat_seconds"),
    ({"CHATSERVER_REDIS_URL": "localhost:6379"}, "expected redis://HOST:PORT/DB"),
])
def test_bad_values_name_the_key(environ: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ=environ)
    assert expected in str(error.value)


def test_unknown_keys_and_broken_files_are_refused(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text("[limits]\nmax_mesage_chars = 10\n")
    with pytest.raises(ConfigError, match="unknown key 'limits.max_mesage_chars'"):
        load_settings(typo, environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})
