"""Business rules. Code that writes state and emits events lives here, once, and both the
socket handlers (chatserver.realtime) and the HTTP handlers (chatserver.http) call into it."""
