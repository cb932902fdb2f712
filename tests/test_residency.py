"""The EU residency check at start-up (DESIGN.md §5.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatserver.app import create_app
from chatserver.cli import main
from chatserver.services.privacy import residency
from chatserver.settings import ConfigError, Settings, load_settings


def settings(**overrides: Any) -> Settings:
    return load_settings(environ={}, overrides=overrides)


MAIL_US = {"name": "Mail Inc", "role": "email", "country": "US", "endpoint": "smtp.mail.example"}
MAIL_DE = {"name": "Mail GmbH", "role": "email", "country": "DE", "endpoint": "smtp.mail.example"}


def test_smtp_host_declared_outside_the_eu_is_refused() -> None:
    config = settings(smtp={"host": "smtp.mail.example"}, privacy={"processors": [MAIL_US]})
    problems = residency.problems(config)
    assert len(problems) == 1
    assert "smtp.host points to smtp.mail.example" in problems[0]
    assert "privacy.processors[0].country" in problems[0] and "US" in problems[0]
    with pytest.raises(ConfigError, match="smtp.host"):
        residency.enforce(config)
    with pytest.raises(ConfigError, match="outside the EU/EEA"):
        create_app(config)


def test_undeclared_smtp_host_is_refused() -> None:
    config = settings(smtp={"host": "smtp.elsewhere.example"}, privacy={"processors": [MAIL_DE]})
    with pytest.raises(ConfigError) as refused:
        residency.enforce(config)
    message = str(refused.value)
    assert "smtp.host points to smtp.elsewhere.example" in message
    assert "not declared" in message and "[[privacy.processors]]" in message


def test_declared_eu_endpoints_and_loopback_pass() -> None:
    residency.enforce(settings(smtp={"host": "smtp.mail.example"},
                               privacy={"processors": [MAIL_DE]}))
    residency.enforce(settings(smtp={"host": "127.0.0.1"}, redis_url="redis://localhost:6379/0",
                               database_url="postgresql+asyncpg://chat@[::1]/chat"))
    residency.enforce(settings())  # SQLite file on the operator's own premises


def test_database_and_redis_hosts_are_checked_too() -> None:
    config = settings(database_url="postgresql+asyncpg://chat@db.cloud.example/chat",
                      redis_url="redis://cache.cloud.example:6379/0",
                      privacy={"processors": [
                          {"name": "Cloud", "role": "database", "country": "CH",
                           "endpoint": "db.cloud.example"}]})
    problems = residency.problems(config)
    assert any(p.startswith("database_url points to db.cloud.example") and "CH" in p
               for p in problems)
    assert any(p.startswith("redis_url points to cache.cloud.example") and "not declared" in p
               for p in problems)


def test_enforce_eu_false_allows_the_transfer_and_only_logs() -> None:
    config = settings(smtp={"host": "smtp.mail.example"},
                      privacy={"processors": [MAIL_US], "enforce_eu": False})
    residency.enforce(config)
    assert residency.problems(config)


def test_production_refuses_the_example_controller() -> None:
    with pytest.raises(ConfigError, match="privacy.controller.name"):
        residency.enforce(settings(environment="production"))
    residency.enforce(settings(environment="production", privacy={"controller": {
        "name": "Oikea Oy", "email": "tietosuoja@oikea.fi", "business_id": "7654321-0",
        "address": "Katu 2, Turku"}}))


def test_bad_privacy_values_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"privacy\.retention\.conversations"):
        settings(privacy={"retention": {"conversations": 0}})
    with pytest.raises(ConfigError, match=r"privacy\.processors\.0\.country"):
        settings(privacy={"processors": [{"name": "X", "role": "email", "country": "ZZ"}]})


def test_serve_stops_with_the_key_to_fix(tmp_path: Path) -> None:
    config = tmp_path / "chat.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[smtp]\nhost = "smtp.mail.example"\n')
    with pytest.raises(SystemExit) as stopped:
        main(["--config", str(config), "serve", "--port", "1"])
    assert "smtp.host points to smtp.mail.example" in str(stopped.value)
    assert "[[privacy.processors]]" in str(stopped.value)
