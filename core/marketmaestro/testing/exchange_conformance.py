"""The exchange conformance suite: what every exchange adapter must do, checked against its own fake venue.

An exchange plugin subclasses :class:`ExchangeConformance` in one of its test modules, names its adapter
class and provides two fixtures; pytest (with pytest-trio) then runs every check below against the adapter::

    import pytest
    from marketmaestro.testing import ExchangeConformance, Venue

    class TestBybitConformance(ExchangeConformance):
        exchange_class = BybitExchange

        @pytest.fixture
        async def conformance_venue(self, fake_bybit):      # the plugin's own fake server on 127.0.0.1
            yield FakeBybitVenue(fake_bybit, symbol="BTCUSDT")

        @pytest.fixture
        async def conformance_exchange(self, conformance_venue, fake_bybit):
            adapter = build_adapter(fake_bybit.url)
            await adapter.connect()
            yield adapter
            await adapter.disconnect()

``exchange_class``
    The adapter's class. Its ``capabilities`` decide, before a test starts, which tests apply: one that
    needs a capability the class does not declare (limit orders, amend, the private stream, order and fill
    history, public trades) is skipped with the capability named, never passed silently.

A derivatives account (the adapter instance declares ``capabilities["derivatives"]``, as Bybit's linear
category does) is checked as one: a market order moves the symbol's position in ``positions()`` by its fills
and the quote (margin) balance's total by its fees and realised PnL, where a spot account's base and quote
balances move by the fills.
``conformance_venue`` (fixture)
    An object implementing :class:`Venue`: the symbol to trade and the venue's own controls and view.
``conformance_exchange`` (fixture)
    An instance of ``exchange_class``, CONNECTED to that venue (with credentials if it trades), on an
    account the venue's ``set_balances`` funds.

``conformance_timeout`` bounds each test; ``settle_seconds`` bounds every wait for the venue and the adapter
to agree (an order to show as filled, balances to move).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from decimal import ROUND_UP, Decimal
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import pytest
import trio

from marketmaestro.exchanges import (
    AccountEvent,
    Exchange,
    FillUpdate,
    OrderRejected,
    Subscription,
)
from marketmaestro.messages import (
    KlineDataMsg,
    MarketDataMsg,
    OrderBookDataMsg,
    TickerDataMsg,
    TradeDataMsg,
)
from marketmaestro.model import (
    Fill,
    Instrument,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    Side,
    now_ms,
)
from marketmaestro.orders.manager import new_client_order_id
from marketmaestro.testing._checks import (
    check_klines,
    check_market_data,
    check_trades,
    drain,
    free,
    order_updates,
    realised_pnl,
    top,
)

__all__ = ["ExchangeConformance", "Venue"]

T = TypeVar("T")
OPEN = frozenset({OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
SERVER_TIME_TOLERANCE_MS = 60_000
"""How far the venue's clock may be from ours: further, and signed requests would be refused."""


@runtime_checkable
class Venue(Protocol):
    """The fake venue behind the adapter, as the suite drives and reads it (not through the adapter)."""

    symbol: str
    """The symbol the suite trades; ``instruments()`` must list it and its market must have a price."""
    interval: str
    """The kline interval the suite streams and pages (``1m`` is the usual choice)."""

    async def set_balances(self, balances: Mapping[str, Decimal]) -> None:
        """Make the account hold exactly ``balances`` (free) of these assets."""

    async def move_price(self, price: Decimal) -> None:
        """Make the market trade at ``price``: the book moves there, so resting buy orders at or above it
        and sell orders at or below it fill, and the streams publish the new book and ticker.

        The public trades check makes its trades with the adapter's own market orders (every venue must
        publish the trades that take its book), so the venue needs no way of its own to make one."""

    async def close_kline(self) -> None:
        """Close the current ``interval`` kline of ``symbol`` (and open the next), so streams deliver it."""

    async def orders(self) -> list[Order]:
        """Every order the venue holds for the account, open or closed, in the venue's own view."""

    async def orderbook(self) -> OrderBook:
        """The venue's current order book of ``symbol``."""


SuiteTest = Callable[[Any, Exchange, Venue], Awaitable[None]]


def _suite_test(*requires: str) -> Callable[[SuiteTest], Callable[..., Awaitable[None]]]:
    """A suite test needing the capabilities ``requires``, run under ``conformance_timeout`` seconds."""

    def decorate(test: SuiteTest) -> Callable[..., Awaitable[None]]:
        @functools.wraps(test)
        async def run(
            self: ExchangeConformance, conformance_exchange: Exchange, conformance_venue: Venue
        ) -> None:
            for capability in requires:  # the class declared it (else skipped); the instance must agree
                assert conformance_exchange.capabilities.get(capability, False), (
                    f"{type(self).exchange_class!r} declares {capability!r} but the adapter instance does not"
                )
            with trio.fail_after(self.conformance_timeout):
                await test(self, conformance_exchange, conformance_venue)

        run.conformance_requires = requires  # type: ignore[attr-defined]
        return run

    return decorate


class ExchangeConformance:
    """The suite (see the module docstring). Subclass it as ``Test<Exchange>Conformance``."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.trio]
    exchange_class: ClassVar[type[Exchange] | None] = None
    conformance_timeout: ClassVar[float] = 30.0
    settle_seconds: ClassVar[float] = 10.0

    @pytest.fixture(autouse=True)
    def _conformance_capabilities(self, request: pytest.FixtureRequest) -> None:
        """Skip a test whose capabilities ``exchange_class`` does not declare. Synchronous on purpose: it
        runs before the trio fixtures, and a skip here keeps its reason (one inside trio loses it)."""
        cls = self.exchange_class
        if cls is None:
            pytest.fail(f"{type(self).__name__} must set exchange_class to the adapter class under test")
        for capability in getattr(request.function, "conformance_requires", ()):
            if not cls.capabilities.get(capability, False):
                pytest.skip(f"capability {capability!r} is not declared by {cls.__name__}")

    # --- helpers ------------------------------------------------------------------------------------------

    async def eventually(self, what: str, probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
        """``probe()`` until ``ok`` holds for its result; fails naming ``what`` after ``settle_seconds``."""
        last: Any = None
        with trio.move_on_after(self.settle_seconds):
            while True:
                last = await probe()
                if ok(last):
                    return last
                await trio.sleep(0.05)
        pytest.fail(f"{what}: not so within {self.settle_seconds:g} s; last seen: {last!r}")

    async def market(self, exchange: Exchange, venue: Venue) -> tuple[Instrument, Decimal]:
        """The suite symbol's instrument and its current mid price at the venue."""
        instruments = await exchange.instruments()
        assert venue.symbol in instruments, f"instruments() does not list the venue's symbol {venue.symbol}"
        book = await venue.orderbook()
        assert book.mid is not None, f"the venue's {venue.symbol} book is empty: the suite needs a price"
        return instruments[venue.symbol], Decimal(repr(book.mid))

    @staticmethod
    def quantity(instrument: Instrument, price: Decimal) -> Decimal:
        """The smallest quantity on the step grid worth twice the minimum notional (and at least the minimum
        quantity), so an order of it is valid at ``price`` and a little below."""
        wanted = max(instrument.min_quantity, instrument.step_size, 2 * instrument.min_notional / price)
        steps = (wanted / instrument.step_size).to_integral_value(rounding=ROUND_UP)
        return (steps * instrument.step_size).quantize(instrument.step_size)

    @staticmethod
    def order(
        exchange: Exchange, symbol: str, side: Side, quantity: Decimal, price: Decimal | None = None
    ) -> Order:
        """A new order (limit when ``price`` is given) with a fresh ``client_order_id`` like the core's."""
        kind = OrderType.MARKET if price is None else OrderType.LIMIT
        return Order(
            new_client_order_id(), exchange.name, symbol, side, kind, quantity, price, strategy="conformance"
        )

    async def fund(self, exchange: Exchange, venue: Venue, instrument: Instrument, notional: Decimal) -> None:
        """Give the account 20 x ``notional`` of quote and as much base; wait until the adapter says so."""
        _, price = await self.market(exchange, venue)
        wanted = {
            instrument.quote: (notional * 20).quantize(instrument.tick_size),
            instrument.base: (notional * 20 / price).quantize(instrument.step_size),
        }
        await venue.set_balances(wanted)
        await self.eventually(
            "balances() reports what the venue holds",
            exchange.balances,
            lambda bs: {asset: free(bs).get(asset, Decimal(0)) for asset in wanted} == wanted,
        )

    async def settled(self, exchange: Exchange, order: Order, statuses: frozenset[OrderStatus]) -> Order:
        """The adapter's view of ``order`` once its status is one of ``statuses`` (asked with get_order)."""
        if order.status in statuses:
            return order
        found = await self.eventually(
            f"get_order({order.client_order_id}) reaches {sorted(s.value for s in statuses)}",
            lambda: exchange.get_order(order),
            lambda o: o is not None and o.status in statuses,
        )
        assert found is not None
        return found

    async def fills_of(self, exchange: Exchange, order: Order, placed: tuple[Fill, ...]) -> list[Fill]:
        """The fills of ``order``: those ``place_order`` returned, else those ``fills()`` lists."""
        if placed:
            return list(placed)
        if not exchange.capabilities.get("fills_history", False):
            pytest.fail(
                "place_order returned no fills and the adapter has no fills(): its fills are unknowable"
            )
        found = await self.eventually(
            f"fills() lists the fills of {order.client_order_id}",
            lambda: exchange.fills(order.symbol, since=order.created_at - 60_000),
            lambda fs: (
                sum(f.quantity for f in fs if f.client_order_id == order.client_order_id) >= order.quantity
            ),
        )
        return [f for f in found if f.client_order_id == order.client_order_id]

    async def funded_market_buy(self, exchange: Exchange, venue: Venue) -> tuple[Instrument, Order]:
        """A market buy of :meth:`quantity`, not yet placed, on an account funded for it; the instrument."""
        instrument, price = await self.market(exchange, venue)
        quantity = self.quantity(instrument, price)
        await self.fund(exchange, venue, instrument, quantity * price)
        return instrument, self.order(exchange, venue.symbol, Side.BUY, quantity)

    async def resting(self, exchange: Exchange, venue: Venue, fraction: str) -> tuple[Order, Instrument]:
        """A buy limit order resting at ``fraction`` of the price, as the adapter placed it."""
        instrument, price = await self.market(exchange, venue)
        limit = instrument.round_price(price * Decimal(fraction))
        quantity = self.quantity(instrument, limit)
        await self.fund(exchange, venue, instrument, quantity * price)
        placed = (
            await exchange.place_order(self.order(exchange, venue.symbol, Side.BUY, quantity, limit))
        ).order
        assert placed.status in OPEN and placed.price == limit and placed.quantity == quantity, placed
        await self.venue_holds(venue, placed, limit)
        return placed, instrument

    async def venue_holds(self, venue: Venue, order: Order, price: Decimal) -> None:
        """Wait until the venue has ``order`` open, once, at ``price`` for its quantity."""
        mine = order.client_order_id
        await self.eventually(
            f"the venue holds {mine} open at {price} for {order.quantity}",
            venue.orders,
            lambda os: (
                [(o.price, o.quantity) for o in os if o.client_order_id == mine and o.status in OPEN]
                == [(price, order.quantity)]
            ),
        )

    # --- instruments and local checks ---------------------------------------------------------------------

    @_suite_test()
    async def test_instruments_have_a_positive_grid_and_consistent_minimums(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        instruments = await conformance_exchange.instruments()
        assert conformance_venue.symbol in instruments
        for key, instrument in instruments.items():
            assert key == instrument.symbol, (
                f"instruments() key {key!r} is not its symbol {instrument.symbol!r}"
            )
            assert instrument.base and instrument.quote, instrument
            for name in ("tick_size", "step_size", "min_quantity", "min_notional"):
                value = getattr(instrument, name)
                assert isinstance(value, Decimal) and value.is_finite(), f"{key} {name} {value!r}: a Decimal"
            assert instrument.tick_size > 0 and instrument.step_size > 0, instrument
            assert instrument.min_quantity >= 0 and instrument.min_notional >= 0, instrument
            assert instrument.round_quantity(instrument.min_quantity) == instrument.min_quantity, (
                f"{key}: minimum quantity {instrument.min_quantity} is off the step {instrument.step_size}"
            )

    @_suite_test()
    async def test_orders_check_order_refuses_never_reach_the_venue(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        instrument, price = await self.market(conformance_exchange, conformance_venue)
        zero = instrument.round_quantity(instrument.step_size / 10)
        assert "rounds to zero" in (instrument.check_order(zero, price) or "")
        refused = [zero, instrument.step_size / 2]  # nothing, and a quantity off the step grid
        if instrument.min_quantity > instrument.step_size:
            refused.append(instrument.min_quantity - instrument.step_size)
            assert "minimum" in (instrument.check_order(refused[-1], price) or "")
        under_notional = instrument.round_quantity(instrument.min_notional / price / 2)
        if under_notional >= max(instrument.min_quantity, instrument.step_size):
            refused.append(under_notional)
            assert "notional" in (instrument.check_order(under_notional, price) or "")
        sent = []
        for quantity in refused:
            order = self.order(conformance_exchange, conformance_venue.symbol, Side.BUY, quantity)
            sent.append(order.client_order_id)
            with pytest.raises(OrderRejected):
                await conformance_exchange.place_order(order)
        reached = [o.client_order_id for o in await conformance_venue.orders() if o.client_order_id in sent]
        assert reached == [], "orders the adapter should have refused reached the venue"

    # --- market orders ------------------------------------------------------------------------------------

    async def market_order_fills(self, exchange: Exchange, venue: Venue, side: Side) -> None:
        """A market order of ``side`` fills completely, on the grid, and moves the account by its fills:
        the base and quote balances on a spot account, the position and the quote (margin) balance on a
        derivatives one (see the module docstring)."""
        instrument, price = await self.market(exchange, venue)
        quantity = self.quantity(instrument, price)
        await self.fund(exchange, venue, instrument, quantity * price)
        derivatives = exchange.capabilities.get("derivatives", False)
        before = free(await exchange.balances())
        position = _position(await exchange.positions(), venue.symbol) if derivatives else None
        margin = _totals(await exchange.balances()).get(instrument.quote, Decimal(0))
        order = self.order(exchange, venue.symbol, side, quantity)
        result = await exchange.place_order(order)
        assert result.order.client_order_id == order.client_order_id
        assert result.order.status is not OrderStatus.REJECTED, result.order
        final = await self.settled(exchange, result.order, frozenset({OrderStatus.FILLED}))
        assert final.filled_quantity == quantity, final
        fills = await self.fills_of(exchange, order, result.fills)
        assert sum(f.quantity for f in fills) == quantity, fills
        for fill in fills:
            assert isinstance(fill.price, Decimal) and isinstance(fill.quantity, Decimal), fill
            assert instrument.round_price(fill.price) == fill.price, (
                f"fill price {fill.price} is off the tick"
            )
            assert instrument.round_quantity(fill.quantity) == fill.quantity, (
                f"{fill.quantity} is off the step"
            )
            assert (fill.side, fill.symbol) == (side, venue.symbol), fill
        if derivatives:
            await self.position_moves(exchange, venue, instrument, position, margin, fills)
            return
        change: dict[str, Decimal] = {instrument.base: Decimal(0), instrument.quote: Decimal(0)}
        for fill in fills:
            change[instrument.base] += side.sign * fill.quantity
            change[instrument.quote] -= side.sign * fill.quantity * fill.price
            change[fill.fee_currency] = change.get(fill.fee_currency, Decimal(0)) - fill.fee
        expected = {asset: before.get(asset, Decimal(0)) + delta for asset, delta in change.items()}
        await self.eventually(
            f"balances move by the fills of the {side.value}",
            exchange.balances,
            lambda bs: {a: free(bs).get(a, Decimal(0)) for a in expected} == expected,
        )

    async def position_moves(
        self,
        exchange: Exchange,
        venue: Venue,
        instrument: Instrument,
        before: Position | None,
        margin: Decimal,
        fills: list[Fill],
    ) -> None:
        """On a derivatives account: the position of ``venue.symbol`` moves by ``fills`` and the quote
        balance's total (``margin`` before) by their realised PnL less their fees, all in the quote."""
        assert all(f.fee_currency == instrument.quote for f in fills), (
            f"derivative fills must pay fees in the margin currency {instrument.quote}: {fills}"
        )
        held = before.quantity if before is not None else Decimal(0)  # as _held(), from the snapshot
        wanted = held + sum(f.side.sign * f.quantity for f in fills)
        await self.eventually(
            f"positions() moves {venue.symbol} from {held} to {wanted} by the fills",
            exchange.positions,
            lambda ps: _held(ps, venue.symbol) == wanted,
        )
        expected = margin + realised_pnl(before, fills) - sum(f.fee for f in fills)
        await self.eventually(
            f"the {instrument.quote} balance moves by the fills' realised PnL less their fees to {expected}",
            exchange.balances,
            lambda bs: _totals(bs).get(instrument.quote, Decimal(0)) == expected,
        )

    @_suite_test()
    async def test_a_market_buy_fills_on_the_grid_and_moves_the_balances(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        await self.market_order_fills(conformance_exchange, conformance_venue, Side.BUY)

    @_suite_test()
    async def test_a_market_sell_fills_on_the_grid_and_moves_the_balances(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        await self.market_order_fills(conformance_exchange, conformance_venue, Side.SELL)

    @_suite_test()
    async def test_a_rejected_order_raises_order_rejected(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        instrument, price = await self.market(exchange, venue)
        await venue.set_balances({instrument.quote: Decimal(0), instrument.base: Decimal(0)})
        await self.eventually(
            "balances() reports the emptied account",
            exchange.balances,
            lambda bs: not any(free(bs).get(a) for a in (instrument.base, instrument.quote)),
        )
        broke = self.order(exchange, venue.symbol, Side.BUY, self.quantity(instrument, price))
        with pytest.raises(OrderRejected):
            await exchange.place_order(broke)
        with pytest.raises(OrderRejected):
            await exchange.place_order(self.order(exchange, "NOSUCHSYMBOL", Side.BUY, instrument.step_size))
        mine = broke.client_order_id
        assert [o for o in await venue.orders() if o.client_order_id == mine and o.status in OPEN] == [], (
            "a rejected order is open on the venue"
        )

    @_suite_test()
    async def test_the_same_client_order_id_twice_is_one_order_on_the_venue(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        instrument, price = await self.market(exchange, venue)
        # A resting order where the venue takes them: it stays visible, so a duplicate could not hide.
        limit = (
            instrument.round_price(price * Decimal("0.8")) if exchange.capabilities["limit_orders"] else None
        )
        quantity = self.quantity(instrument, limit or price)
        await self.fund(exchange, venue, instrument, quantity * price)
        order = self.order(exchange, venue.symbol, Side.BUY, quantity, limit)
        first = await exchange.place_order(order)
        try:
            second = await exchange.place_order(order)
        except OrderRejected:
            pass  # refusing the repeat is as good as answering with the same order
        else:
            assert second.order.client_order_id == order.client_order_id
            if first.order.venue_order_id and second.order.venue_order_id:
                assert second.order.venue_order_id == first.order.venue_order_id, "a second order was made"
        same = [o for o in await venue.orders() if o.client_order_id == order.client_order_id]
        assert len(same) == 1, (
            f"the venue holds {len(same)} orders with client_order_id {order.client_order_id}"
        )
        if limit is not None:
            await exchange.cancel_order(first.order)

    # --- limit orders -------------------------------------------------------------------------------------

    @_suite_test("limit_orders")
    async def test_a_limit_order_rests_is_listed_and_cancelled(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        placed, _ = await self.resting(exchange, venue, "0.8")
        mine = placed.client_order_id
        listed = await self.eventually(
            "open_orders() lists the resting order",
            lambda: exchange.open_orders(venue.symbol),
            lambda os: any(o.client_order_id == mine for o in os),
        )
        (seen,) = [o for o in listed if o.client_order_id == mine]
        assert (seen.side, seen.quantity, seen.price) == (Side.BUY, placed.quantity, placed.price), seen
        found = await exchange.get_order(placed)
        assert found is not None and found.status in OPEN and found.price == placed.price, found

        cancelled = await exchange.cancel_order(placed)
        assert cancelled.status is OrderStatus.CANCELLED, cancelled
        await self.eventually(
            "open_orders() no longer lists the cancelled order",
            lambda: exchange.open_orders(venue.symbol),
            lambda os: all(o.client_order_id != mine for o in os),
        )
        await self.settled(exchange, placed, frozenset({OrderStatus.CANCELLED}))
        still = [o for o in await venue.orders() if o.client_order_id == mine and o.status in OPEN]
        assert still == [], "the venue still has the cancelled order open"

    @_suite_test("limit_orders", "amend")
    async def test_a_resting_limit_order_is_amended(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        placed, instrument = await self.resting(exchange, venue, "0.8")
        assert placed.price is not None
        lower = instrument.round_price(placed.price * Decimal("0.99"))
        amended = await exchange.amend_order(placed, price=lower)
        assert (amended.client_order_id, amended.price) == (placed.client_order_id, lower), amended
        await self.eventually(
            "get_order() shows the amended price",
            lambda: exchange.get_order(placed),
            lambda o: o is not None and o.price == lower and o.status in OPEN,
        )
        await self.venue_holds(venue, placed, lower)
        await exchange.cancel_order(amended)

    @_suite_test("limit_orders", "order_history")
    async def test_a_cancelled_order_is_in_the_order_history(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        placed, _ = await self.resting(exchange, venue, "0.8")
        await exchange.cancel_order(placed)
        await self.eventually(
            "order_history() has the order as cancelled",
            lambda: exchange.order_history(venue.symbol, since=placed.created_at - 60_000),
            lambda os: any(
                o.client_order_id == placed.client_order_id and o.status is OrderStatus.CANCELLED for o in os
            ),
        )

    @_suite_test("limit_orders")
    async def test_a_limit_order_fills_when_the_price_reaches_it(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        placed, instrument = await self.resting(exchange, venue, "0.95")
        assert placed.price is not None
        await venue.move_price(instrument.round_price(placed.price * Decimal("0.98")))
        filled = await self.settled(exchange, placed, frozenset({OrderStatus.FILLED}))
        assert filled.filled_quantity == placed.quantity, filled
        assert filled.average_price is not None and filled.average_price <= placed.price, (
            f"a buy limit at {placed.price} filled at {filled.average_price}"
        )

    async def recorded(self, exchange: Exchange, order: Order, price_limit: Decimal | None = None) -> None:
        """``order`` (filled) is in ``order_history`` as filled with its quantity, and its fills, at or
        under ``price_limit`` when given, add up to it in ``fills()``, which lists oldest first."""
        since = order.created_at - 60_000
        mine = order.client_order_id
        history = await self.eventually(
            "order_history() has the order as filled",
            lambda: exchange.order_history(order.symbol, since=since),
            lambda os: any(o.client_order_id == mine and o.status is OrderStatus.FILLED for o in os),
        )
        (done,) = [o for o in history if o.client_order_id == mine]
        assert done.filled_quantity == order.quantity, done
        fills = await self.fills_of(exchange, order, ())
        assert sum(f.quantity for f in fills) == order.quantity, fills
        if price_limit is not None:
            assert all(f.price <= price_limit for f in fills), (
                f"a buy limit at {price_limit} filled at {fills}"
            )
        listed = [f.timestamp for f in await exchange.fills(order.symbol, since=since)]
        assert listed == sorted(listed), f"fills() must be oldest first: {listed}"

    @_suite_test("order_history", "fills_history")
    async def test_a_filled_market_order_is_in_the_order_history_and_its_fills_in_fills(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        _, order = await self.funded_market_buy(exchange, venue)
        await exchange.place_order(order)
        await self.recorded(exchange, order)

    @_suite_test("limit_orders", "order_history", "fills_history")
    async def test_a_filled_limit_order_is_in_the_order_history_and_its_fills_in_fills(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        placed, instrument = await self.resting(exchange, venue, "0.95")
        assert placed.price is not None
        await venue.move_price(instrument.round_price(placed.price * Decimal("0.98")))
        await self.settled(exchange, placed, frozenset({OrderStatus.FILLED}))
        await self.recorded(exchange, placed, placed.price)

    # --- streams ------------------------------------------------------------------------------------------

    @_suite_test()
    async def test_stream_delivers_klines_books_and_tickers(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        _, price = await self.market(exchange, venue)
        subscription = Subscription(
            klines=frozenset({(venue.symbol, venue.interval)}),
            tickers=frozenset({venue.symbol}),
            orderbooks=frozenset({venue.symbol}),
        )
        send, receive = trio.open_memory_channel[MarketDataMsg](10_000)
        messages: list[MarketDataMsg] = []

        def count(kind: type) -> int:
            return sum(isinstance(m, kind) for m in messages)

        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.stream, subscription, send)
            await venue.move_price(price)
            with trio.move_on_after(self.settle_seconds):
                while count(KlineDataMsg) < 3 or not count(OrderBookDataMsg) or not count(TickerDataMsg):
                    klines = count(KlineDataMsg)
                    await venue.close_kline()
                    with trio.move_on_after(1.0):  # then close another: a venue may skip an empty kline
                        while count(KlineDataMsg) == klines:
                            messages.append(await receive.receive())
            assert count(KlineDataMsg) >= 3 and count(OrderBookDataMsg) and count(TickerDataMsg), (
                f"stream() did not deliver 3 klines, a book and a ticker: {messages[:20]!r}"
            )
            await self.eventually(
                "the streamed book's best prices are the venue's",
                lambda: _books(receive, messages, venue),
                lambda books: books[0] is not None and top(books[0]) == top(books[1]),
            )
            nursery.cancel_scope.cancel()
        check_market_data(messages, exchange.name, venue.symbol, venue.interval)

    @_suite_test("public_trades")
    async def test_stream_delivers_the_public_trades_of_an_order_on_the_grid(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        instrument, order = await self.funded_market_buy(exchange, venue)
        quantity = order.quantity
        send, receive = trio.open_memory_channel[MarketDataMsg](10_000)
        messages: list[MarketDataMsg] = []

        def bought() -> Decimal:
            """What the streamed trades that a buyer took add up to."""
            trades = [m.trade for m in messages if isinstance(m, TradeDataMsg)]
            return sum((t.quantity for t in trades if t.side is Side.BUY), Decimal(0))

        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.stream, Subscription(trades=frozenset({venue.symbol})), send)
            # A market buy takes the venue's asks: the tape shows it as trades a buyer took.
            await exchange.place_order(order)
            with trio.move_on_after(self.settle_seconds):
                while bought() < quantity:
                    messages.append(await receive.receive())
            nursery.cancel_scope.cancel()
        assert bought() >= quantity, (
            f"stream() delivered buyer-taken trades of {bought()}, not the {quantity} the market buy "
            f"took: {messages[:20]!r}"
        )
        assert all(isinstance(m, TradeDataMsg) for m in messages), (
            f"only trades were subscribed: {[m for m in messages if not isinstance(m, TradeDataMsg)][:5]!r}"
        )
        check_market_data(messages, exchange.name, venue.symbol, venue.interval)
        check_trades([m.trade for m in messages if isinstance(m, TradeDataMsg)], instrument)

    @_suite_test("private_stream")
    async def test_private_stream_reports_an_order_and_its_fill(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        _, order = await self.funded_market_buy(exchange, venue)
        quantity = order.quantity
        send, receive = trio.open_memory_channel[AccountEvent](10_000)
        seen: list[AccountEvent] = []
        filled = Decimal(0)
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.private_stream, send)
            await exchange.place_order(order)
            with trio.move_on_after(self.settle_seconds):
                async for event in receive:
                    seen.append(event)
                    if isinstance(event, FillUpdate) and event.fill.client_order_id == order.client_order_id:
                        filled += event.fill.quantity
                    if filled >= quantity and order_updates(seen, order):
                        break
            nursery.cancel_scope.cancel()
        assert order_updates(seen, order), f"no OrderUpdate for {order.client_order_id}: {seen!r}"
        assert filled == quantity, (
            f"FillUpdates for {order.client_order_id} add up to {filled}, not {quantity}"
        )

    # --- time and history ---------------------------------------------------------------------------------

    @_suite_test()
    async def test_server_time_is_close_to_the_local_clock(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        server = await conformance_exchange.server_time()
        assert isinstance(server, int), f"server_time() returned {server!r}; expected epoch ms as an int"
        assert abs(server - now_ms()) < SERVER_TIME_TOLERANCE_MS, f"server time {server} vs local {now_ms()}"

    @_suite_test()
    async def test_klines_serve_a_range_oldest_first_without_duplicates(
        self, conformance_exchange: Exchange, conformance_venue: Venue
    ) -> None:
        exchange, venue = conformance_exchange, conformance_venue
        latest = await exchange.klines(venue.symbol, venue.interval, 50)
        assert len(latest) >= 5, f"the venue needs some {venue.interval} history; klines() gave {len(latest)}"
        check_klines(latest, venue.symbol, venue.interval)
        start, end = latest[1].timestamp, latest[-2].timestamp
        ranged = await exchange.klines(venue.symbol, venue.interval, 1000, start=start, end=end)
        assert ranged == [k for k in latest if start <= k.timestamp <= end], (
            "the range differs from the latest"
        )
        page = await exchange.klines(venue.symbol, venue.interval, 2, start=start, end=end)
        assert page == ranged[:2], "a limited range must be its earliest klines"


def _position(positions: list[Position], symbol: str) -> Position | None:
    """The account's position of ``symbol`` (None when flat: venues differ in listing empty ones)."""
    found = [p for p in positions if p.symbol == symbol and p.quantity]
    assert len(found) <= 1, f"positions() lists {symbol} more than once: {found}"
    return found[0] if found else None


def _held(positions: list[Position], symbol: str) -> Decimal:
    """The signed quantity of ``symbol`` held (zero when flat)."""
    position = _position(positions, symbol)
    return position.quantity if position is not None else Decimal(0)


def _totals(balances: Any) -> dict[str, Decimal]:
    """Total (free plus locked) balances by asset."""
    return {b.asset: b.total for b in balances}


async def _books(
    receive: trio.MemoryReceiveChannel[MarketDataMsg], messages: list[MarketDataMsg], venue: Venue
) -> tuple[OrderBook | None, OrderBook]:
    """The latest streamed book and the venue's own."""
    return drain(receive, messages), await venue.orderbook()
