"""One-time codes (TOTP, RFC 6238) as the second factor of an agent's login, with ten
single-use recovery codes, and the `auth.require_second_factor` policy (docs/security.md).

A login whose password was right opens a session at a *stage*: "second_factor" when the agent
has a confirmed authenticator (the next step is `verify`), "enrol" when the policy wants one the
agent has not set up (the next step is `start` and `confirm`), "" otherwise. A session at a
stage reaches nothing but those steps, `GET /auth/me` and logout (http/common.py refuses the
rest, the agent socket refuses to connect).

A code is accepted in the 30-second step it was made for or one step either side (clocks
drift), and only in a step later than the last one accepted, so a code seen over a shoulder or
replayed is refused. Wrong codes count as failed logins (throttling per account and address).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any

import pyotp
import segno
from sqlalchemy import delete, update
from sqlmodel import col, select

from chatserver.db.models import (
    Agent,
    AgentPasskey,
    AgentSession,
    AgentTotp,
    RecoveryCode,
)
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit, throttling
from chatserver.services.context import Context
from chatserver.services.tokens import token_hash

STEP_SECONDS = 30
RECOVERY_CODES = 10
ISSUER = "chatserver"
SECOND_FACTOR, ENROL = "second_factor", "enrol"


def required(ctx: Context, agent: Agent) -> bool:
    policy = ctx.settings.auth.require_second_factor
    return policy == "everyone" or (policy == "admins" and agent.role == "admin")


async def confirmed(ctx: Context, agent_id: int) -> bool:
    async with ctx.read() as session:
        row = await session.get(AgentTotp, agent_id)
    return row is not None and row.confirmed_at is not None


async def factors(ctx: Context, agent: Agent) -> list[str]:
    """The second factors this agent has: "totp", "passkey"."""
    async with ctx.read() as session:
        totp = await session.get(AgentTotp, agent.id)
        passkey = (await session.exec(select(AgentPasskey.id)
                                      .where(AgentPasskey.agent_id == agent.id))).first()
    return ([] if totp is None or totp.confirmed_at is None else ["totp"]) + (
        [] if passkey is None else ["passkey"])


async def stage_at_login(ctx: Context, agent: Agent) -> str:
    """The stage a new session of this agent starts at, once the password was right."""
    if await factors(ctx, agent):
        return SECOND_FACTOR
    return ENROL if required(ctx, agent) else ""


def _step(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str, now: datetime, after: int) -> int | None:
    """The time step (now ± 1) whose code this is, if it is later than `after`."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = _step(now)
    for step in (current - 1, current, current + 1):
        # Bytes: compare_digest refuses non-ASCII str, and anything may be typed.
        if step > after and hmac.compare_digest(totp.at(step * STEP_SECONDS).encode(),
                                                code.encode()):
            return step
    return None


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


async def status(ctx: Context, agent: Agent) -> dict[str, Any]:
    async with ctx.read() as session:
        totp = await session.get(AgentTotp, agent.id)
        left = len((await session.exec(
            select(RecoveryCode.id).where(RecoveryCode.agent_id == agent.id)
            .where(col(RecoveryCode.used_at).is_(None)))).all())
    return {"enabled": totp is not None and totp.confirmed_at is not None,
            "recovery_codes_left": left, "required": required(ctx, agent)}


async def start(ctx: Context, agent: Agent) -> dict[str, Any]:
    """A new secret to enrol (replacing one not yet confirmed): the secret as text, the
    otpauth URI and its QR code as an SVG data URI, drawn here (no third-party request)."""
    if await confirmed(ctx, agent.id or 0):
        raise ServiceError(Code.CONFLICT, _("One-time codes are already set up. Remove them "
                                            "first to set them up again."))
    secret = pyotp.random_base32()
    async with ctx.db.begin() as session:
        await session.exec(delete(AgentTotp).where(col(AgentTotp.agent_id) == agent.id))
        session.add(AgentTotp(agent_id=agent.id or 0, secret=secret, created_at=ctx.clock()))
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=agent.email, issuer_name=f"{ISSUER} {ctx.settings.public_url}")
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, dark="#000", light="#fff")
    return {"secret": secret, "uri": uri, "qr": qr}


async def confirm(ctx: Context, agent: Agent, code: str,
                  session_token: str | None) -> list[str]:
    """The first code from the authenticator: one-time codes are on from now, and the ten
    recovery codes are returned (shown once; only their hashes are kept)."""
    now = ctx.clock()
    async with ctx.db.begin() as session:
        row = await session.get(AgentTotp, agent.id)
        if row is None or row.confirmed_at is not None:
            raise ServiceError(Code.CONFLICT, _("Start setting up one-time codes first."))
        step = _matching_step(row.secret, _normal(code), now, row.last_step)
        if step is None:
            raise ServiceError(Code.INVALID_INPUT, _("That code is not right. Check the "
                                                     "clock of your device and try again."))
        row.confirmed_at, row.last_step = now, step
        session.add(row)
        codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
        await session.exec(delete(RecoveryCode).where(col(RecoveryCode.agent_id) == agent.id))
        for recovery in codes:
            session.add(RecoveryCode(agent_id=agent.id or 0, code_hash=token_hash(recovery)))
        if session_token is not None:  # an enrolment the policy asked for ends here
            await session.exec(update(AgentSession)
                               .where(col(AgentSession.token_hash) == token_hash(session_token))
                               .values(stage=""))
        audit.record(ctx, session, "second_factor.enable", actor_kind="agent",
                     actor_id=agent.id)
    return [f"{c[:5]}-{c[5:]}" for c in codes]


async def verify(ctx: Context, agent: Agent, code: str, session_token: str,
                 client_address: str) -> None:
    """The login's second step: a one-time code, or a recovery code (used up)."""
    now = ctx.clock()
    typed = _normal(code)
    account_key, address_key = throttling.keys(ctx, agent.email, client_address)
    await throttling.check(ctx, account_key, address_key)
    async with ctx.db.begin() as session:
        row = await session.get(AgentTotp, agent.id)
        ok = False
        if row is not None and row.confirmed_at is not None:
            step = _matching_step(row.secret, typed, now, row.last_step)
            if step is not None:
                row.last_step = step
                session.add(row)
                ok, how = True, "totp"
        if not ok:
            recovery = (await session.exec(
                select(RecoveryCode).where(RecoveryCode.agent_id == agent.id)
                .where(RecoveryCode.code_hash == token_hash(typed))
                .where(col(RecoveryCode.used_at).is_(None)))).first()
            if recovery is not None:
                recovery.used_at = now
                session.add(recovery)
                ok, how = True, "recovery_code"
        if ok:
            await session.exec(update(AgentSession)
                               .where(col(AgentSession.token_hash) == token_hash(session_token))
                               .values(stage=""))
            audit.record(ctx, session, "login.second_factor", actor_kind="agent",
                         actor_id=agent.id, method=how)
            return
    async with ctx.db.begin() as session:
        throttling.record_failure(ctx, session, account_key, address_key)
        audit.record(ctx, session, "login.second_factor_failed", actor_kind="agent",
                     actor_id=agent.id)
    raise ServiceError(Code.UNAUTHORIZED, _("That code is not right."))


async def remove(ctx: Context, agent_id: int, *, actor: Agent | None = None) -> None:
    """Turn one-time codes off for an agent (their own choice, or an admin's or the command
    line's reset, which also ends the agent's sessions)."""
    by_someone_else = actor is None or actor.id != agent_id
    async with ctx.db.begin() as session:
        await session.exec(delete(AgentTotp).where(col(AgentTotp.agent_id) == agent_id))
        await session.exec(delete(RecoveryCode).where(col(RecoveryCode.agent_id) == agent_id))
        if by_someone_else:  # a reset: the agent's passkeys go too (a lost device)
            await session.exec(delete(AgentPasskey).where(col(AgentPasskey.agent_id) == agent_id))
        if by_someone_else:
            await session.exec(delete(AgentSession).where(col(AgentSession.agent_id) == agent_id))
        audit.record(ctx, session, "second_factor.reset" if by_someone_else
                     else "second_factor.disable",
                     actor_kind="cli" if actor is None else "agent",
                     actor_id=None if actor is None else actor.id,
                     target_kind="agent", target_id=agent_id)
