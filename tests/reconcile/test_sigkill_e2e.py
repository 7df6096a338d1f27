"""SIGKILL at points of an order's life, then restart: the real ``mm run`` (its own process, a real SQLite
file) trading on the Bybit plugin's fake (``python -m marketmaestro_bybit.testing`` on 127.0.0.1).

After each restart: every execution of the account on the fake is one stored fill (no fill lost, none
counted twice), no client order id was placed twice, the stored orders agree with the fake's, and the
stored balances are the fake's wallet. Waits poll with deadlines; nothing asserts how long anything took.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import clean_environ, free_port, mm_command

KEY = "KILLKEY0001"
SECRET = "KILL-FAKE-BYBIT-SECRET-7d1e"
TOKEN = "kill-api-token-5c2d"
DEADLINE = 25.0
ACTIVE = ("created", "submitted", "accepted", "triggered", "partially_filled")

BUY_ONCE = """\
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if position()["quantity"] == 0 and len(open_orders()) == 0:
        return {"action": "buy", "quantity": %(quantity)s, "type": "%(type)s", %(price)s"reason": "once"}
    return {"action": "hold"}
"""

TRAIL = """\
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if get_state("trailing", False):
        return {"action": "hold"}
    if position()["quantity"] == 0:
        return {"action": "buy", "quantity": 0.01, "type": "market", "reason": "entry"}
    set_state("trailing", True)
    # 0.009: the wallet holds 0.01 less the fee, which Bybit charges in BTC.
    return {"action": "sell", "quantity": 0.009, "type": "trailing_stop", "trail_percent": 1,
            "reason": "trail"}
"""


class Fake:
    """The fake Bybit in a process of its own, with one funded account; its control and state."""

    def __init__(self, folder: Path) -> None:
        self.errors = (folder / "fake-err.txt").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "marketmaestro_bybit.testing", "--port", "0", "--account",
             f"{KEY}:{SECRET}", "--balance", "USDT=100000", "--kline-seconds", "0.3"],
            stdout=subprocess.PIPE, stderr=self.errors, text=True, env=clean_environ(),
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the fake did not start"
        self.urls: dict[str, str] = json.loads(line)

    def control(self, action: str, **args: Any) -> None:
        url = f"{self.urls['rest_url']}/fake/control"
        response = httpx.post(url, json={"action": action, **args}, timeout=5)
        assert response.status_code == 200, response.text

    def state(self) -> dict[str, Any]:
        url = f"{self.urls['rest_url']}/fake/state"
        state: dict[str, Any] = httpx.get(url, params={"key": KEY}, timeout=5).json()
        return state

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.errors.close()


class Bot:
    """``mm run`` in ``folder`` trading BTC on exchange ``key`` with one strategy, started again after each
    kill with the same database."""

    def __init__(
        self, folder: Path, key: str, exchange: dict[str, Any], strategy: str, env: dict[str, str]
    ) -> None:
        self.folder = folder
        self.db = folder / "bot.db"
        self.env = clean_environ(MM_API__TOKEN=TOKEN, **env)
        (folder / "s.star").write_text(strategy)
        settings = {
            "database": {"path": "bot.db"},
            "api": {"host": "127.0.0.1", "port": free_port()},
            "logging": {"file": "logs/bot.log", "level": "info"},
            "exchanges": {key: exchange},
        }
        (folder / "settings.yaml").write_text(yaml.safe_dump(settings))
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        with (self.folder / f"bot-err-{self.runs}.txt").open("w") as errors:
            self.process = subprocess.Popen(
                [*mm_command(), "run"],
                cwd=self.folder,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """A graceful stop (SIGINT), which must succeed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=20)
        errors = (self.folder / f"bot-err-{self.runs}.txt").read_text()
        assert code == 0, errors[-3000:]

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
            try:
                return conn.execute(query).fetchall()
            except sqlite3.OperationalError:  # no tables yet, or the bot is writing
                return []

    def trading(self) -> bool:
        """Whether this run reconciled, started its strategies and subscribed to market data."""
        log = self.folder / "logs" / "bot.log"
        return log.exists() and log.read_text().count('"exchange.started"') >= self.runs

    def reconciled(self) -> bool:
        """Whether this run's start-up reconciliation finished (one ``reconcile.completed`` per start)."""
        return len(self.rows("select id from events where kind = 'reconcile.completed'")) >= self.runs


def wait_for(probe: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = probe()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@contextmanager
def bot_on_fake(folder: Path, strategy: str) -> Iterator[tuple[Bot, Fake]]:
    fake = Fake(folder)
    options = {
        "rest_url": fake.urls["rest_url"],
        "ws_public_url": fake.urls["ws_public_spot"],
        "ws_private_url": fake.urls["ws_private_url"],
    }
    pair = {"symbol": "BTCUSDT", "strategies": [{"name": "s", "file": "s.star"}]}
    keys = {"MM_EXCHANGES__BYBIT__API_KEY": KEY, "MM_EXCHANGES__BYBIT__API_SECRET": SECRET}
    bot = Bot(folder, "bybit", {"mode": "testnet", "options": options, "pairs": [pair]}, strategy, keys)
    try:
        fake.control("set_price", symbol="BTCUSDT", price="30000")
        yield bot, fake
    finally:
        bot.close()
        fake.close()
    log = (folder / "logs" / "bot.log").read_text()
    assert SECRET not in log and TOKEN not in log


def settled(bot: Bot) -> bool:
    """No order of the bot is still on its way (created/submitted) and the start-up reconciliation ran."""
    pending = bot.rows("select status from orders where status in ('created', 'submitted')")
    return bot.reconciled() and not pending


def check_against_the_exchange(bot: Bot, fake: Fake) -> None:
    """No fill lost or doubled, no client order id placed twice, orders and balances as on the exchange."""
    state = fake.state()
    link_ids = [o["orderLinkId"] for o in state["orders"]]
    assert len(link_ids) == len(set(link_ids)), f"a client order id was placed twice: {link_ids}"
    fills = bot.rows("select fill_id, client_order_id, quantity from fills")
    assert sorted(f[0] for f in fills) == sorted(e["execId"] for e in state["executions"])
    stored = {
        row[0]: row[1:] for row in bot.rows("select client_order_id, status, filled_quantity from orders")
    }
    for order in state["orders"]:
        status, filled = stored[order["orderLinkId"]]
        assert Decimal(filled) == Decimal(order["cumExecQty"]), (order, status, filled)
        assert (status == "filled") == (order["orderStatus"] == "Filled"), (order, status)
    for client_order_id, (status, _) in stored.items():
        if client_order_id not in link_ids:  # never reached the exchange: ended here, never traded
            assert status in ("cancelled", "rejected") or status == "accepted", (client_order_id, status)
    balances = {asset: Decimal(free) + Decimal(locked) for asset, free, locked in bot.rows(
        "select asset, free, locked from balances where exchange = 'bybit'")}  # fmt: skip
    wallet = {coin: Decimal(amount) for coin, amount in state["wallet"].items() if Decimal(amount)}
    assert {a: v for a, v in balances.items() if v} == wallet
    reports = [
        json.loads(d) for (d,) in bot.rows("select data from events where kind = 'reconcile.completed'")
    ]
    assert len(reports) >= bot.runs and all(r["unexplained"] == [] for r in reports), reports


def test_killed_after_sending_before_the_answer(tmp_path: Path) -> None:
    strategy = BUY_ONCE % {"quantity": "0.01", "type": "market", "price": ""}
    with bot_on_fake(tmp_path, strategy) as (bot, fake):
        fake.control("delay_next", seconds=3.0, path="/v5/order/create")  # the answer comes late
        bot.start()
        wait_for(lambda: bot.rows("select 1 from orders where status = 'submitted'"), "an order being sent")
        time.sleep(0.5)  # the request is on its way to the fake, which answers in 3 s
        bot.kill()
        # The fake may or may not carry it out (the connection is gone): either way is fine, but known.
        time.sleep(3.5)
        bot.start()
        wait_for(lambda: settled(bot) and bot.rows("select 1 from orders where status = 'filled'"), "a fill")
        bot.stop()
        check_against_the_exchange(bot, fake)


def test_killed_between_two_fills_of_an_order(tmp_path: Path) -> None:
    # 1.5 BTC at the best ask: the maker's 1 BTC there fills at once, the rest rests on the book.
    strategy = BUY_ONCE % {"quantity": "1.5", "type": "limit", "price": '"price": 30000.01, '}
    with bot_on_fake(tmp_path, strategy) as (bot, fake):
        bot.start()
        [(client_order_id,)] = wait_for(
            lambda: bot.rows("select client_order_id from orders where status = 'partially_filled'"),
            "the first fill",
        )
        bot.kill()
        fake.control("set_price", symbol="BTCUSDT", price="29990")  # the rest fills while the bot is down
        assert [o["orderStatus"] for o in fake.state()["orders"]] == ["Filled"]
        bot.start()
        wait_for(
            lambda: bot.rows(f"select 1 from orders where client_order_id = '{client_order_id}' and "
                             "status = 'filled'"),
            "the fill missed while down",
        )  # fmt: skip
        wait_for(lambda: settled(bot), "start-up reconciliation")
        bot.stop()
        check_against_the_exchange(bot, fake)
        missed = bot.rows("select data from events where kind = 'reconcile.missed_fill'")
        assert len(missed) == 1 and client_order_id in missed[0][0]


def test_killed_during_an_emulated_trailing_stop(tmp_path: Path) -> None:
    with bot_on_fake(tmp_path, TRAIL) as (bot, fake):
        bot.start()
        query = "select client_order_id, watermark from orders where type = 'trailing_stop' and status = "
        query += "'accepted'"
        wait_for(lambda: bot.rows(query), "the trailing stop")
        fake.control("set_price", symbol="BTCUSDT", price="31000")
        [(trail_id, mark)] = wait_for(
            lambda: [r for r in bot.rows(query) if r[1] and Decimal(r[1]) >= 31000], "the water mark to move"
        )
        bot.kill()
        bot.start()
        wait_for(lambda: settled(bot), "start-up reconciliation")
        assert [r[0] for r in bot.rows(query)] == [trail_id]  # resumed, with its mark, not placed again
        assert Decimal(bot.rows(query)[0][1]) >= Decimal(mark)
        fake.control("set_price", symbol="BTCUSDT", price="30500")  # more than 1 % under the mark
        wait_for(
            lambda: bot.rows(
                f"select 1 from orders where client_order_id = '{trail_id}' and status = 'filled'"
            ),
            "the trailing stop to trigger and fill",
        )
        bot.stop()
        check_against_the_exchange(bot, fake)
        sells = [o for o in fake.state()["orders"] if o["side"] == "Sell"]
        assert [o["orderLinkId"] for o in sells] == [trail_id]


@contextmanager
def bitvavo_fake(folder: Path) -> Iterator[dict[str, str]]:
    """The fake Bitvavo in a process of its own (BTC-EUR at 30000): its URLs and keys."""
    with (folder / "fake-err.txt").open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "marketmaestro_bitvavo.testing", "--port", "0",
             "--price", "BTC-EUR=30000"],
            stdout=subprocess.PIPE, stderr=errors, text=True, env=clean_environ(),
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line, "the fake did not start"
            yield json.loads(line)
        finally:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def test_killed_after_the_exchange_filled_before_its_answer(tmp_path: Path) -> None:
    """The fake Bitvavo carries the order out, then answers late: the bot dies before the answer."""
    with bitvavo_fake(tmp_path) as fake:

        def control(command: str, **args: Any) -> Any:
            response = httpx.post(f"{fake['control_url']}/{command}", json=args, timeout=5)
            assert response.status_code == 200, response.text
            return response.json()

        options = {
            "rest_url": fake["rest_url"],
            "ws_url": fake["ws_url"],
            "live_orders": True,
            "operator_id": 1,
        }
        pair = {"symbol": "BTCEUR", "strategies": [{"name": "s", "file": "s.star"}]}
        keys = {
            "MM_EXCHANGES__BITVAVO__API_KEY": fake["api_key"],
            "MM_EXCHANGES__BITVAVO__API_SECRET": fake["api_secret"],
        }
        strategy = BUY_ONCE % {"quantity": "0.001", "type": "market", "price": ""}
        bot = Bot(tmp_path, "bitvavo", {"mode": "live", "options": options, "pairs": [pair]}, strategy, keys)
        try:
            bot.start()
            wait_for(bot.trading, "the bot to trade")
            control("slow_next", seconds=5, path="/order")  # done at once, answered 5 s later
            now = int(time.time() * 1000)  # a trade in a minute already over closes a candle at once
            control("set_price", market="BTC-EUR", price="30010", timestamp=now - now % 60_000 - 60_000)

            def state() -> dict[str, Any]:
                found: dict[str, Any] = httpx.get(f"{fake['control_url']}/state", timeout=5).json()
                return found

            wait_for(lambda: state()["orders"], "the order on the exchange")
            bot.kill()  # the answer is still on its way
            bot.start()
            wait_for(
                lambda: settled(bot) and bot.rows("select 1 from orders where status = 'filled'"), "a fill"
            )
            bot.stop()
        finally:
            bot.close()
        venue = state()
        [order] = venue["orders"]  # placed once
        [(client_order_id, status, filled)] = bot.rows(
            "select client_order_id, status, filled_quantity from orders"
        )
        assert order["clientOrderId"].replace("-", "") == client_order_id.removeprefix("mm-")
        assert (status, Decimal(filled)) == ("filled", Decimal(order["amount"]))
        fills = bot.rows("select quantity from fills")
        assert sorted(Decimal(q) for (q,) in fills) == sorted(Decimal(t["amount"]) for t in venue["trades"])
        balances = {
            a: Decimal(f) + Decimal(lk) for a, f, lk in bot.rows("select asset, free, locked from balances")
        }
        wallet = {b["symbol"]: Decimal(b["available"]) + Decimal(b["inOrder"]) for b in venue["balances"]}
        assert {a: v for a, v in balances.items() if v} == {a: v for a, v in wallet.items() if v}
