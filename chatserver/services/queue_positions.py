"""Which queued visitors need to hear a new queue position (docs/performance.md).

A new conversation joins the end of the queue, so nobody ahead of it moves; only a claim or a
close moves the ones behind. Sending every queued visitor its position on every change made
opening N conversations cost N² emits. This remembers, per node, the position last sent for each
queued conversation and yields only the ones that changed. Positions only ever fall while a
conversation waits, so a node that missed another node's emit sends the same value again at
worst, never a stale one.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from chatserver.services.context import Context

_sent: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def changed(ctx: Context, queued: list[dict[str, Any]]) -> Iterator[tuple[str, int]]:
    """(conversation id, position) for each queued conversation whose position is new."""
    previous = _sent.get(ctx.db, {})
    current = {item["id"]: position for position, item in enumerate(queued, start=1)}
    _sent[ctx.db] = current  # conversations that left the queue are forgotten here
    for conversation_id, position in current.items():
        if previous.get(conversation_id) != position:
            yield conversation_id, position
