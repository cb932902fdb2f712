"""Agent accounts, passwords (argon2id), login sessions, API tokens and login throttling."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from chatserver.db.models import Agent, AgentSession, LoginFailure
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import (
    api_tokens,
    audit,
    passwords,
    second_factor,
    sessions,
    throttling,
)
from chatserver.services.context import Context
from chatserver.services.tokens import csrf_token_for, new_token, token_hash

ROLES = ("admin", "agent")
# A real hash to verify against when the account does not exist, so that a wrong email and a
# wrong password take the same time.
_DUMMY_PASSWORD = "not-a-real-password-but-long-enough"  # noqa: S105


@dataclass(frozen=True)
class LoginResult:
    agent: Agent
    token: str
    csrf_token: str
    stage: str = ""  # services/second_factor.py


def normalise_email(email: str) -> str:
    try:
        # A login name, never mailed to: an intranet's `anna@helpdesk` or a `.test` is fine.
        return validate_email(email, check_deliverability=False, globally_deliverable=False,
                              test_environment=True).normalized.lower()
    except EmailNotValidError:
        raise ServiceError(
            Code.INVALID_INPUT, _("“{email}” is not a valid email address."), email=email[:100]
        ) from None


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ServiceError(Code.INVALID_INPUT, _("The role must be admin or agent."))


async def create_agent(
    ctx: Context, email: str, display_name: str, password: str, role: str = "agent",
    language: str = "fi", actor_id: int | None = None,
) -> Agent:
    email = normalise_email(email)
    check_role(role)
    display_name = display_name.strip()
    passwords.check_strength(password, email=email, name=display_name)
    if not display_name or len(display_name) > 100:
        raise ServiceError(Code.INVALID_INPUT, _("The display name must be 1 to 100 characters."))
    password_hash = await asyncio.to_thread(ctx.hasher.hash, password)
    async with ctx.db.begin() as session:
        existing = await session.exec(select(Agent).where(Agent.email == email))
        if existing.first() is not None:
            raise ServiceError(
                Code.CONFLICT, _("An agent with the email “{email}” already exists."), email=email
            )
        agent = Agent(
            email=email, display_name=display_name, password_hash=password_hash, role=role,
            language=language, created_at=ctx.clock(),
        )
        session.add(agent)
        await session.flush()
        audit.record(ctx, session, "agent.create",
                     actor_kind="cli" if actor_id is None else "agent", actor_id=actor_id,
                     target_kind="agent", target_id=agent.id, role=role)
    return agent


async def get_by_email(ctx: Context, email: str) -> Agent:
    email = normalise_email(email)
    async with ctx.db() as session:
        agent = (await session.exec(select(Agent).where(Agent.email == email))).first()
    if agent is None:
        raise ServiceError(Code.NOT_FOUND, _("No agent has the email “{email}”."), email=email)
    return agent


async def list_agents(ctx: Context) -> list[Agent]:
    async with ctx.db() as session:
        return list((await session.exec(select(Agent).order_by(col(Agent.id)))).all())


async def set_disabled(ctx: Context, agent_id: int, disabled: bool,
                       actor_id: int | None = None) -> Agent:
    """Disabling also ends the agent's sessions and API tokens at once."""
    async with ctx.db.begin() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise ServiceError(Code.NOT_FOUND, _("No such agent."))
        agent.disabled = disabled
        session.add(agent)
        if disabled:
            await session.exec(delete(AgentSession).where(col(AgentSession.agent_id) == agent_id))
        audit.record(ctx, session, "agent.disable" if disabled else "agent.enable",
                     actor_kind="cli" if actor_id is None else "agent", actor_id=actor_id,
                     target_kind="agent", target_id=agent_id)
    return agent


async def set_role(ctx: Context, agent_id: int, role: str,
                   actor_id: int | None = None) -> Agent:
    """Make an agent an admin or a plain agent; takes effect on their next request."""
    check_role(role)
    async with ctx.db.begin() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise ServiceError(Code.NOT_FOUND, _("No such agent."))
        if agent.role != role:
            agent.role = role
            session.add(agent)
            audit.record(ctx, session, "agent.role", actor_kind="cli" if actor_id is None
                         else "agent", actor_id=actor_id, target_kind="agent",
                         target_id=agent_id, role=role)
    return agent


async def set_password(ctx: Context, agent_id: int, password: str,
                       actor_id: int | None = None) -> None:
    """A new password ends every existing session of that agent."""
    async with ctx.read() as session:
        found = await session.get(Agent, agent_id)
    if found is None:
        raise ServiceError(Code.NOT_FOUND, _("No such agent."))
    passwords.check_strength(password, email=found.email, name=found.display_name)
    password_hash = await asyncio.to_thread(ctx.hasher.hash, password)
    async with ctx.db.begin() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise ServiceError(Code.NOT_FOUND, _("No such agent."))
        agent.password_hash = password_hash
        session.add(agent)
        await session.exec(delete(AgentSession).where(col(AgentSession.agent_id) == agent_id))
        audit.record(ctx, session, "agent.password", actor_kind="cli" if actor_id is None
                     else "agent", actor_id=actor_id, target_kind="agent", target_id=agent_id)


async def login(ctx: Context, email: str, password: str, client_address: str,
                previous_token: str | None = None, user_agent: str | None = None) -> LoginResult:
    """Check the password, with throttling per account and per client address, and open a new
    session. Any session the client already had is ended (rotation)."""
    account_key, address_key = throttling.keys(ctx, email, client_address)
    await throttling.check(ctx, account_key, address_key)
    async with ctx.db() as session:
        agent = (
            await session.exec(select(Agent).where(Agent.email == email.strip().lower()))
        ).first()
    # argon2 is deliberately slow; keep it off the event loop.
    ok = await asyncio.to_thread(_verify, ctx, agent.password_hash if agent else None, password)
    if agent is None or not ok or agent.disabled:
        async with ctx.db.begin() as session:
            throttling.record_failure(ctx, session, account_key, address_key)
            audit.record(ctx, session, "login.failed", actor_kind="agent",
                         actor_id=agent.id if agent else None)
        raise ServiceError(Code.UNAUTHORIZED, _("Wrong email or password."))
    # Right password: the session opens at the login's next step, if there is one.
    stage = await second_factor.stage_at_login(ctx, agent)
    async with ctx.db.begin() as session:
        token, csrf = await _open_session(ctx, session, agent, previous_token, user_agent, stage)
        await session.exec(delete(LoginFailure).where(col(LoginFailure.key_hash) == account_key))
        if ctx.hasher.check_needs_rehash(agent.password_hash):
            fresh = await session.get(Agent, agent.id)
            if fresh is not None:
                fresh.password_hash = await asyncio.to_thread(ctx.hasher.hash, password)
                session.add(fresh)
        audit.record(ctx, session, "login", actor_kind="agent", actor_id=agent.id)
    return LoginResult(agent=agent, token=token, csrf_token=csrf, stage=stage)


async def _open_session(ctx: Context, session: AsyncSession, agent: Agent,
                        previous_token: str | None, user_agent: str | None,
                        stage: str) -> tuple[str, str]:
    """A new session row (the client's previous one ended: rotation); the cookie's token and
    its CSRF token, derived from it (the row keeps only hashes)."""
    now = ctx.clock()
    token = new_token()
    csrf = csrf_token_for(token)
    if previous_token:
        await session.exec(delete(AgentSession).where(
            col(AgentSession.token_hash) == token_hash(previous_token)))
    session.add(AgentSession(
        token_hash=token_hash(token), agent_id=agent.id or 0, csrf_token=token_hash(csrf),
        created_at=now, expires_at=now + timedelta(hours=ctx.settings.auth.session_hours),
        client=sessions.client_family(user_agent), stage=stage))
    return token, csrf


async def passkey_login(ctx: Context, agent: Agent, previous_token: str | None = None,
                        user_agent: str | None = None) -> LoginResult:
    """A login with a passkey alone (services/passkeys.py verified it): possession and the
    authenticator's own check (PIN, fingerprint) are two factors already."""
    async with ctx.db.begin() as session:
        token, csrf = await _open_session(ctx, session, agent, previous_token, user_agent, "")
        audit.record(ctx, session, "login", actor_kind="agent", actor_id=agent.id,
                     method="passkey")
    return LoginResult(agent=agent, token=token, csrf_token=csrf, stage="")


def _verify(ctx: Context, stored_hash: str | None, password: str) -> bool:
    try:
        if stored_hash is None:
            ctx.hasher.verify(ctx.hasher.hash(_DUMMY_PASSWORD), password)
            return False
        return ctx.hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def logout(ctx: Context, token: str) -> None:
    async with ctx.db.begin() as session:
        row = await session.get(AgentSession, token_hash(token))
        if row is not None:
            await session.delete(row)
            audit.record(ctx, session, "logout", actor_kind="agent", actor_id=row.agent_id)


async def agent_for_session(ctx: Context, token: str) -> tuple[Agent, AgentSession] | None:
    """The agent behind a session cookie, if the session is live and the agent enabled."""
    now = ctx.clock()
    async with ctx.read() as session:
        row = await session.get(AgentSession, token_hash(token))
        if row is None or row.expires_at <= now:
            return None
        agent = await session.get(Agent, row.agent_id)
    if agent is None or agent.disabled:
        return None
    if sessions.touched(row, now):
        await sessions.touch(ctx, row)
    return agent, row


async def create_api_token(ctx: Context, agent_id: int, label: str = "") -> str:
    """A full-scope token with the default expiry (api_tokens.create has the options)."""
    return await api_tokens.create(ctx, agent_id, label)


# What an admin changes about other accounts from the console: role, disabled, password. An
# admin cannot demote or disable their own account, so a console never locks itself out.

async def admin_update(ctx: Context, actor: Agent, agent_id: int, *, role: str | None = None,
                 disabled: bool | None = None) -> Agent:
    if agent_id == actor.id and (disabled or (role is not None and role != "admin")):
        raise ServiceError(Code.FORBIDDEN,
                           _("You cannot disable your own account or remove your own admin "
                             "role."))
    agent: Agent | None = None
    if role is not None:
        agent = await set_role(ctx, agent_id, role, actor_id=actor.id)
    if disabled is not None:
        agent = await set_disabled(ctx, agent_id, disabled, actor_id=actor.id)
    if agent is None:
        for found in await list_agents(ctx):
            if found.id == agent_id:
                return found
        raise ServiceError(Code.NOT_FOUND, _("No such agent."))
    return agent


async def admin_reset_password(ctx: Context, actor: Agent, agent_id: int, password: str) -> None:
    await set_password(ctx, agent_id, password, actor_id=actor.id)
