"""A failing exchange stays inside its own subtree: the real bot, a real paper market, a flaky exchange.

The bot supervises each exchange apart (``exchange:<name>``), so the flaky exchange's feed failing,
escalating and its whole subtree restarting must never stop the paper exchange from trading. Only an
exchange that keeps failing past the bot's own restart policy stops the bot (exit code 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from marketmaestro.exchanges import ExchangeContext, FatalExchangeError, Subscription
from marketmaestro.messages import MarketDataMsg
from marketmaestro.runtime import BotContext, run_bot
from marketmaestro.storage import EventRecord, Store
from tests.runtime.conftest import (
    FlakyExchange,
    FlakyPlugin,
    HookRecorder,
    filled_at_least,
    filled_orders,
    load,
    paper_exchange,
    running_bot,
    wait_for,
    write_settings,
)

SUPERVISION = {"max_restarts": 2, "restart_window": 60, "backoff_initial": 0.01, "backoff_max": 0.05}
FEED_ERROR = "RuntimeError: flaky feed broke (run {run})"
DEADLINE = 10.0


def two_exchanges(tmp_path: Path, supervision: dict[str, Any] = SUPERVISION) -> Path:
    return write_settings(
        tmp_path,
        exchanges={"paper": paper_exchange(kline_seconds=0.02), "flaky": {"plugin": "flaky"}},
        supervision=supervision,
    )


async def restart_events(bot: BotContext, component: str) -> list[EventRecord]:
    """The ``component.restarted`` events of ``component``, oldest first."""
    events = await bot.store.list_events(kind="component.restarted", limit=1000)
    return [event for event in reversed(events) if event.component == component]


def assert_paper_never_restarted(bot: BotContext) -> None:
    paper = {
        name: (entry["state"], entry["restarts"])
        for name, entry in bot.health.snapshot()["components"].items()
        if name.startswith("exchange:paper")
    }
    assert "exchange:paper/feed" in paper and "exchange:paper/strategy:simple_sma:BTCUSDT" in paper
    assert set(paper.values()) == {("running", 0)}, paper


async def test_a_failing_feed_escalates_and_its_exchange_restarts_while_paper_keeps_trading(
    tmp_path: Path,
) -> None:
    # Six feed failures: three escalate to exchange:flaky, which restarts its subtree, three more
    # escalate again; after its second restart (within max_restarts) the feed works.
    plugin = FlakyPlugin(stream_failures=6, failure_delay=0.15)
    config, host = load(two_exchanges(tmp_path), ("flaky_plugin", plugin))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:

            async def feed_failed() -> bool:
                return bot.health.get("exchange:flaky/feed").restarts > 0

            await wait_for(feed_failed, "the first failure of flaky's feed")
            filled_then = len(await filled_orders(bot))

            async def flaky_recovered() -> bool:
                flaky = bot.health.get("exchange:flaky")
                feed = bot.health.get("exchange:flaky/feed")
                return flaky.restarts == 2 and flaky.state == feed.state == "running" and plugin.streams == 7

            await wait_for(flaky_recovered, "exchange:flaky to recover after its second restart")
            feed_events = await restart_events(bot, "exchange:flaky/feed")
            exchange_events = await restart_events(bot, "exchange:flaky")
            last_restart_ms = exchange_events[-1].timestamp

            async def paper_filled_after_flaky_recovered() -> bool:
                orders = await filled_orders(bot)
                later = [order for order in orders if order.updated_at > last_restart_ms]
                return len(orders) >= filled_then + 2 and len(later) >= 1

            await wait_for(paper_filled_after_flaky_recovered, "paper to go on filling orders")

            assert_paper_never_restarted(bot)
            assert "flaky" in bot.exchanges and bot.exchanges["flaky"].is_connected()
            health = bot.health_report()
            assert health["status"] == "ok"
            assert health["restarts"] == 2, "the feed entries went with the subtree each time it restarted"
            assert health["components"]["exchange:flaky/feed"]["restarts"] == 0

    assert plugin.connects == 3, "the subtree (adapter included) was built anew on each restart"
    assert [e.data["restarts"] for e in feed_events] == [1, 2, 3, 1, 2, 3]
    assert [e.data["error"] for e in feed_events] == [FEED_ERROR.format(run=run) for run in range(1, 7)]
    assert [e.data["restarts"] for e in exchange_events] == [1, 2]
    assert feed_events[2].timestamp <= exchange_events[0].timestamp <= feed_events[3].timestamp


async def test_an_escalation_names_the_child_that_gave_up_in_the_health_and_the_events(
    tmp_path: Path,
) -> None:
    plugin = FlakyPlugin(stream_failures=3, failure_delay=0.05)
    config, host = load(two_exchanges(tmp_path), ("flaky_plugin", plugin))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:

            async def escalated() -> bool:
                return bot.health.get("exchange:flaky").restarts == 1

            await wait_for(escalated, "the feed's escalation to restart exchange:flaky")
            last_error = bot.health.get("exchange:flaky").last_error
            events = await restart_events(bot, "exchange:flaky")

    # What the operator reads in the health endpoint and the events table must say which child gave
    # up, not only that "a nursery" failed.
    expected = "EscalationError: exchange:flaky/feed failed 3 times within 60 s; escalating to its parent"
    assert last_error == expected
    assert [dict(event.data) for event in events] == [{"error": expected, "restarts": 1}]


async def test_a_fatal_connect_error_marks_the_exchange_failed_without_restarting_it(tmp_path: Path) -> None:
    plugin = FlakyPlugin(connect_error=FatalExchangeError)
    config, host = load(two_exchanges(tmp_path), ("flaky_plugin", plugin))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: filled_at_least(bot, 2), "two filled paper orders")

            entry = bot.health.get("exchange:flaky")
            assert (entry.state, entry.restarts, entry.last_error) == ("failed", 0, None)
            assert entry.detail == "flaky: login refused (attempt 1)"
            assert plugin.connects == 1, "a configuration or credential problem is not retried"
            assert not [
                name for name in bot.health.snapshot()["components"] if name.startswith("exchange:flaky/")
            ]
            assert "flaky" not in bot.exchanges
            assert bot.health_report()["status"] == "failed"
            assert_paper_never_restarted(bot)
            fatal = await bot.store.list_events(kind="exchange.fatal")
            restarted = await bot.store.list_events(kind="component.restarted")

    assert [(e.exchange, e.component, dict(e.data)) for e in fatal] == [
        ("flaky", "exchange:flaky", {"error": "flaky: login refused (attempt 1)"})
    ]
    assert restarted == []


async def test_an_exchange_failing_past_the_root_policy_stops_the_bot_with_exit_code_1(
    tmp_path: Path,
) -> None:
    plugin = FlakyPlugin(connect_error=RuntimeError)
    settings = two_exchanges(tmp_path, {**SUPERVISION, "max_restarts": 1})
    config, host = load(settings, ("flaky_plugin", plugin))

    with trio.fail_after(DEADLINE):
        exit_code = await run_bot(config, host, handle_signals=False)

    assert exit_code == 1
    assert plugin.connects == 2, "the first attempt and max_restarts restarts"
    with Store(tmp_path / "bot.db") as store:  # run_bot closed its store; the file holds the record
        events = list(reversed(store.list_events(kind="component.restarted")))
    assert [(e.component, e.data["restarts"]) for e in events] == [
        ("exchange:flaky", 1),
        ("exchange:flaky", 2),
    ]
    assert events[-1].data["error"] == "RuntimeError: flaky: login refused (attempt 2)"


async def test_an_exchange_that_keeps_failing_after_the_start_stops_a_running_bot(tmp_path: Path) -> None:
    # Slow enough failures for the bot to finish starting first: flaky starts before paper, whose strategy
    # needs about a second to start its worker process, and flaky's fourth failure stops the bot.
    plugin, recorder = FlakyPlugin(stream_failures=None, failure_delay=1.0), HookRecorder()
    settings = two_exchanges(tmp_path, {**SUPERVISION, "max_restarts": 1})
    config, host = load(settings, ("flaky_plugin", plugin), ("recorder", recorder))
    exit_codes: list[int] = []

    async def run_and_keep_the_exit_code(*, task_status: trio.TaskStatus[BotContext]) -> None:
        exit_codes.append(await run_bot(config, host, handle_signals=False, task_status=task_status))

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            bot: BotContext = await nursery.start(run_and_keep_the_exit_code)
            assert "paper" in bot.exchanges, "the bot started (flaky may already be restarting)"
        # The nursery ends by itself: the bot stopped.

    assert exit_codes == [1]
    # Each subtree run: two feed failures (one restart, then escalation); the exchange restarts once,
    # and its second escalation exceeds the bot's policy.
    assert plugin.streams == 4
    assert bot.health.stopping
    assert bot.health.get("exchange:flaky").state == "failed"
    assert bot.health_report()["status"] == "stopping"
    assert bot.exchanges == {}, "every exchange was disconnected and forgotten"
    assert recorder.shutdowns == [bot], "a stop on escalation is still a graceful shutdown"


class EndingFeedExchange(FlakyExchange):
    """An exchange whose feed returns (a stream that silently ended) instead of running until cancelled."""

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self.plugin.streams += 1
        task_status.started()
        await trio.sleep(0.05)


class EndingFeedPlugin(FlakyPlugin):
    def build(self, context: ExchangeContext) -> FlakyExchange:
        return EndingFeedExchange(context, self)


async def test_a_feed_that_ends_is_a_failure_that_shows_and_is_restarted(tmp_path: Path) -> None:
    plugin = EndingFeedPlugin()
    settings = write_settings(
        tmp_path,
        exchanges={"flaky": {"plugin": "flaky"}},
        supervision={"max_restarts": 50, "restart_window": 60, "backoff_initial": 0.01, "backoff_max": 0.02},
    )
    config, host = load(settings, ("flaky_plugin", plugin))
    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:

            async def restarted_twice() -> bool:
                return bot.health.get("exchange:flaky/feed").restarts >= 2

            await wait_for(restarted_twice, "the ended feed to be restarted")
            feed = bot.health.get("exchange:flaky/feed")
            assert feed.last_error == "ConnectionError: the market data stream of 'flaky' ended"
            assert plugin.streams >= 3
