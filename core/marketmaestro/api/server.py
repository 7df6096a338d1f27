"""The web server as one supervised child of the bot: hypercorn serving the Quart app under trio."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from marketmaestro.api.app import create_app
from marketmaestro.api.auth import resolve_token

if TYPE_CHECKING:
    from marketmaestro.runtime.bot import BotContext


async def serve_api(
    bot: BotContext, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve until cancelled; ``started()`` with the bound URLs (useful with ``api.port: 0``)."""
    if bot.api_token is None:
        bot.api_token = resolve_token(bot.config)
    app = create_app(bot, bot.api_token)
    config = HypercornConfig()
    config.bind = [f"{bot.config.api.host}:{bot.config.api.port}"]
    config.accesslog = None
    # Through stdlib logging into eliot, so hypercorn's errors land in the log file like everything else.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 1.0
    await serve(app, config, task_status=task_status)
