"""What a node tells its own clients about itself: that it is going away.

The event `shutdown` `{"reconnect": true}` goes to the sockets of this node only (other nodes'
clients are unaffected). Then the node closes their connections at the transport level, so a
socket.io client reconnects by itself, through the proxy, to a node that is still up, and
resumes as after any reconnect: visitors with their token and `history` after the last seq.
"""

from __future__ import annotations

from chatserver.services import presence
from chatserver.services.context import Context

SHUTDOWN_EVENT = "shutdown"


async def announce_shutdown(ctx: Context) -> None:
    await ctx.bus.to_clients_here(SHUTDOWN_EVENT, {"reconnect": True})


async def leave(ctx: Context) -> None:
    """This node's agent connections are gone: visitors and agents everywhere hear it now,
    rather than after presence.timeout_seconds."""
    await presence.forget_node(ctx)
