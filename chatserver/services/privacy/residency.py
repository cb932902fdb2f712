"""The start-up check that personal data stays in the EU/EEA (DESIGN.md §5.4).

Every external endpoint in the configuration (the database host, the Redis host, the SMTP host)
must be declared in `privacy.processors` (matched by `endpoint`) with its country. A local file,
a Unix socket or a loopback address is the operator's own premises (`privacy.hosting_country`).
With `privacy.enforce_eu = true` (the default) any problem stops start-up with a message that
names the endpoint and the key to fix; with `false` the problems are logged and the notice says
where data goes.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from chatserver.settings import ConfigError, Settings
from chatserver.settings.privacy import EU_EEA, ControllerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    key: str  # the setting that names it, such as "smtp.host"
    host: str  # lower-case host name or address; "" for a local file or socket


def is_local(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("", "localhost") or host.endswith(".localhost") or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoints(settings: Settings) -> list[Endpoint]:
    found = []
    if not settings.is_sqlite:
        url = make_url(settings.database_url)
        found.append(Endpoint("database_url", (url.host or str(url.query.get("host", "")))
                              .lower()))
    if settings.redis_url:
        found.append(Endpoint("redis_url", (urlsplit(settings.redis_url).hostname or "")))
    smtp_host = str(getattr(getattr(settings, "smtp", None), "host", "") or "")
    if smtp_host:
        found.append(Endpoint("smtp.host", smtp_host.strip().lower().rstrip(".")))
    return found


def problems(settings: Settings) -> list[str]:
    """Every residency problem, one line each, naming the endpoint and the key to fix."""
    privacy = settings.privacy
    lines = []
    if privacy.hosting_country not in EU_EEA:
        lines.append(f"privacy.hosting_country is {privacy.hosting_country}, outside the EU/EEA: "
                     "run the server in the EU/EEA or set privacy.enforce_eu = false")
    for index, processor in enumerate(privacy.processors):
        if processor.country not in EU_EEA and not processor.endpoint:
            lines.append(f"privacy.processors[{index}] ({processor.name}) is in "
                         f"{processor.country}, outside the EU/EEA: choose an EU/EEA provider "
                         "or set privacy.enforce_eu = false")
    for endpoint in endpoints(settings):
        if is_local(endpoint.host):
            continue
        matches = [(i, p) for i, p in enumerate(privacy.processors)
                   if p.endpoint and p.endpoint.split(":")[0] == endpoint.host]
        if not matches:
            lines.append(
                f"{endpoint.key} points to {endpoint.host}, which is not declared as a processor: "
                f'add a [[privacy.processors]] entry with endpoint = "{endpoint.host}", its name, '
                "role and country")
            continue
        for index, processor in matches:
            if processor.country not in EU_EEA:
                lines.append(
                    f"{endpoint.key} points to {endpoint.host} ({processor.name}, declared in "
                    f"{processor.country} by privacy.processors[{index}].country), outside the "
                    "EU/EEA: use an EU/EEA provider, or set privacy.enforce_eu = false to allow "
                    "the transfer (the notice then says so)")
    return lines


def production_problems(settings: Settings) -> list[str]:
    """In production the controller's details must be real, not the development examples."""
    if settings.environment != "production":
        return []
    example = ControllerSettings()  # type: ignore[call-arg]
    lines = []
    for field in ("name", "email", "business_id", "address"):
        value = getattr(settings.privacy.controller, field)
        if value and value == getattr(example, field):
            lines.append(f"privacy.controller.{field} is still the development example "
                         f"{value!r}: set the controller's real details in [privacy.controller]")
    return lines


def enforce(settings: Settings) -> None:
    """Raise ConfigError (start-up stops) or log, as `privacy.enforce_eu` says."""
    residency = problems(settings)
    fatal = production_problems(settings)
    if settings.privacy.enforce_eu:
        fatal += residency
    else:
        for line in residency:
            log.warning("privacy: %s", line)
    if fatal:
        raise ConfigError("\n".join(f"configuration: {line}" for line in fatal))
