"""The one validated settings object, built at start-up from a TOML file and the environment.

Every key has a default and a help text; `docs/configuration.md` and the README's reference are
generated from these models (`chatserver config reference`), and a test keeps them in step.
A bad value stops start-up with one line that names the key and the expected form.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
import uuid
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from chatserver.settings.backup import BackupSettings
from chatserver.settings.bot import BotSettings
from chatserver.settings.chat import ChatSettings
from chatserver.settings.performance import PerformanceSettings
from chatserver.settings.privacy import PrivacySettings
from chatserver.settings.reports import RatingSettings, ReportsSettings
from chatserver.settings.section import Section
from chatserver.settings.smtp import SmtpSettings

ENV_PREFIX = "CHATSERVER_"
LANGUAGES = ("fi", "sv", "en")


class ConfigError(Exception):
    """A configuration problem, phrased so that the operator knows which key to fix."""



class LimitSettings(Section):
    max_message_chars: int = Field(
        4000, ge=1, le=100_000, description="Longest chat message, in characters after trimming."
    )
    max_event_bytes: int = Field(
        64_000,
        ge=1024,
        le=10_000_000,
        description="Largest socket.io packet the server accepts; "
        "larger ones close the connection.",
    )
    max_body_bytes: int = Field(
        64_000, ge=1024, le=10_000_000, description="Largest HTTP request body accepted."
    )
    events_per_second: float = Field(
        10.0, gt=0, description="Sustained rate of events one socket connection may send."
    )
    event_burst: int = Field(
        30, ge=1, description="How many events one connection may send at once before limiting."
    )
    history_page: int = Field(
        500, ge=1, le=10_000, description="Most messages returned by one `history` call."
    )
    offline_per_connection: int = Field(
        5, ge=1, description="Offline-form messages one widget connection may leave; "
        "more are refused with `rate_limited`."
    )
    offline_per_hour: int = Field(
        60, ge=1, description="Offline-form messages the whole site accepts per hour (all "
        "visitors together), so a flood cannot bury the team's mailbox; more are refused with "
        "`rate_limited`."
    )
    # Per client address, on each node (services/address_limits.py). Generous, because an
    # office or a mobile network shares one address among many honest visitors.
    visitor_connections_per_address: int = Field(
        50, ge=1, description="Widget connections one client address may hold open at once on "
        "one node; more are refused with `rate_limited`."
    )
    conversations_per_address_per_hour: int = Field(
        30, ge=1, description="New conversations one client address may start per hour on one "
        "node; more are refused with `rate_limited` (conversations already open go on)."
    )
    offline_per_address_per_hour: int = Field(
        10, ge=1, description="Offline-form messages one client address may leave per hour on "
        "one node, so that one sender cannot use up `offline_per_hour` for everybody."
    )


class AuthSettings(Section):
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="How long an agent's login session lasts."
    )
    login_window_minutes: float = Field(
        15.0, gt=0, description="Window over which failed logins are counted for throttling."
    )
    max_failures_per_account: int = Field(
        5, ge=1, description="Failed logins for one account within the window before throttling."
    )
    max_failures_per_address: int = Field(
        20,
        ge=1,
        description="Failed logins from one client address within the window before throttling.",
    )
    session_recheck_seconds: float = Field(
        2.0,
        ge=0,
        description="How long an agent socket trusts a checked session before checking it again; "
        "a logout or a disabled account stops sockets on every node within this time.",
    )
    require_second_factor: Literal["off", "admins", "everyone"] = Field(
        "off", description="Who must log in with a one-time code after the password: nobody "
        "(`off`; agents may still set one up), `admins`, or `everyone`. An agent under the "
        "policy without one is led to set it up at the next login and can do nothing else "
        "until done."
    )
    argon2_time_cost: int = Field(3, ge=1, description="argon2id iterations for password hashes.")
    argon2_memory_kib: int = Field(
        65536, ge=8, description="argon2id memory cost in KiB for password hashes."
    )
    argon2_parallelism: int = Field(4, ge=1, description="argon2id lanes for password hashes.")
    address_key: str = Field(
        "", description="Secret key for the hashes of client addresses and account names that "
        "login throttling keeps in the database (never the addresses themselves). Set the same "
        "value of at least 32 random characters on every node so that throttling counts across "
        "nodes; empty picks a random key at each start, which is right for one node. Prefer the "
        "CHATSERVER_AUTH__ADDRESS_KEY variable."
    )

    @field_validator("address_key")
    @classmethod
    def _check_address_key(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("use at least 32 random characters, or leave it empty")
        return value


class PresenceSettings(Section):
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="How often a node refreshes the presence of its agent connections."
    )
    timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="An agent connection not refreshed for this long counts as gone "
        "(the agents of a crashed node go offline after this).",
    )

    @model_validator(mode="after")
    def _timeout_exceeds_heartbeat(self) -> PresenceSettings:
        if self.timeout_seconds <= self.heartbeat_seconds:
            raise ValueError("presence.timeout_seconds must be larger than heartbeat_seconds")
        return self


class Settings(Section):
    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses development-only shortcuts."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the HTTP server listens on.")
    public_url: str = Field(
        "",
        description="The URL browsers use to reach this server (its origin is the console's and "
        "the widget's). Empty means http://HOST:PORT.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins of the host sites that may embed the widget, such as "
        "https://www.example.fi. The server's own origin is always allowed.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (such as 10.0.0.0/8) of the reverse proxies in front "
        "of the nodes. A request from one of them counts as coming from the last address in its "
        "X-Forwarded-For header that is not a trusted proxy (for login throttling and the "
        "per-address limits); empty trusts no header.",
    )
    data_dir: str = Field(
        "./data", description="Folder for the SQLite database and other local files."
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB."
        " Empty means SQLite at DATA_DIR/chatserver.db.",
    )
    sqlite_busy_seconds: float = Field(
        5.0, gt=0, le=600,
        description="SQLite only: how long a transaction waits for the database's lock while "
        "another process (such as a `chatserver` command) holds it, before the event or request "
        "fails with `unavailable` and nothing of it is stored.",
    )
    redis_url: str = Field(
        "", description="redis://HOST:PORT/DB to run several nodes; empty for one process."
    )
    node_id: str = Field(
        "", description="Name of this node in logs and presence records; empty picks a random one."
    )
    default_language: Literal["fi", "sv", "en"] = Field(
        "fi", description="Language used when the visitor's cannot be served."
    )
    time_zone: str = Field(
        "Europe/Helsinki", description="Time zone for times shown to people (stored times are UTC)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level of log records written."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`json` writes one JSON object per log record."
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)  # type: ignore[arg-type]
    auth: AuthSettings = Field(default_factory=AuthSettings)  # type: ignore[arg-type]
    presence: PresenceSettings = Field(default_factory=PresenceSettings)  # type: ignore[arg-type]
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)  # type: ignore[arg-type]
    chat: ChatSettings = Field(default_factory=ChatSettings)  # type: ignore[arg-type]
    backup: BackupSettings = Field(default_factory=BackupSettings)  # type: ignore[arg-type]
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]
    bot: BotSettings = Field(default_factory=BotSettings)  # type: ignore[arg-type]
    rating: RatingSettings = Field(default_factory=RatingSettings)  # type: ignore[arg-type]
    reports: ReportsSettings = Field(default_factory=ReportsSettings)  # type: ignore[arg-type]
    performance: PerformanceSettings = Field(
        default_factory=PerformanceSettings)  # type: ignore[arg-type]

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if value and not _is_origin_like(value):
            raise ValueError("expected an http(s) URL such as https://chat.example.fi")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network such as 10.0.0.0/8"
                                 ) from None
        return [entry.strip() for entry in value]

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        cleaned = []
        for origin in value:
            origin = origin.strip().rstrip("/")
            parts = urlsplit(origin)
            if not _is_origin_like(origin) or parts.path or parts.query:
                raise ValueError(f"{origin!r} is not an origin; expected https://www.example.fi")
            cleaned.append(origin)
        return cleaned

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("expected redis://HOST:PORT/DB")
        return value

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Europe/Helsinki") from None
        return value

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{Path(self.data_dir) / 'chatserver.db'}"
        if not self.node_id:
            self.node_id = uuid.uuid4().hex[:12]
        old_idle = self.smtp.transcript_idle_minutes
        if old_idle is not None and "idle_close_minutes" not in self.chat.model_fields_set:
            self.chat.idle_close_minutes = old_idle  # the deprecated key still works
        return self

    @property
    def deprecations(self) -> list[str]:
        """Keys that still work but should be renamed; start-up logs each."""
        found = []
        if self.smtp.transcript_idle_minutes is not None:
            found.append("smtp.transcript_idle_minutes is deprecated: use "
                         "chat.idle_close_minutes (CHATSERVER_CHAT__IDLE_CLOSE_MINUTES)")
        return found

    @property
    def own_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def socket_origins(self) -> list[str]:
        """Origins allowed to open a socket: the server's own and the declared host sites."""
        return [self.own_origin, *[o for o in self.allowed_origins if o != self.own_origin]]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _is_origin_like(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Build the settings from a TOML file, then CHATSERVER_* variables, then `overrides`.

    The file is `config_path`, else $CHATSERVER_CONFIG, else none at all.
    """
    environ = dict(os.environ if environ is None else environ)
    path = config_path or environ.get(ENV_PREFIX + "CONFIG") or None
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist (check --config)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    _merge(data, _from_environment(environ))
    if overrides:
        _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _from_environment(environ: dict[str, str]) -> dict[str, Any]:
    """CHATSERVER_PORT=9000 sets `port`; CHATSERVER_LIMITS__EVENT_BURST=5 sets that key."""
    result: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        field = _field_annotation(path)
        value: Any = raw
        if field is not None and "list" in str(field):
            value = json.loads(raw) if raw.strip().startswith("[") else _split_list(raw)
        target = result
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return result


def _split_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _field_annotation(path: list[str]) -> Any:
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        if depth == len(path) - 1:
            return annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return None


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _describe(exc: ValidationError) -> str:
    """One line per problem: the dotted key, what is expected, and the env variable to set."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        env = ENV_PREFIX + "__".join(str(p).upper() for p in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"configuration: unknown key {key!r}; check its spelling and section")
            continue
        message = error["msg"].removeprefix("Value error, ")
        given = error.get("input")
        got = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
        lines.append(f"configuration: {key}: {message}{got}; set it in the TOML file or as {env}")
    return "\n".join(lines)
