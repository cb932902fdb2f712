"""Random secrets given to clients; only their SHA-256 is stored, and lookups are by hash.

The CSRF token of an agent session is not stored at all: it is derived from the session's
secret (HMAC-SHA256), so the server can recompute it from the cookie and a copy of the database
gives neither. Comparisons of secrets the client sends go through `same` (constant time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path


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


RECORD_KEY_FILE = "record.key"


def record_key(data_dir: str, configured: str) -> bytes:
    """The key of the hashes kept in place of erased or forgotten email addresses (a sent
    email's recipient, an erased address's tombstone). `auth.address_key` when it is set (every
    node shares it); else a random key kept in DATA_DIR/record.key, made once, readable only by
    the server's user. Never in the database, so a copy of it cannot be matched against
    addresses; stable across restarts, so a data-subject request by address still finds them."""
    if configured:
        return configured.encode()
    path = Path(data_dir) / RECORD_KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
        return key


def keyed_hash(key: bytes, address: str) -> str:
    """HMAC-SHA256 of an email address (lower case, trimmed)."""
    return hmac.new(key, address.strip().lower().encode("utf-8", "surrogatepass"),
                    hashlib.sha256).hexdigest()
