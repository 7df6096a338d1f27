"""The strategy runner on the real trading path: callbacks, signals, state, history, builtins and failures."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.messages import GetStatusMsg, KlineDataMsg
from marketmaestro.model import Kline, Order, OrderStatus, Side
from marketmaestro.storage import AsyncStore
from tests.exchanges.conftest import BEST_ASK
from tests.strategy.conftest import SYMBOL, harness, logged, write_strategy

COUNTER = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    n = get_state("n", 0) + 1
    set_state("n", n)
    return signal(n, kline)
"""
"""A strategy whose n-th kline returns ``signal(n, kline)``, defined by each test below it."""


def counting(body: str) -> str:
    return COUNTER + "\ndef signal(n, kline):\n" + body


async def orders_of(store: AsyncStore, strategy: str = "probe") -> list[Order]:
    """The strategy's orders, oldest first."""
    return list(reversed(await store.list_orders(strategy=strategy, limit=1000)))


async def test_a_runtime_error_is_logged_and_the_next_kline_still_runs(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            if kline["close"] == 20013.0:
                fail("cannot trade at %s" % kline["close"])
            set_state("last", kline["close"])
            return None
        """,
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            await h.feed(runner, 20010.0)
            after_error = await h.feed(runner, 20013.0)
            assert after_error["errors"] == 1
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"last": 20010.0}
            after_next = await h.feed(runner, 20020.0)
            assert after_next["errors"] == 1
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"last": 20020.0}

    (error,) = logged(log_messages, "strategy.error")
    assert error["level"] == "error"
    assert error["symbol"] == SYMBOL
    assert "probe.star" in error["error"]
    assert "cannot trade at 20013.0" in error["error"]
    assert "in on_kline" in error["starlark_stack"]


@pytest.mark.parametrize(
    ("returned", "fragments"),
    [
        ('{"action": "moon", "quantity": 0.01}', ["'action'", "'moon'"]),
        ('{"action": "buy", "quantity": -0.01}', ["'quantity'", "-0.01"]),
        ('{"action": "buy", "quantity": True}', ["'quantity'", "True"]),
        ('{"action": "buy", "quantity": 0.01, "colour": "red"}', ["colour"]),
        ('{"action": "buy", "quantity": 0.01, "type": "limit"}', ["'price'", "limit"]),
        ('"buy"', ["dict", "'buy'"]),
        (
            '[{"action": "buy", "quantity": 0.01}, {"action": "sell", "quantity": 0}]',
            ["signal 1", "'quantity'"],
        ),
    ],
)
async def test_a_malformed_signal_is_logged_and_no_order_reaches_the_order_manager(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]], returned: str, fragments: list[str]
) -> None:
    file = write_strategy(
        tmp_path, f"def settings():\n    return {{}}\n\ndef on_kline(kline):\n    return {returned}\n"
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            after = await h.feed(runner, 20010.0)
            assert (after["signals"], after["errors"]) == (0, 1)
            assert await h.stack.order_manager.mailbox.request(GetStatusMsg(), 5) == {
                "orders": {},
                "emulated": 0,
                "halted": False,
            }
            assert await store.list_orders() == []

    (bad,) = logged(log_messages, "strategy.bad_signal")
    assert bad["level"] == "error"
    assert bad["error"].startswith("probe.star on_kline()")
    for fragment in fragments:
        assert fragment in bad["error"]


async def test_none_hold_and_lists_of_signals(store: AsyncStore, tmp_path: Path) -> None:
    file = write_strategy(
        tmp_path,
        counting(
            """
    if n == 1:
        return None
    if n == 2:
        return {"action": "hold", "reason": "nothing to do"}
    if n == 3:
        return [
            {"action": "buy", "quantity": 0.01, "reason": "first"},
            {"action": "hold"},
            {"action": "buy", "quantity": 0.02, "type": "market", "reason": "second"},
        ]
    return None
"""
        ),
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            for close in (20010.0, 20011.0):
                assert (await h.feed(runner, close))["signals"] == 0
            assert await store.list_orders() == []
            assert (await h.feed(runner, 20012.0))["signals"] == 2
            position = await h.stack.position(strategy="probe")

    first, second = await orders_of(store)
    assert (first.side, first.quantity, first.reason, first.status) == (
        Side.BUY,
        Decimal("0.01"),
        "first",
        OrderStatus.FILLED,
    )
    assert (second.side, second.quantity, second.reason, second.status) == (
        Side.BUY,
        Decimal("0.02"),
        "second",
        OrderStatus.FILLED,
    )
    assert position.quantity == Decimal("0.03")


async def test_close_sells_the_whole_position_and_does_nothing_when_flat(
    store: AsyncStore, tmp_path: Path
) -> None:
    file = write_strategy(
        tmp_path,
        counting(
            """
    if n == 1:
        return {"action": "buy", "quantity": 0.013}
    if n == 2:
        return {"action": "buy", "quantity": 0.02}
    return {"action": "close", "reason": "done"}
"""
        ),
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            await h.feed(runner, 20010.0)
            await h.feed(runner, 20011.0)
            assert (await h.stack.position(strategy="probe")).quantity == Decimal("0.033")
            assert (await h.feed(runner, 20012.0))["signals"] == 3
            assert (await h.stack.position(strategy="probe")).quantity == 0
            assert (await h.feed(runner, 20013.0))["signals"] == 3  # flat: nothing to close
            assert (await h.stack.balances())["BTC"] == 0

    *buys, close = await orders_of(store)
    assert [b.side for b in buys] == [Side.BUY, Side.BUY]
    assert (close.side, close.quantity, close.reason, close.status) == (
        Side.SELL,
        Decimal("0.033"),
        "done",
        OrderStatus.FILLED,
    )


async def test_state_is_stored_and_a_new_runner_continues_from_it(store: AsyncStore, tmp_path: Path) -> None:
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {}

        def on_start():
            set_state("starts", get_state("starts", 0) + 1)
            set_state("n_at_start", get_state("n", 0))

        def on_kline(kline):
            set_state("n", get_state("n", 0) + 1)
            set_state("closes", get_state("closes", []) + [kline["close"]])
            return None
        """,
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            async with trio.open_nursery() as first_run:
                runner = await h.start(file, nursery=first_run)
                for close in (20010.0, 20011.5, 20012.0):
                    await h.feed(runner, close)
                first_run.cancel_scope.cancel()
            assert await store.strategy_state("paper", SYMBOL, "probe") == {
                "starts": 1,
                "n_at_start": 0,
                "n": 3,
                "closes": [20010.0, 20011.5, 20012.0],
            }
            # Another strategy's state is its own.
            assert await store.strategy_state("paper", SYMBOL, "other") == {}

            restarted = await h.start(file)
            await h.feed(restarted, 20013.0)
    assert await store.strategy_state("paper", SYMBOL, "probe") == {
        "starts": 2,
        "n_at_start": 3,
        "n": 4,
        "closes": [20010.0, 20011.5, 20012.0, 20013.0],
    }


async def test_history_returns_columns_with_the_warmup_included(store: AsyncStore, tmp_path: Path) -> None:
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            set_state("all", history(1000))
            set_state("last3", history(3))
            return None
        """,
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            # Other symbols and intervals are not this runner's klines.
            other = Kline("ETHUSDT", "1m", 0, 1.0, 1.0, 1.0, 1.0, 1.0)
            await runner.mailbox.send(KlineDataMsg("paper", other))
            await runner.mailbox.send(KlineDataMsg("paper", replace(h.next_kline(1.0), interval="5m")))
            await h.feed(runner, 20010.0, volume=2.5)
            state = await store.strategy_state("paper", SYMBOL, "probe")

    klines = [*h.warmup, *h.fed]
    assert len(klines) == 26  # 25 warm-up klines from the exchange, then the one fed
    columns = state["all"]
    assert set(columns) == {"open", "high", "low", "close", "volume", "timestamp"}
    for name in ("open", "high", "low", "close", "volume", "timestamp"):
        assert columns[name] == [getattr(k, name) for k in klines]
    assert state["last3"]["close"] == [k.close for k in klines[-3:]]
    assert state["last3"]["volume"][-1] == 2.5


async def test_the_builtins_strategies_rely_on(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {"interval": "1m", "size": 0.01, "label": "default"}

        def on_kline(kline):
            if get_state("bought", False):
                set_state("probe", {
                    "size": get_config("size"),
                    "label": get_config("label"),
                    "missing": get_config("missing", "fallback"),
                    "position": position(),
                    "usdt": balance("usdt"),
                    "btc": balance("BTC"),
                    "nothing": balance("DOGE"),
                    "now": now(),
                    "round": round(2.567, 2),
                    "round0": round(2.5),
                    "sum": sum([1, 2.5]),
                    "sma": sma([1.0, 2.0, 3.0], 2)[-1],
                    "ema": ema([1.0, 2.0, 3.0], 2)[-1],
                })
                log("checked", 1, kline["close"])
                print("printed")
                return None
            set_state("bought", True)
            return {"action": "buy", "quantity": get_config("size")}
        """,
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file, config={"size": 0.02})
            await h.feed(runner, 20010.0)
            await h.feed(runner, 20020.0)
            probe = (await store.strategy_state("paper", SYMBOL, "probe"))["probe"]
            last = h.fed[-1]

    assert probe["size"] == 0.02  # the configuration overrides settings()
    assert probe["label"] == "default"
    assert probe["missing"] == "fallback"
    assert probe["position"] == {"quantity": 0.02, "average_price": float(BEST_ASK), "realized_pnl": 0.0}
    assert probe["usdt"] == pytest.approx(19599.36977)  # 20000 - 400.23 - 0.40023 fee
    assert probe["btc"] == pytest.approx(0.02)
    assert probe["nothing"] == 0.0
    assert probe["now"] == last.timestamp
    assert (probe["round"], probe["round0"], probe["sum"]) == (2.57, 2.0, 3.5)
    assert probe["sma"] == pytest.approx(2.5)
    assert probe["ema"] == pytest.approx(2.5)
    (line,) = logged(log_messages, "strategy.log")
    assert line["message"] == "checked 1 20020.0"
    (printed,) = logged(log_messages, "strategy.print")
    assert printed["message"] == "printed"


BROKEN = {
    "syntax error": ("def settings():\n    return {\n\ndef on_kline(k):\n    return None\n", "probe.star:4:"),
    "undefined name": (
        "def settings():\n    return {}\n\ndef on_kline(k):\n    return nope(k)\n",
        "undefined: nope",
    ),
    "no settings": ("def on_kline(k):\n    return None\n", "must define settings()"),
    "no data callback": ("def settings():\n    return {}\n", "on_kline"),
    "settings not a dict": ("def settings():\n    return [1]\n\ndef on_kline(k):\n    return None\n", "dict"),
    "settings fails": (
        "def settings():\n    return 1 // 0\n\ndef on_kline(k):\n    return None\n",
        "division",
    ),
    "bad interval": (
        "def settings():\n    return {'interval': '2m'}\n\ndef on_kline(k):\n    return None\n",
        "'2m'",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
async def test_a_broken_strategy_fails_its_health_and_keeps_draining_its_mailbox(
    store: AsyncStore, tmp_path: Path, kind: str
) -> None:
    source, fragment = BROKEN[kind]
    file = write_strategy(tmp_path, source)
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            health = h.health.get(runner.health_name)
            assert health.state == "failed"
            assert health.detail is not None and fragment in health.detail
            assert runner.load_error == health.detail
            assert runner.script is None
            # Far more than the mailbox holds: the router sending market data never blocks on it.
            for _ in range(1000):
                await runner.mailbox.send(KlineDataMsg("paper", h.next_kline(20010.0)))
            events = await store.list_events(kind="strategy.load_failed")
            assert [(e.strategy, e.symbol, e.exchange) for e in events] == [("probe", SYMBOL, "paper")]
            assert fragment in events[0].data["error"]
            assert await store.list_orders() == []


async def test_a_broken_strategy_answers_status_requests_with_its_load_error(
    store: AsyncStore, tmp_path: Path
) -> None:
    """GetStatusMsg has a ``load_error`` field: a failed runner must answer with it, not leave the requester
    (the health API, ``mm`` status) waiting for its whole timeout."""
    file = write_strategy(tmp_path, BROKEN["undefined name"][0])
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            answer = await runner.mailbox.request(GetStatusMsg(), 1.0)
    assert "undefined: nope" in answer["load_error"]


async def test_state_json_cannot_hold_is_a_strategy_error_not_a_crash(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    """sma() is NaN during its warm-up; storing it must be reported against the strategy, and the runner
    must carry on (a crash would restart it into the same error on every kline)."""
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            closes = history(30)["close"]
            set_state("fast", sma(closes, 50)[-1])
            return None
        """,
    )
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            await h.feed(runner, 20010.0)
            after = await h.feed(runner, 20011.0)
            assert after["errors"] == 2
    assert logged(log_messages, "strategy.error")
