"""The running bot: the root of the supervision tree and one subtree per exchange."""

from marketmaestro.runtime.bot import BotContext, run_bot, stop_gracefully

__all__ = ["BotContext", "run_bot", "stop_gracefully"]
