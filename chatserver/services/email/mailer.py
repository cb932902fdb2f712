"""Turning an outbox row into an email and handing it over: by SMTP (aiosmtplib) or, with no
SMTP host configured, into a maildir folder under data_dir (docs/email.md).

Headers are built with `email.message.EmailMessage` and the SMTP policy, and every value that
came from a person passes through `one_line` first, so a CR or LF in a name or subject can
never start a new header.
"""

from __future__ import annotations

import asyncio
import mailbox
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiosmtplib

from chatserver.db.models import OutboxEmail
from chatserver.settings import Settings

MAX_SUBJECT_CHARS = 200
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


class TemporaryFailure(Exception):
    """Try again later: the server is down, timed out, or answered 4xx."""

    def __init__(self, detail: str, summary: str) -> None:
        super().__init__(detail)
        self.detail = detail  # may name an address: stored for admins, never logged
        self.summary = summary  # safe for logs: an exception name and reply code only


class PermanentFailure(TemporaryFailure):
    """Retrying will not help: the recipient or the message was refused with 5xx."""


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """A header-safe value: control characters (CR and LF among them) become one space."""
    cleaned = " ".join(_CONTROLS.sub(" ", text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def sender_address(settings: Settings) -> str:
    if settings.smtp.from_address:
        return settings.smtp.from_address
    host = urlsplit(settings.public_url).hostname or ""
    if "." not in host or host.replace(".", "").isdigit():
        host = "localhost"
    return f"chat@{host}"


def team_address(settings: Settings) -> str:
    return settings.smtp.team_address or sender_address(settings)


def maildir_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "maildir"


def build_message(settings: Settings, row: OutboxEmail) -> EmailMessage:
    """The email for one row. Message-ID is derived from the row id, so a duplicate sent after
    a crash carries the same Message-ID as the first copy and mail clients can fold them."""
    sender = sender_address(settings)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(addr_spec=sender)
    message["To"] = Address(addr_spec=row.to_address)
    if row.reply_to:
        message["Reply-To"] = Address(addr_spec=row.reply_to)
    message["Subject"] = one_line(row.subject)
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = f"<{row.id}@{sender.rpartition('@')[2]}>"
    message["Content-Language"] = row.language
    if row.kind != "reply":
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


async def deliver(settings: Settings, message: EmailMessage) -> None:
    if settings.smtp.host:
        await _send_smtp(settings, message)
    else:
        try:
            await asyncio.to_thread(_write_maildir, maildir_path(settings), message)
        except OSError as exc:
            raise TemporaryFailure(f"maildir: {exc}", type(exc).__name__) from None


def _write_maildir(path: Path, message: EmailMessage) -> None:
    box = mailbox.Maildir(path, create=True)
    box.add(message.as_bytes(policy=policy.default))


async def _send_smtp(settings: Settings, message: EmailMessage) -> None:
    smtp = settings.smtp
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.effective_port,
            username=smtp.username or None,
            password=smtp.password or None,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        summary = f"recipient refused {codes}"
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentFailure(detail, summary) from None
        raise TemporaryFailure(detail, summary) from None
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPAuthenticationError) as exc:
        # A configuration problem on our side: the operator can fix it, so keep retrying.
        raise TemporaryFailure(f"{exc.code} {exc.message}",
                               f"{type(exc).__name__} {exc.code}") from None
    except aiosmtplib.SMTPResponseException as exc:
        failure = PermanentFailure if 500 <= exc.code < 600 else TemporaryFailure
        raise failure(f"{exc.code} {exc.message}", f"{type(exc).__name__} {exc.code}") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}", type(exc).__name__) from None
