"""The paper exchange: a simulated account that fills market orders at the market's best price.

The market is either the built-in simulator or, with a ``feed``, another exchange's public data (paper
trading on a live venue's prices, no API keys); see :mod:`marketmaestro.exchanges.paper.market`.

Orders fill at the best ask (buys) or best bid (sells), rounded to the instrument's tick, with the configured
fee charged in the quote currency. After every fill the account's balances and the venue's record of the
order and its fill are stored in the database in one transaction, before the fill is reported, so a restart
continues from where the last run stopped and never fills one ``client_order_id`` twice.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges.base import (
    AccountEvent,
    BalanceUpdate,
    Exchange,
    ExchangeContext,
    FillUpdate,
    OrderResult,
    OrderUpdate,
    Subscription,
)
from marketmaestro.exchanges.errors import FatalExchangeError, OrderRejected, RetryableError
from marketmaestro.exchanges.paper.market import FeedMarket, PaperMarket, SimulatedMarket, price_decimal
from marketmaestro.exchanges.paper.options import PaperOptions
from marketmaestro.exchanges.paper.records import VenueRecord
from marketmaestro.exchanges.public import unwrap_feed
from marketmaestro.messages import MarketDataMsg
from marketmaestro.model import (
    Balance,
    Fill,
    Instrument,
    Kline,
    Order,
    OrderStatus,
    OrderType,
    Side,
    now_ms,
)

PRIVATE_BUFFER = 10_000
"""Account events a private stream may fall behind by before it is ended with a ``RetryableError``."""


class PaperExchange(Exchange):
    """The paper exchange. ``feed``: an exchange whose public data replaces the simulator.

    Exchange plugins build one with ``PaperExchange(context, feed=<their public adapter>)`` when they run in
    paper mode; ``options`` then sets the account (balances, fee rate), which defaults to
    :class:`PaperOptions`' defaults unless ``context.options`` is a ``PaperOptions`` itself. Without a
    ``feed`` argument, ``options.feed`` names one to build through ``context.build_public``.
    """

    capabilities = {
        **Exchange.capabilities,
        "market_orders": True,
        "private_stream": True,
        "order_history": True,
        "fills_history": True,
        "paper": True,
    }
    private_buffer = PRIVATE_BUFFER
    """Account events a private stream may fall behind by (see :data:`PRIVATE_BUFFER`)."""

    def __init__(
        self, context: ExchangeContext, feed: Exchange | None = None, *, options: PaperOptions | None = None
    ) -> None:
        super().__init__(context)
        if options is None:
            options = context.options if isinstance(context.options, PaperOptions) else PaperOptions()
        self.options = options
        if feed is None and options.feed is not None:
            if context.build_public is None:
                raise FatalExchangeError(
                    f"exchanges.{self.name}.options.feed: {options.feed!r} cannot be built here "
                    "(no exchange plugins are available to this paper exchange)"
                )
            feed = context.build_public(options.feed, options.feed_options)
        if feed is not None:
            feed = unwrap_feed(feed)
            if isinstance(feed, PaperExchange):
                raise FatalExchangeError(
                    f"exchanges.{self.name}: the feed {feed.name!r} is a simulated paper exchange; "
                    "a feed must be an exchange with market data of its own"
                )
        self.feed = feed
        """The exchange whose public data this paper exchange trades on, or None for the simulator."""
        # Public trades come only from a feed that has them: the simulator makes klines, not a tape.
        public_trades = feed is not None and feed.capabilities.get("public_trades", False)
        self.capabilities = {**type(self).capabilities, "public_trades": public_trades}
        self.market: PaperMarket = (
            FeedMarket(self.name, feed)
            if feed is not None
            else SimulatedMarket(self.name, options, context.config_dir)
        )
        self._account_key = f"paper_exchange:{self.name}"
        self._orders_key = f"paper_exchange:{self.name}:orders"
        self._connected = False
        self._lock = trio.Lock()
        self._balances: dict[str, Decimal] = {}
        self._instruments: dict[str, Instrument] = {}
        self._fill_ids = itertools.count(1)
        self._subscribers: dict[trio.MemorySendChannel[AccountEvent], bool] = {}

    # --- set-up -------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        pairs = {pair.symbol for pair in self.context.config.pairs}
        self._instruments = await self.market.connect(pairs)
        stored = await self.context.store.get_setting(self._account_key, "balances")
        if stored:
            self._balances = {asset: Decimal(str(amount)) for asset, amount in stored.items()}
        else:
            self._balances = dict(self.options.balances)
            await self._save(())
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False
        await self.market.disconnect()

    def is_connected(self) -> bool:
        return self._connected

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        return await self.market.klines(symbol, interval, limit, start=start, end=end)

    async def server_time(self) -> int:
        return await self.market.server_time()

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        await self.market.stream(subscription, send, task_status=task_status)

    # --- trading ------------------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderResult:
        if not self._connected:
            raise RetryableError(f"paper exchange {self.name!r} is not connected")
        async with self._lock:
            known = await self._record(order.client_order_id)
            if known is not None:
                return _repeat(known, order)
            instrument = self._checked(order)
            level = await self.market.price(order.symbol, order.side)
            if level is None:
                raise RetryableError(f"no {order.symbol} price yet on {self.name}")
            price = instrument.round_price(price_decimal(level))
            problem = instrument.check_order(order.quantity, price)
            if problem is not None:
                raise OrderRejected(problem)
            notional = order.quantity * price
            fee = (notional * self.options.fee_rate).quantize(instrument.tick_size * Decimal("0.0001"))
            base_free = self._balances.get(instrument.base, Decimal(0))
            quote_free = self._balances.get(instrument.quote, Decimal(0))
            if order.side is Side.BUY and quote_free < notional + fee:
                raise OrderRejected(
                    f"insufficient balance: buying {order.quantity} {instrument.base} needs {notional + fee} "
                    f"{instrument.quote}, available {quote_free}"
                )
            if order.side is Side.SELL and base_free < order.quantity:
                raise OrderRejected(
                    f"insufficient balance: selling {order.quantity} {instrument.base}, available {base_free}"
                )
            venue_id = f"paper-{uuid.uuid4().hex[:16]}"
            fill = Fill(
                fill_id=f"{venue_id}-{next(self._fill_ids)}",
                client_order_id=order.client_order_id,
                exchange=self.name,
                symbol=order.symbol,
                side=order.side,
                quantity=order.quantity,
                price=price,
                fee=fee,
                fee_currency=instrument.quote,
                timestamp=now_ms(),
                strategy=order.strategy,
            )
            filled = order.with_status(
                OrderStatus.FILLED,
                venue_order_id=venue_id,
                filled_quantity=order.quantity,
                average_price=price,
            )
            before = dict(self._balances)
            sign = order.side.sign
            self._balances[instrument.base] = base_free + sign * order.quantity
            self._balances[instrument.quote] = quote_free - sign * notional - fee
            try:
                await self._save([VenueRecord(filled, (fill,))])
            except BaseException:
                self._balances = before  # not stored, so not filled
                raise
        self._publish(
            [OrderUpdate(filled), FillUpdate(fill), BalanceUpdate(tuple(await self.balances()), True)]
        )
        return OrderResult(filled, (fill,))

    def _checked(self, order: Order) -> Instrument:
        """The order's instrument, once the order is one this exchange can fill; ``OrderRejected`` if not."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            raise OrderRejected(f"unknown symbol {order.symbol!r} on {self.name}")
        if order.type is not OrderType.MARKET:
            raise OrderRejected(f"the paper exchange fills market orders only, not {order.type.value} orders")
        if instrument.round_quantity(order.quantity) != order.quantity:
            raise OrderRejected(
                f"quantity {order.quantity} is not a multiple of the step {instrument.step_size}"
            )
        if order.quantity <= 0 or order.quantity < instrument.min_quantity:
            # check_order names the quantity problem before it looks at the price.
            raise OrderRejected(instrument.check_order(order.quantity, Decimal(0)) or "quantity too small")
        return instrument

    async def cancel_order(self, order: Order) -> Order:
        known = await self._record(order.client_order_id)
        if known is not None:
            raise OrderRejected(f"order {order.client_order_id} is already {known.order.status.value}")
        raise OrderRejected(
            f"order {order.client_order_id} is not open on {self.name} (market orders fill at once)"
        )

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return []  # market orders fill at once: nothing rests

    async def balances(self) -> list[Balance]:
        return [Balance(asset, amount) for asset, amount in sorted(self._balances.items())]

    # --- the venue's records ------------------------------------------------------------------------------

    async def get_order(self, order: Order) -> Order | None:
        known = await self._record(order.client_order_id)
        return known.order if known is not None else None

    async def order_history(self, symbol: str | None = None, since: int | None = None) -> list[Order]:
        orders = [
            r.order
            for r in await self._records()
            if r.order.status.is_final
            and (symbol is None or r.order.symbol == symbol)
            and (since is None or r.order.updated_at >= since)
        ]
        return sorted(orders, key=lambda o: o.updated_at)

    async def fills(self, symbol: str | None = None, since: int | None = None) -> list[Fill]:
        found = [
            f
            for r in await self._records()
            for f in r.fills
            if (symbol is None or f.symbol == symbol) and (since is None or f.timestamp >= since)
        ]
        return sorted(found, key=lambda f: f.timestamp)

    async def _record(self, client_order_id: str) -> VenueRecord | None:
        data = await self.context.store.get_setting(self._orders_key, client_order_id)
        return VenueRecord.from_json(data) if data is not None else None

    async def _records(self) -> list[VenueRecord]:
        return [
            VenueRecord.from_json(d) for d in (await self.context.store.settings(self._orders_key)).values()
        ]

    async def _save(self, records: Iterable[VenueRecord]) -> None:
        """The balances and ``records`` in one transaction."""
        balances = {asset: str(amount) for asset, amount in self._balances.items()}
        await self.context.store.set_settings(
            [
                (self._account_key, "balances", balances),
                *((self._orders_key, r.order.client_order_id, r.to_json()) for r in records),
            ]
        )

    # --- the private stream -------------------------------------------------------------------------------

    async def private_stream(
        self,
        send: trio.MemorySendChannel[AccountEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The paper account's order, fill and balance updates, as they happen."""
        events_send, events_receive = trio.open_memory_channel[AccountEvent](self.private_buffer)
        self._subscribers[events_send] = False
        try:
            task_status.started()
            async with events_receive:
                async for event in events_receive:
                    await send.send(event)
        finally:
            overflowed = self._subscribers.pop(events_send, False)
        if overflowed:
            raise RetryableError(
                f"the private stream of {self.name!r} fell {self.private_buffer} events behind; reconcile"
            )

    def _publish(self, events: list[AccountEvent]) -> None:
        """Hand ``events`` to every private stream without waiting: trading never waits for a reader; a
        reader too far behind is ended instead (see ``private_stream``)."""
        for channel, overflowed in list(self._subscribers.items()):
            if overflowed:
                continue
            try:
                for event in events:
                    channel.send_nowait(event)
            except trio.WouldBlock:
                self._subscribers[channel] = True
                channel.close()
            except trio.ClosedResourceError:
                pass  # its stream is ending

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.market.describe()}


def _repeat(known: VenueRecord, order: Order) -> OrderResult:
    """The answer to an order whose ``client_order_id`` the venue already has: the same order again when it
    is the same request (a retry), else a rejection. Never a second order."""
    first = known.order
    same = (first.symbol, first.side, first.type, first.quantity) == (
        order.symbol,
        order.side,
        order.type,
        order.quantity,
    )
    if not same:
        raise OrderRejected(
            f"client_order_id {order.client_order_id} is already used by another order "
            f"({first.side.value} {first.quantity} {first.symbol}, {first.status.value})"
        )
    return OrderResult(first, known.fills)
