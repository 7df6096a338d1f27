"""The Bybit V5 adapter: MarketMaestro's ``Exchange`` interface over Bybit's REST and WebSocket APIs.

One configured exchange trades one category (``spot`` or ``linear``) in one mode:

- ``testnet`` (the default) and ``live`` need an API key and secret; ``connect`` checks them with a
  wallet request, so a wrong key stops the start with one clear error;
- ``paper`` sends no key and makes no private call: the plugin's factory wraps this adapter, as the
  market data feed, in the core's paper exchange.

The parts: :mod:`.rest` (signed HTTP), :mod:`.market` (public data), :mod:`.trading` (orders and
records), :mod:`.public` and :mod:`.private` (WebSocket streams).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges import (
    AccountEvent,
    BalanceUpdate,
    Exchange,
    ExchangeContext,
    FillUpdate,
    OrderResult,
    OrderUpdate,
    PositionUpdate,
    Subscription,
)
from marketmaestro.logs import log_event
from marketmaestro.messages import MarketDataMsg
from marketmaestro.model import Balance, Fill, Instrument, Kline, Order, OrderType, Position
from marketmaestro_bybit.convert import parse_balances, parse_position
from marketmaestro_bybit.errors import BybitFatal, BybitRejected
from marketmaestro_bybit.market import MAX_KLINES, MarketData
from marketmaestro_bybit.options import BybitOptions
from marketmaestro_bybit.orders import CONDITIONAL
from marketmaestro_bybit.private import PrivateStream
from marketmaestro_bybit.public import PublicStream
from marketmaestro_bybit.rest import BybitRest
from marketmaestro_bybit.trading import Trading

__all__ = ["BybitExchange"]


class BybitExchange(Exchange):
    """Bybit V5, spot or linear perpetuals. See the module docstring."""

    capabilities = {
        **Exchange.capabilities,
        "market_orders": True,
        "limit_orders": True,
        "time_in_force": True,
        "native_stop_orders": True,
        "native_take_profit": True,
        "native_trailing_stop": False,
        "amend": True,
        "post_only": True,
        "private_stream": True,
        "order_history": True,
        "fills_history": True,
        "public_trades": True,
    }

    def __init__(self, context: ExchangeContext) -> None:
        super().__init__(context)
        self.options = context.options if isinstance(context.options, BybitOptions) else BybitOptions()
        self.mode = context.mode
        linear = self.options.category == "linear"
        self.capabilities = {**type(self).capabilities, "reduce_only": linear, "derivatives": linear}
        config = context.config
        paper = self.mode == "paper"
        # In paper mode the keys are never even read: no private call can be made by mistake.
        self._key = config.api_key.get_secret_value() if config.api_key and not paper else None
        self._secret = config.api_secret.get_secret_value() if config.api_secret and not paper else None
        self._connected = False
        self._instruments: dict[str, Instrument] = {}
        self.rest = self._new_rest()
        self.market = MarketData(self.rest, self.options.category)
        self.trading = Trading(
            self.rest,
            exchange=self.name,
            category=self.options.category,
            settle_coin=self.options.settle_coin,
            fill_wait=self.options.fill_wait,
        )

    def _new_rest(self) -> BybitRest:
        opts = self.options
        return BybitRest(
            opts.rest_base(self.mode),
            category=opts.category,
            api_key=self._key,
            api_secret=self._secret,
            recv_window=opts.recv_window,
            timeout=opts.request_timeout,
            headroom=opts.rate_limit_headroom,
            max_rate_limit_wait=opts.max_rate_limit_wait,
            ban_backoff=opts.ban_backoff,
        )

    def __repr__(self) -> str:
        return f"BybitExchange(name={self.name!r}, mode={self.mode!r}, category={self.options.category!r})"

    # --- session ------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        if self.mode != "paper" and not (self._key and self._secret):
            variable = f"MM_EXCHANGES__{self.name.upper()}"
            raise BybitFatal(
                f"exchanges.{self.name}: Bybit {self.mode} needs api_key and api_secret; put them in "
                f".secrets.yaml or set {variable}__API_KEY and {variable}__API_SECRET"
            )
        if self.rest.closed:
            self.rest = self._new_rest()
            self.market.rest = self.trading.rest = self.rest
        await self.rest.sync_time()
        self._instruments = await self.market.instruments()
        missing = sorted({p.symbol for p in self.context.config.pairs} - set(self._instruments))
        if missing:
            raise BybitFatal(
                f"exchanges.{self.name}: Bybit {self.options.category} does not list {', '.join(missing)} "
                "(check the symbols, and options.category: spot or linear)"
            )
        if self.mode != "paper":
            # One signed call proves key, secret, environment and permissions before anything trades.
            await self.balances()
        self._connected = True
        log_event(
            "bybit.connected",
            exchange=self.name,
            mode=self.mode,
            category=self.options.category,
            clock_offset_ms=self.rest.offset_ms,
            instruments=len(self._instruments),
        )

    async def disconnect(self) -> None:
        self._connected = False
        await self.rest.aclose()

    def is_connected(self) -> bool:
        return self._connected

    def _account(self) -> None:
        if self.mode == "paper":
            raise BybitFatal(
                f"exchange {self.name!r} runs in paper mode: no orders or account calls go to Bybit"
            )

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise BybitRejected(f"Bybit {self.options.category} has no instrument {symbol!r}")
        return instrument

    # --- market data --------------------------------------------------------------------------------------

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            self._instruments = await self.market.instruments()
        return dict(self._instruments)

    async def server_time(self) -> int:
        return await self.market.server_time()

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        return await self.market.klines(symbol, interval, limit, start=start, end=end)

    async def _backfill(self, symbol: str, interval: str, start: int | None) -> list[Kline]:
        if start is None:
            return await self.market.klines(symbol, interval, 1)
        return await self.market.klines(symbol, interval, MAX_KLINES, start=start)

    def public_stream(self, subscription: Subscription, emit: Any) -> PublicStream:
        """The public stream object (exposed for tests and tools that want its counters)."""
        return PublicStream(
            exchange=self.name,
            url=self.options.ws_public(self.mode),
            options=self.options,
            emit=emit,
            klines=subscription.klines,
            tickers=subscription.tickers,
            orderbooks=subscription.orderbooks,
            trades=subscription.trades,
            backfill=self._backfill,
        )

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        if not subscription.symbols:
            task_status.started()
            await trio.sleep_forever()
        await self.public_stream(subscription, send.send).run(task_status=task_status)

    # --- trading ------------------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderResult:
        self._account()
        instrument = self._instrument(order.symbol)
        reference = None
        if order.type is OrderType.MARKET or order.type in CONDITIONAL:
            reference = await self.market.last_price(order.symbol)
        return await self.trading.place(order, instrument, reference)

    async def cancel_order(self, order: Order) -> Order:
        self._account()
        return await self.trading.cancel(order)

    async def amend_order(
        self, order: Order, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Order:
        self._account()
        return await self.trading.amend(order, self._instrument(order.symbol), quantity, price)

    async def get_order(self, order: Order) -> Order | None:
        self._account()
        return await self.trading.get(order)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        self._account()
        return await self.trading.open_orders(symbol)

    async def order_history(self, symbol: str | None = None, since: int | None = None) -> list[Order]:
        self._account()
        return await self.trading.history(symbol, since)

    async def fills(self, symbol: str | None = None, since: int | None = None) -> list[Fill]:
        self._account()
        return await self.trading.fills(symbol, since, self._instruments)

    # --- account ------------------------------------------------------------------------------------------

    async def balances(self) -> list[Balance]:
        self._account()
        result = await self.rest.get(
            "/v5/account/wallet-balance", {"accountType": self.options.account_type}, signed=True
        )
        accounts = result.get("list") or []
        return parse_balances(accounts[0]) if accounts else []

    async def positions(self) -> list[Position]:
        self._account()
        if self.options.category != "linear":
            return []
        params = {"category": "linear", "settleCoin": self.options.settle_coin, "limit": 200}
        items = await self.rest.paginate("/v5/position/list", params)
        positions = [parse_position(item, self.name) for item in items]
        return [p for p in positions if p.quantity != 0]

    async def private_stream(
        self,
        send: trio.MemorySendChannel[AccountEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self._account()
        assert self._key is not None and self._secret is not None
        stream = PrivateStream(
            exchange=self.name,
            url=self.options.ws_private(self.mode),
            options=self.options,
            api_key=self._key,
            api_secret=self._secret,
            server_now=self.rest.server_now,
            instruments=self._instruments.get,
            catch_up=self._catch_up,
            emit=send.send,
        )
        await stream.run(task_status=task_status)

    async def _catch_up(self, since: int | None) -> list[AccountEvent]:
        """The account's state over REST, and with ``since`` what happened after it (oldest first)."""
        events: list[AccountEvent] = []
        if since is not None:
            events += [OrderUpdate(o) for o in await self.order_history(None, since)]
            events += [FillUpdate(f) for f in await self.fills(None, since)]
        events += [OrderUpdate(o) for o in await self.open_orders(None)]
        events.append(BalanceUpdate(tuple(await self.balances()), complete=True))
        if self.options.category == "linear":
            events.append(PositionUpdate(tuple(await self.positions())))
        return events

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "mode": self.mode,
            "category": self.options.category,
            "clock_offset_ms": self.rest.offset_ms,
            "rate_limited": self.rest.rate_limited,
        }
