"""Login throttling: failed passwords and failed one-time codes count per account and per
client address within `auth.login_window_minutes`. Only keyed hashes are stored
(services/address_limits.py): the table holds no address or account name, and without the key
a copy of it cannot be matched against a list of them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import LoginFailure
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit
from chatserver.services.address_limits import counted_as
from chatserver.services.context import Context


def address_key(ctx: Context, client_address: str) -> str:
    return ctx.address_limits.key_for("address", counted_as(client_address))


def keys(ctx: Context, email: str, client_address: str) -> tuple[str, str]:
    """The account's and the client address's keys."""
    return (ctx.address_limits.key_for("account", email.strip().lower()),
            address_key(ctx, client_address))


async def check(ctx: Context, account_key: str | None, address_key: str) -> None:
    """`rate_limited` when either has too many failures in the window (no account: a login
    that names none, a passkey alone). Rows older than the window are left to the purge
    (privacy/retention.py), so this only reads."""
    settings = ctx.settings.auth
    window_start = ctx.clock() - timedelta(minutes=settings.login_window_minutes)
    async with ctx.read() as session:
        counts = dict((await session.exec(
            select(LoginFailure.key_hash, func.count())
            .where(col(LoginFailure.key_hash).in_([k for k in (account_key, address_key) if k]))
            .where(col(LoginFailure.created_at) >= window_start)
            .group_by(col(LoginFailure.key_hash)))).all())
    if (account_key and counts.get(account_key, 0) >= settings.max_failures_per_account
            or counts.get(address_key, 0) >= settings.max_failures_per_address):
        async with ctx.db.begin() as session:
            audit.record(ctx, session, "login.throttled", actor_kind="visitor")
        raise ServiceError(
            Code.RATE_LIMITED,
            _("Too many failed logins. Try again in {minutes} minutes."),
            minutes=round(settings.login_window_minutes),
        )


def record_failure(ctx: Context, session: AsyncSession, *keys: str) -> None:
    """Count a failure against each key, in the caller's transaction (with its audit row)."""
    for key in keys:
        session.add(LoginFailure(key_hash=key, created_at=ctx.clock()))
