"""The socket.io packet class the server decodes client packets with.

python-socketio hands a client's EVENT packet named "connect" or "disconnect" to the namespace
exactly like the real lifecycle calls, with the client's own data in place of the WSGI environ
(found by tests/test_fuzz_events.py). A client could so unregister its connection or replay the
connect handshake with a forged environ. Renaming such events here, where every client packet
is decoded, lets the namespaces' dispatch refuse them as unknown events with an error ack.
"""

from __future__ import annotations

from typing import Any

from socketio import packet

# Names the server itself uses for lifecycle calls into a namespace.
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "__disconnect_final"})
EVENT_TYPES = (packet.EVENT, packet.BINARY_EVENT)
# The event name given to an event packet that cannot be read; dispatch answers it with an error.
MALFORMED = "!malformed"


class ClientPacket(packet.Packet):
    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
        except (ValueError, RecursionError):
            # Not JSON, or nested deeper than the parser goes: still answer the ack, if any.
            # A CONNECT whose auth is a bare number reads as an ack id followed by junk: the
            # namespace then refuses the auth as not an object, in the contract's shape.
            data: Any = [MALFORMED]
            if self.packet_type in EVENT_TYPES:
                self.data = data
            elif self.packet_type == packet.CONNECT:
                self.data = MALFORMED
            else:
                raise
            return 0
        if self.packet_type in EVENT_TYPES:
            self.data = _safe_event(self.data)
        return attachments


def _safe_event(data: Any) -> list[Any]:
    """An event packet's data as `[name, *args]` where name is never a lifecycle name."""
    if not isinstance(data, list) or not data:
        return [MALFORMED]
    name = data[0]
    if not isinstance(name, str):
        return [MALFORMED, *data[1:]]
    if name in RESERVED_EVENTS:
        return ["!" + name, *data[1:]]
    return data
