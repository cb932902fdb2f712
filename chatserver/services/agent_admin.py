"""What an admin changes about other accounts from the console: role, disabled, password.
An admin cannot demote or disable their own account, so a console never locks itself out."""

from __future__ import annotations

from chatserver.db.models import Agent
from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _
from chatserver.services import agents
from chatserver.services.context import Context


async def update(ctx: Context, actor: Agent, agent_id: int, *, role: str | None = None,
                 disabled: bool | None = None) -> Agent:
    if agent_id == actor.id and (disabled or (role is not None and role != "admin")):
        raise ServiceError(Code.FORBIDDEN,
                           _("You cannot disable your own account or remove your own admin "
                             "role."))
    agent: Agent | None = None
    if role is not None:
        agent = await agents.set_role(ctx, agent_id, role, actor_id=actor.id)
    if disabled is not None:
        agent = await agents.set_disabled(ctx, agent_id, disabled, actor_id=actor.id)
    if agent is None:
        for found in await agents.list_agents(ctx):
            if found.id == agent_id:
                return found
        raise ServiceError(Code.NOT_FOUND, _("No such agent."))
    return agent


async def reset_password(ctx: Context, actor: Agent, agent_id: int, password: str) -> None:
    await agents.set_password(ctx, agent_id, password, actor_id=actor.id)
