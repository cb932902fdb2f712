"""Passkeys (WebAuthn) for agents: registered in the console (named, last use shown), used to
log in alone or as the second step after the password, removed (docs/security.md).

The relying party is `public_url`'s host. A ceremony's challenge is kept in the database for
CHALLENGE_SECONDS under a random handle the browser sends back (any node can finish it) and is
used once. The verification itself is py_webauthn's: origin, RP ID, challenge, signature, user
verification, and a signature counter that must grow when the authenticator keeps one.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from chatserver.db.models import Agent, AgentPasskey, AgentSession, PasskeyChallenge
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import audit, throttling
from chatserver.services.context import Context
from chatserver.services.tokens import token_hash
from chatserver.services.views import iso

CHALLENGE_SECONDS = 300
# Passkey logins started and not finished within CHALLENGE_SECONDS, across the site.
MAX_OPEN_LOGINS = 1000
REGISTER, LOGIN, SECOND_STEP = "register", "login", "second_factor"


def _rp_id(ctx: Context) -> str:
    return urlsplit(ctx.settings.public_url).hostname or "localhost"


def _origin(ctx: Context) -> str:
    return ctx.settings.own_origin


async def _challenge(ctx: Context, purpose: str, challenge: bytes,
                     agent_id: int | None) -> str:
    handle = secrets.token_hex(16)
    now = ctx.clock()
    async with ctx.db.begin() as session:
        if purpose == LOGIN:
            # Anyone may start a passkey login, and each start is a row: a flood of them is
            # capped here (the throttling counts only failures).
            open_logins = (await session.exec(
                select(func.count()).select_from(PasskeyChallenge)
                .where(PasskeyChallenge.purpose == LOGIN)
                .where(col(PasskeyChallenge.expires_at) > now))).one()
            if open_logins >= MAX_OPEN_LOGINS:
                raise ServiceError(Code.RATE_LIMITED)
        session.add(PasskeyChallenge(handle=handle, purpose=purpose, agent_id=agent_id,
                                     challenge=bytes_to_base64url(challenge),
                                     expires_at=now + timedelta(seconds=CHALLENGE_SECONDS)))
    return handle


async def delete_expired_challenges(ctx: Context, now: datetime) -> None:
    """Ceremonies never finished (the purge worker)."""
    async with ctx.db.begin() as session:
        await session.exec(delete(PasskeyChallenge)
                           .where(col(PasskeyChallenge.expires_at) < now))


async def _take_challenge(ctx: Context, handle: str, purpose: str,
                          agent_id: int | None) -> bytes:
    """The challenge of a ceremony under way, used up; `invalid_input` when it is unknown,
    expired, another ceremony's or another agent's."""
    async with ctx.db.begin() as session:
        row = await session.get(PasskeyChallenge, handle)
        if row is not None:
            await session.delete(row)
    if (row is None or row.purpose != purpose or row.expires_at <= ctx.clock()
            or (agent_id is not None and row.agent_id != agent_id)):
        raise ServiceError(Code.INVALID_INPUT, _("The passkey request has expired. Try again."))
    return base64url_to_bytes(row.challenge)


async def _credentials(ctx: Context, agent_id: int) -> list[AgentPasskey]:
    async with ctx.read() as session:
        return list((await session.exec(
            select(AgentPasskey).where(AgentPasskey.agent_id == agent_id)
            .order_by(col(AgentPasskey.id)))).all())


def view(row: AgentPasskey) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": iso(row.created_at),
            "last_used_at": iso(row.last_used_at)}


async def listing(ctx: Context, agent: Agent) -> list[dict[str, Any]]:
    return [view(row) for row in await _credentials(ctx, agent.id or 0)]


async def registration_options(ctx: Context, agent: Agent) -> dict[str, Any]:
    existing = await _credentials(ctx, agent.id or 0)
    options = generate_registration_options(
        rp_id=_rp_id(ctx), rp_name="chatserver", user_name=agent.email,
        user_id=str(agent.id).encode(), user_display_name=agent.display_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                             for p in existing])
    handle = await _challenge(ctx, REGISTER, options.challenge, agent.id)
    return {"handle": handle, "options": json.loads(options_to_json(options))}


async def register(ctx: Context, agent: Agent, handle: str, name: str, credential: Any,
                   session_token: str | None) -> dict[str, Any]:
    challenge = await _take_challenge(ctx, handle, REGISTER, agent.id)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=_rp_id(ctx),
            expected_origin=_origin(ctx), require_user_verification=True)
    # Whatever the browser sent: malformed JSON, CBOR or keys are all a refusal.
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ServiceError(Code.INVALID_INPUT, _("The passkey could not be registered: "
                                                 "{reason}"), reason=str(error)[:200]) from None
    row = AgentPasskey(agent_id=agent.id or 0, name=(name.strip() or "passkey")[:100],
                       credential_id=bytes_to_base64url(verified.credential_id),
                       public_key=bytes_to_base64url(verified.credential_public_key),
                       sign_count=verified.sign_count, created_at=ctx.clock())
    async with ctx.db.begin() as session:
        session.add(row)
        if session_token is not None:  # a passkey satisfies the second-factor policy
            await session.exec(update(AgentSession)
                               .where(col(AgentSession.token_hash) == token_hash(session_token))
                               .values(stage=""))
        audit.record(ctx, session, "passkey.register", actor_kind="agent", actor_id=agent.id)
    return view(row)


async def remove(ctx: Context, agent: Agent, passkey_id: int) -> None:
    async with ctx.db.begin() as session:
        row = await session.get(AgentPasskey, passkey_id)
        if row is None or row.agent_id != agent.id:
            raise ServiceError(Code.NOT_FOUND, _("No such passkey."))
        await session.delete(row)
        audit.record(ctx, session, "passkey.remove", actor_kind="agent", actor_id=agent.id)


async def authentication_options(ctx: Context, agent: Agent | None) -> dict[str, Any]:
    """For a login with a passkey alone (agent None: the browser offers any passkey it holds
    for this site), or for the second step after the password (this agent's passkeys)."""
    allowed = [] if agent is None else [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
        for p in await _credentials(ctx, agent.id or 0)]
    options = generate_authentication_options(
        rp_id=_rp_id(ctx), allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED)
    handle = await _challenge(ctx, LOGIN if agent is None else SECOND_STEP,
                              options.challenge, None if agent is None else agent.id)
    return {"handle": handle, "options": json.loads(options_to_json(options))}


async def log_in(ctx: Context, handle: str, credential: Any, client_address: str) -> Agent:
    """A login with a passkey alone: the agent whose passkey signed. Throttled, like a
    password login, per client address (no account is named)."""
    address_key = throttling.address_key(ctx, client_address)
    await throttling.check(ctx, None, address_key)
    return await _authenticate(ctx, handle, credential, None, (address_key,))


async def second_step(ctx: Context, agent: Agent, handle: str, credential: Any,
                      session_token: str, client_address: str) -> None:
    """A passkey as the login's second step: the session is a full one afterwards."""
    keys = throttling.keys(ctx, agent.email, client_address)
    await throttling.check(ctx, *keys)
    await _authenticate(ctx, handle, credential, agent, keys)
    async with ctx.db.begin() as session:
        await session.exec(update(AgentSession)
                           .where(col(AgentSession.token_hash) == token_hash(session_token))
                           .values(stage=""))
        audit.record(ctx, session, "login.second_factor", actor_kind="agent",
                     actor_id=agent.id, method="passkey")


async def _authenticate(ctx: Context, handle: str, credential: Any, agent: Agent | None,
                        keys: tuple[str, ...]) -> Agent:
    """The agent whose passkey signed the challenge (refused: `unauthorized`, counted
    against `keys` and audited)."""
    challenge = await _take_challenge(ctx, handle, LOGIN if agent is None else SECOND_STEP,
                                      None if agent is None else agent.id)
    raw_id = credential.get("id") if isinstance(credential, dict) else None
    async with ctx.read() as session:
        row = (await session.exec(select(AgentPasskey).where(
            AgentPasskey.credential_id == str(raw_id or "")))).first()
        owner = await session.get(Agent, row.agent_id) if row is not None else None
    if row is None or owner is None or owner.disabled or (agent is not None
                                                          and owner.id != agent.id):
        await _refuse(ctx, agent, keys)
    assert row is not None and owner is not None
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=_rp_id(ctx),
            expected_origin=_origin(ctx), credential_public_key=base64url_to_bytes(row.public_key),
            credential_current_sign_count=row.sign_count, require_user_verification=True)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
        await _refuse(ctx, agent, keys)
    async with ctx.db.begin() as session:
        await session.exec(update(AgentPasskey).where(col(AgentPasskey.id) == row.id)
                           .values(sign_count=verified.new_sign_count,
                                   last_used_at=ctx.clock()))
    return owner


async def _refuse(ctx: Context, agent: Agent | None, keys: tuple[str, ...]) -> NoReturn:
    """A passkey that was not accepted: a failed login, audited; `unauthorized`."""
    async with ctx.db.begin() as session:
        throttling.record_failure(ctx, session, *keys)
        audit.record(ctx, session, "login.passkey_failed",
                     actor_kind="visitor" if agent is None else "agent",
                     actor_id=None if agent is None else agent.id)
    raise ServiceError(Code.UNAUTHORIZED, _("That passkey was not accepted."))
