"""Random secrets given to clients; only their SHA-256 is stored, and lookups are by hash.

The CSRF token of an agent session is not stored at all: it is derived from the session's
secret (HMAC-SHA256), so the server can recompute it from the cookie and a copy of the database
gives neither. Comparisons of secrets the client sends go through `same` (constant time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that belongs to a session: HMAC-SHA256 keyed with the session secret."""
    digest = hmac.new(session_token.encode("utf-8", "surrogatepass"), b"chatserver csrf v1",
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
