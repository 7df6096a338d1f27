"""The API token. Every ``/api/`` route requires it; the server binds to 127.0.0.1 by default.

The token is ``api.token`` from the configuration (``.secrets.yaml`` or ``MM_API__TOKEN``), or else the
contents of ``api.token_file``, which is created with a random token (mode 0600) on first start.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from marketmaestro.config import Config


def resolve_token(config: Config) -> str:
    if config.api.token is not None and config.api.token.get_secret_value():
        return config.api.token.get_secret_value()
    path: Path = config.api.token_file
    if path.is_file():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def token_matches(expected: str, header: str | None) -> bool:
    """Whether an ``Authorization: Bearer <token>`` header carries ``expected`` (constant-time)."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), expected.encode())
