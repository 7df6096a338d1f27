"""``FakeBybit``: the fake exchange as one object, served on 127.0.0.1 by hypercorn.

::

    async with running_fake() as fake:           # REST and WebSockets on a free port
        fake.add_account("KEY", "SECRET", {"USDT": Decimal(10_000)})
        options = {"rest_url": fake.rest_url, "ws_public_url": fake.ws_public_url("spot"),
                   "ws_private_url": fake.ws_private_url}
        fake.set_price("BTCUSDT", Decimal("60100"))   # resting orders the price passes fill
        fake.faults.fail_next(2, status=503)           # the next two REST requests fail

Every fault and market move is also reachable from another process through ``POST /fake/control``
(:meth:`FakeBybit.control`), which is how the end-to-end tests drive a fake started with
``python -m marketmaestro_bybit.testing``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from marketmaestro_bybit.testing.app import create_app
from marketmaestro_bybit.testing.faults import Faults
from marketmaestro_bybit.testing.hub import FakeHub
from marketmaestro_bybit.testing.marketdata import FakeInstrument, fmt
from marketmaestro_bybit.testing.venue import Venue

__all__ = ["FakeBybit", "running_fake"]


class FakeBybit:
    """A Bybit V5 environment on loopback: venue, WebSocket hub, faults and the app serving them."""

    def __init__(
        self,
        instruments: Iterable[FakeInstrument] | None = None,
        *,
        clock_offset_ms: int = 0,
        kline_lag_ms: int = 86_400_000,
        history: int = 1500,
        levels: int = 10,
        seed: int = 7,
        enforce_rate_limits: bool = True,
    ) -> None:
        self.venue = Venue(
            instruments, clock_offset_ms=clock_offset_ms, kline_lag_ms=kline_lag_ms, history=history,
            levels=levels, seed=seed,
        )  # fmt: skip
        self.faults = Faults()
        self.hub = FakeHub(self.venue, self.faults)
        self.venue.hub = self.hub
        self.enforce_rate_limits = enforce_rate_limits
        self.app = create_app(self)
        self.base_url = ""
        """``http://127.0.0.1:<port>`` once serving."""

    # --- addresses ----------------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return self.base_url

    def ws_public_url(self, category: str = "spot") -> str:
        return self.base_url.replace("http://", "ws://") + f"/v5/public/{category}"

    @property
    def ws_private_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/v5/private"

    def urls(self) -> dict[str, str]:
        return {
            "rest_url": self.rest_url,
            "ws_public_spot": self.ws_public_url("spot"),
            "ws_public_linear": self.ws_public_url("linear"),
            "ws_private_url": self.ws_private_url,
            "control_url": self.base_url + "/fake/control",
        }

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        task_status: trio.TaskStatus[dict[str, str]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled; ``started()`` with :meth:`urls`."""
        config = HypercornConfig()
        config.bind = [f"{host}:{port}"]
        config.accesslog = None
        # Through stdlib logging (silent unless configured) instead of hypercorn's own stderr lines.
        config.errorlog = logging.getLogger("marketmaestro_bybit.testing.server")
        config.graceful_timeout = 0.5
        config.websocket_ping_interval = None

        async def serving(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
            await serve(self.app, config, task_status=task_status)

        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serving)
            self.base_url = next(b for b in binds if b.startswith("http://"))
            task_status.started(self.urls())

    # --- the test's levers --------------------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        api_secret: str,
        balances: dict[str, Decimal] | None = None,
        *,
        can_trade: bool = True,
    ) -> None:
        """An account reachable with ``api_key``/``api_secret`` (``can_trade=False``: a read-only key)."""
        self.venue.add_account(api_key, api_secret, balances, can_trade=can_trade)

    def revoke_key(self, api_key: str) -> None:
        """Delete an API key (its account stays): requests and ``auth`` with it are refused from now on."""
        self.venue.accounts[f"revoked:{api_key}"] = self.venue.accounts.pop(api_key)

    def set_balance(self, api_key: str, coin: str, amount: Decimal) -> None:
        self.venue.set_balance(api_key, coin, amount)

    def set_price(self, symbol: str, price: Decimal, category: str = "spot") -> None:
        """Move the market: resting orders the price passes fill, conditional orders it reaches fire."""
        self.venue.set_price(category, symbol, price)

    def close_kline(self, symbol: str, category: str = "spot", count: int = 1) -> None:
        """Close ``count`` running minutes of ``symbol`` (subscribers get the confirmed candles)."""
        for _ in range(count):
            self.venue.close_kline(category, symbol)

    def remove_klines(self, symbol: str, start: int, end: int, category: str = "spot") -> int:
        """A stretch without trades from ``start`` to ``end`` (ms, ``end`` excluded): the closed minutes that
        open in it are gone, so the kline endpoint serves nothing there (as for the time before a listing);
        how many minutes were removed."""
        market = self.venue.market(category, symbol)
        kept = [c for c in market.candles if not start <= c.start < end]
        removed = len(market.candles) - len(kept)
        market.candles[:] = kept
        return removed

    def drop_connections(self, kind: str = "all") -> int:
        """Close WebSocket connections: ``spot``, ``linear``, ``public``, ``private`` or ``all``."""
        return self.hub.drop(kind)

    def skip_sequence(self, symbol: str, category: str = "spot") -> None:
        """The next book update of ``symbol`` skips an update id (a lost delta)."""
        self.venue.skip_sequence(category, symbol)

    def book(
        self, symbol: str, category: str = "spot", depth: int = 50
    ) -> tuple[list[tuple[Decimal, Decimal]], ...]:
        """The fake's book: bids and asks best first, at most ``depth`` levels each."""
        bids, asks = self.venue.levels(category, symbol)
        return bids[:depth], asks[:depth]

    def orders(self, api_key: str) -> list[dict[str, Any]]:
        """Every order of the account in Bybit's JSON, oldest first."""
        account = self.venue.accounts[api_key]
        return [o.json() for o in sorted(account.orders.values(), key=lambda o: o.created)]

    def executions(self, api_key: str) -> list[dict[str, Any]]:
        return list(self.venue.accounts[api_key].executions)

    # --- control from another process ---------------------------------------------------------------------

    def control(self, payload: dict[str, Any]) -> Any:
        """Run one action of ``POST /fake/control``; unknown actions and bad arguments raise."""
        args: dict[str, Any] = dict(payload)
        action = args.pop("action")
        for key in ("price", "amount"):
            if key in args:
                args[key] = Decimal(str(args[key]))
        if action == "add_account" and "balances" in args:
            args["balances"] = {coin: Decimal(str(v)) for coin, v in args["balances"].items()}
        actions: dict[str, Callable[..., Any]] = {
            "add_account": self.add_account,
            "set_balance": self.set_balance,
            "revoke_key": self.revoke_key,
            "set_price": self.set_price,
            "close_kline": self.close_kline,
            "remove_klines": self.remove_klines,
            "drop_connections": self.drop_connections,
            "skip_sequence": self.skip_sequence,
            "fail_next": self.faults.fail_next,
            "rate_limit_next": self.faults.rate_limit_next,
            "delay_next": self.faults.delay_next,
            "ban": self.faults.ban,
            "malformed_next": self.faults.malformed_next,
        }
        if action not in actions:
            raise ValueError(f"unknown action {action!r}; expected one of {', '.join(sorted(actions))}")
        return actions[action](**args)

    def state(self, api_key: str | None) -> dict[str, Any]:
        """What ``GET /fake/state?key=...`` returns: the account's orders, executions, wallet, positions."""
        state: dict[str, Any] = {"answered": dict(self.faults.answered), "connections": self.hub.connections}
        account = self.venue.accounts.get(api_key or "")
        if account is not None:
            state |= {
                "orders": self.orders(account.api_key),
                "executions": self.executions(account.api_key),
                "wallet": {coin: fmt(amount) for coin, amount in account.wallet.items()},
                "positions": {s: fmt(p.size) for s, p in account.positions.items()},
            }
        return state


@asynccontextmanager
async def running_fake(**kwargs: Any) -> AsyncIterator[FakeBybit]:
    """A :class:`FakeBybit` served on a free loopback port for the duration of the block."""
    fake = FakeBybit(**kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.serve)
        try:
            yield fake
        finally:
            nursery.cancel_scope.cancel()
