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
from marketmaestro.exchanges.paper.market import (
    FeedMarket,
    PaperMarket,
    Reach,
    SimulatedMarket,
    price_decimal,
)
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
    TimeInForce,
    now_ms,
)

LIMIT_CAPABILITIES = ("limit_orders", "time_in_force", "post_only", "amend")
"""What the paper exchange no longer declares with ``options.limit_orders: false``."""

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
        "limit_orders": True,
        "time_in_force": True,
        "post_only": True,
        "amend": True,
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
        if not options.limit_orders:
            self.capabilities.update(dict.fromkeys(LIMIT_CAPABILITIES, False))
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
        self._open: dict[str, Order] = {}
        """The resting limit orders by ``client_order_id`` (stored as records too, loaded at connect)."""
        self.market.listener = self._match

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
        self._open = {
            r.order.client_order_id: r.order for r in await self._records() if not r.order.status.is_final
        }
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
            quote = None if level is None else instrument.round_price(price_decimal(level))
            venue_id = f"paper-{uuid.uuid4().hex[:16]}"
            if order.type is OrderType.MARKET:
                if quote is None:
                    raise RetryableError(f"no {order.symbol} price yet on {self.name}")
                problem = instrument.check_order(order.quantity, quote)
                if problem is not None:
                    raise OrderRejected(problem)
                return await self._fill(order, instrument, quote, venue_id)
            assert order.price is not None  # _checked
            crosses = quote is not None and _crosses(order.side, quote, order.price)
            if order.post_only and crosses:
                raise OrderRejected(
                    f"post-only {order.side.value} limit at {order.price} would take liquidity "
                    f"(the market is at {quote})"
                )
            self._afford(order, instrument, order.price)
            if crosses:
                assert quote is not None
                return await self._fill(order, instrument, quote, venue_id)
            if order.time_in_force is not TimeInForce.GTC and quote is None:
                raise RetryableError(f"no {order.symbol} price yet on {self.name}")
            status = OrderStatus.ACCEPTED if order.time_in_force is TimeInForce.GTC else OrderStatus.EXPIRED
            placed = order.with_status(status, venue_order_id=venue_id)
            await self._save([VenueRecord(placed)])
            if status is OrderStatus.ACCEPTED:
                self._open[placed.client_order_id] = placed
        self._publish([OrderUpdate(placed), BalanceUpdate(tuple(await self.balances()), True)])
        return OrderResult(placed)

    def _checked(self, order: Order) -> Instrument:
        """The order's instrument, once the order is one this exchange can fill; ``OrderRejected`` if not."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            raise OrderRejected(f"unknown symbol {order.symbol!r} on {self.name}")
        if order.type is OrderType.LIMIT and not self.capabilities["limit_orders"]:
            raise OrderRejected(
                f"the paper exchange {self.name!r} fills market orders only (options.limit_orders is false), "
                "not limit orders"
            )
        if order.type not in (OrderType.MARKET, OrderType.LIMIT):
            raise OrderRejected(
                f"the paper exchange takes market and limit orders only, not {order.type.value} orders"
            )
        if instrument.round_quantity(order.quantity) != order.quantity:
            raise OrderRejected(
                f"quantity {order.quantity} is not a multiple of the step {instrument.step_size}"
            )
        if order.quantity <= 0 or order.quantity < instrument.min_quantity:
            # check_order names the quantity problem before it looks at the price.
            raise OrderRejected(instrument.check_order(order.quantity, Decimal(0)) or "quantity too small")
        if order.type is OrderType.LIMIT:
            self._check_limit(instrument, order.quantity, order.price)
        return instrument

    @staticmethod
    def _check_limit(instrument: Instrument, quantity: Decimal, price: Decimal | None) -> None:
        """``OrderRejected`` unless ``price`` is a limit price on the tick grid valid for ``quantity``."""
        if price is None or price <= 0:
            raise OrderRejected(f"a limit order needs a positive price, got {price}")
        if instrument.round_price(price) != price:
            raise OrderRejected(f"price {price} is not a multiple of the tick {instrument.tick_size}")
        problem = instrument.check_order(quantity, price)
        if problem is not None:
            raise OrderRejected(problem)

    def _fee(self, instrument: Instrument, notional: Decimal) -> Decimal:
        return (notional * self.options.fee_rate).quantize(instrument.tick_size * Decimal("0.0001"))

    def _free(self, asset: str) -> Decimal:
        """What of ``asset`` no resting order holds."""
        return self._balances.get(asset, Decimal(0)) - self._locked().get(asset, Decimal(0))

    def _locked(self, skip: str | None = None) -> dict[str, Decimal]:
        """What the resting orders (but ``skip``) hold: a buy its notional and fee at its limit, a sell its
        quantity."""
        locked: dict[str, Decimal] = {}
        for order in self._open.values():
            if order.client_order_id == skip:
                continue
            instrument = self._instruments[order.symbol]
            assert order.price is not None
            if order.side is Side.BUY:
                notional = order.quantity * order.price
                asset, amount = instrument.quote, notional + self._fee(instrument, notional)
            else:
                asset, amount = instrument.base, order.quantity
            locked[asset] = locked.get(asset, Decimal(0)) + amount
        return locked

    def _afford(
        self, order: Order, instrument: Instrument, price: Decimal, *, skip: str | None = None
    ) -> None:
        """``OrderRejected`` unless the free balance (with ``skip``'s hold released) pays for ``order`` at
        ``price``."""
        locked = self._locked(skip)
        base_free = self._balances.get(instrument.base, Decimal(0)) - locked.get(instrument.base, Decimal(0))
        quote_free = self._balances.get(instrument.quote, Decimal(0)) - locked.get(
            instrument.quote, Decimal(0)
        )
        notional = order.quantity * price
        fee = self._fee(instrument, notional)
        if order.side is Side.BUY and quote_free < notional + fee:
            raise OrderRejected(
                f"insufficient balance: buying {order.quantity} {instrument.base} needs {notional + fee} "
                f"{instrument.quote}, available {quote_free}"
            )
        if order.side is Side.SELL and base_free < order.quantity:
            raise OrderRejected(
                f"insufficient balance: selling {order.quantity} {instrument.base}, available {base_free}"
            )

    async def _fill(
        self, order: Order, instrument: Instrument, price: Decimal, venue_id: str | None
    ) -> OrderResult:
        """Fill all of ``order`` at ``price`` (under the lock): balances, record and store in one go, then
        the private stream. A market order is checked against the free balance here; a limit order was
        checked (or held its balance) before."""
        if order.type is OrderType.MARKET:
            self._afford(order, instrument, price)
        notional = order.quantity * price
        fee = self._fee(instrument, notional)
        venue_id = venue_id or order.venue_order_id or f"paper-{uuid.uuid4().hex[:16]}"
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
            OrderStatus.FILLED, venue_order_id=venue_id, filled_quantity=order.quantity, average_price=price
        )
        before, resting = dict(self._balances), self._open.pop(order.client_order_id, None)
        sign = order.side.sign
        self._balances[instrument.base] = (
            self._balances.get(instrument.base, Decimal(0)) + sign * order.quantity
        )
        self._balances[instrument.quote] = (
            self._balances.get(instrument.quote, Decimal(0)) - sign * notional - fee
        )
        try:
            await self._save([VenueRecord(filled, (fill,))])
        except BaseException:
            self._balances = before  # not stored, so not filled
            if resting is not None:
                self._open[order.client_order_id] = resting
            raise
        self._publish(
            [OrderUpdate(filled), FillUpdate(fill), BalanceUpdate(tuple(await self.balances()), True)]
        )
        return OrderResult(filled, (fill,))

    async def _match(self, reach: Reach) -> None:
        """Fill the resting orders of ``reach.symbol`` the market traded through: at the limit, or at the
        open when the market gapped past it."""
        if not self._connected or all(o.symbol != reach.symbol for o in self._open.values()):
            return  # without a checkpoint: the market's stream goes on as if nobody listened
        async with self._lock:
            for order in [o for o in self._open.values() if o.symbol == reach.symbol]:
                assert order.price is not None
                instrument = self._instruments[order.symbol]
                if order.side is Side.BUY and reach.low is not None and reach.buy_open is not None:
                    if price_decimal(reach.low) > order.price:
                        continue
                    price = min(order.price, instrument.round_price(price_decimal(reach.buy_open)))
                elif order.side is Side.SELL and reach.high is not None and reach.sell_open is not None:
                    if price_decimal(reach.high) < order.price:
                        continue
                    price = max(order.price, instrument.round_price(price_decimal(reach.sell_open)))
                else:
                    continue
                await self._fill(order, instrument, price, None)

    async def cancel_order(self, order: Order) -> Order:
        async with self._lock:
            resting = self._open.get(order.client_order_id)
            if resting is None:
                known = await self._record(order.client_order_id)
                if known is not None:
                    raise OrderRejected(
                        f"order {order.client_order_id} is already {known.order.status.value}"
                    )
                raise OrderRejected(f"order {order.client_order_id} is not open on {self.name}")
            cancelled = resting.with_status(OrderStatus.CANCELLED)
            del self._open[order.client_order_id]
            try:
                await self._save([VenueRecord(cancelled)])
            except BaseException:
                self._open[order.client_order_id] = resting
                raise
        self._publish([OrderUpdate(cancelled), BalanceUpdate(tuple(await self.balances()), True)])
        return cancelled

    async def amend_order(
        self, order: Order, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Order:
        """Change a resting limit order's quantity and/or price; one that now crosses the market fills."""
        if not self.capabilities["amend"]:
            return await super().amend_order(order, quantity=quantity, price=price)
        async with self._lock:
            resting = self._open.get(order.client_order_id)
            if resting is None:
                raise OrderRejected(f"order {order.client_order_id} is not open on {self.name}")
            instrument = self._instruments[resting.symbol]
            quantity = resting.quantity if quantity is None else quantity
            price = resting.price if price is None else price
            if instrument.round_quantity(quantity) != quantity or quantity <= 0:
                raise OrderRejected(
                    f"quantity {quantity} is not a positive multiple of the step {instrument.step_size}"
                )
            self._check_limit(instrument, quantity, price)
            amended = resting.with_status(resting.status, quantity=quantity, price=price)
            assert price is not None
            self._afford(amended, instrument, price, skip=resting.client_order_id)
            level = await self.market.price(resting.symbol, resting.side)
            quote = None if level is None else instrument.round_price(price_decimal(level))
            if quote is not None and _crosses(resting.side, quote, price):
                if resting.post_only:
                    raise OrderRejected(
                        f"post-only limit amended to {price} would take liquidity (market at {quote})"
                    )
                self._open[resting.client_order_id] = amended
                return (await self._fill(amended, instrument, quote, None)).order
            self._open[resting.client_order_id] = amended
            try:
                await self._save([VenueRecord(amended)])
            except BaseException:
                self._open[resting.client_order_id] = resting
                raise
        self._publish([OrderUpdate(amended), BalanceUpdate(tuple(await self.balances()), True)])
        return amended

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return sorted(
            (o for o in self._open.values() if symbol is None or o.symbol == symbol),
            key=lambda o: o.created_at,
        )

    async def balances(self) -> list[Balance]:
        locked = self._locked()
        return [
            Balance(asset, amount - locked.get(asset, Decimal(0)), locked.get(asset, Decimal(0)))
            for asset, amount in sorted(self._balances.items())
        ]

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


def _crosses(side: Side, quote: Decimal, limit: Decimal) -> bool:
    """Whether a limit of ``side`` at ``limit`` trades at once against the market's ``quote``."""
    return quote <= limit if side is Side.BUY else quote >= limit


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
