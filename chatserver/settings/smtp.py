"""The `[smtp]` settings section: outgoing email (docs/email.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from chatserver.settings.section import Section


class SmtpSettings(Section):
    """Outgoing email (docs/email.md). With no host, emails go to a maildir under data_dir."""

    host: str = Field(
        "", description="SMTP server host name. Empty writes every email to the maildir "
        "DATA_DIR/maildir instead (the embedded default, for development)."
    )
    port: int = Field(
        0, ge=0, le=65535,
        description="SMTP port; 0 picks 587 for starttls, 465 for tls and 25 for none.",
    )
    security: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="`tls` is implicit TLS (usually port 465), `starttls` upgrades "
        "a plain connection (usually 587), `none` sends in the clear (a local relay only)."
    )
    username: str = Field("", description="SMTP login name; empty sends without logging in.")
    password: str = Field(
        "", description="SMTP password; prefer the CHATSERVER_SMTP__PASSWORD variable."
    )
    from_address: str = Field(
        "", description="Sender of every email, such as chat@example.fi. Empty means "
        "chat@ the host name of public_url."
    )
    team_address: str = Field(
        "", description="Where offline-form messages are sent (Reply-To is the visitor). "
        "Empty means from_address."
    )
    timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds to wait on the SMTP server for each step."
    )
    max_attempt_hours: float = Field(
        48.0, gt=0, le=24 * 30, description="Keep retrying an email that cannot be delivered "
        "for this long, with growing pauses; then it is marked failed and audited."
    )
    receipt_to_visitor: bool = Field(
        True, description="Email the visitor a short receipt when they use the offline form."
    )
    transcripts: bool = Field(
        True, description="Offer to email the visitor the transcript when the chat ends; when "
        "off, the `transcript` event is refused (and the privacy notice says nothing about it)."
    )
    transcript_idle_minutes: float | None = Field(
        None, ge=0, description="Deprecated: use chat.idle_close_minutes, which this sets when "
        "given (start-up logs a warning)."
    )
    poll_seconds: float = Field(
        30.0, gt=0, le=3600,
        description="How often the email worker looks for due emails when nothing wakes it.",
    )

    @field_validator("from_address", "team_address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        from email_validator import EmailNotValidError, validate_email

        if not value.strip():
            return ""
        try:
            return validate_email(value.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"expected an email address such as chat@example.fi ({exc})") from None

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        value = value.strip()
        if any(ch in value for ch in "/: \t") and not value.startswith("["):
            raise ValueError("expected a host name such as smtp.example.fi, without port or scheme")
        return value

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "none": 25}[self.security]
