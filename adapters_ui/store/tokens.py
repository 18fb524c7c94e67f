"""Unguessable ids and secrets, and the one-way hashes the database keeps of secrets.

    >>> len(new_token())   # 24 random bytes (192 bits), URL-safe base64
    32
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 24  # secrets: owner keys, reviewer and owner links
ID_BYTES = 16  # permalinks: 128 bits, unguessable but shorter
_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """Random URL-safe text that never starts with '-' (a command line would read it as an option)."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token


def new_id() -> str:
    return new_token(ID_BYTES)


def token_hash(token: str) -> str:
    """What the database stores of a secret: a leaked database holds no working link."""
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str | None) -> bool:
    """Whether ``token`` could be one of ours (checked before any query)."""
    return bool(token) and _SHAPE.fullmatch(token) is not None


def same_secret(token: str | None, stored_hash: str) -> bool:
    return well_formed(token) and secrets.compare_digest(token_hash(token), stored_hash)
