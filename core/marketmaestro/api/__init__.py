"""The REST API and web UI (one Quart app on hypercorn, under trio)."""

from marketmaestro.api.app import bot_context, create_app, json_response, to_jsonable
from marketmaestro.api.auth import resolve_token, token_matches
from marketmaestro.api.server import serve_api

__all__ = [
    "bot_context",
    "create_app",
    "json_response",
    "resolve_token",
    "serve_api",
    "to_jsonable",
    "token_matches",
]
