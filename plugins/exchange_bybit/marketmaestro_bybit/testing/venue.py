"""The fake's trading venue: order entry, matching, conditional triggers and what it publishes.

Everything here is synchronous and runs on the server's trio thread, so each request sees and leaves a
consistent state. The HTTP and WebSocket layers (:mod:`.app`) translate requests into these calls and
:class:`VenueError` into Bybit's envelope; whatever changes is published through the :class:`Hub`.

Matching: a taker order walks the other side best price first, taking resting user orders (oldest first)
before the market maker's ladder at each price. Makers fill at their own price. Moving the price with
:meth:`Venue.set_price` rebuilds the ladder around it, fills every resting order the price moved through
(at the order's price) and fires the conditional orders whose trigger it reached.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from marketmaestro.model import now_ms
from marketmaestro_bybit.testing.accounts import FakeAccount, FakeOrder, FakePosition
from marketmaestro_bybit.testing.marketdata import (
    DEPTHS,
    INTERVAL_MS,
    MINUTE_MS,
    FakeInstrument,
    FakeMarket,
    bucket_start,
    default_instruments,
    fmt,
)
from marketmaestro_bybit.testing.rules import Rules, VenueError

__all__ = ["FEES", "Hub", "NullHub", "Venue", "VenueError"]

FEES = {("spot", True): Decimal("0.001"), ("spot", False): Decimal("0.001"),
        ("linear", True): Decimal("0.0002"), ("linear", False): Decimal("0.00055")}  # fmt: skip
"""(category, is_maker) -> fee rate."""
Levels = list[tuple[Decimal, Decimal]]


class Hub(Protocol):
    """Where the venue publishes (the WebSocket layer)."""

    def publish(self, category: str, topic: str, message: dict[str, Any]) -> None: ...

    def publish_private(
        self, account: str, topic: str, category: str, data: list[dict[str, Any]]
    ) -> None: ...

    def subscribed(self, category: str) -> set[str]: ...


class NullHub:
    """Publishes nowhere (a venue without a server)."""

    def publish(self, category: str, topic: str, message: dict[str, Any]) -> None:
        return None

    def publish_private(self, account: str, topic: str, category: str, data: list[dict[str, Any]]) -> None:
        return None

    def subscribed(self, category: str) -> set[str]:
        return set()


class Venue:
    """Instruments, markets and accounts of one fake Bybit environment."""

    def __init__(
        self,
        instruments: Iterable[FakeInstrument] | None = None,
        *,
        clock_offset_ms: int = 0,
        kline_lag_ms: int = 86_400_000,
        history: int = 1500,
        levels: int = 10,
        seed: int = 7,
    ) -> None:
        self.clock_offset_ms = clock_offset_ms
        now = self.now()
        self.markets = {
            (i.category, i.symbol): FakeMarket(i, now, levels, history, kline_lag_ms, seed)
            for i in (instruments or default_instruments())
        }
        self.accounts: dict[str, FakeAccount] = {}
        self.hub: Hub = NullHub()
        self.rules = Rules()
        self._resting: dict[tuple[str, str], list[FakeOrder]] = {key: [] for key in self.markets}
        self._u = {key: dict.fromkeys(DEPTHS, 1000) for key in self.markets}
        self._views: dict[tuple[str, str], dict[int, tuple[Levels, Levels]]] = {}
        self._tickers: dict[tuple[str, str], dict[str, Any]] = {}
        self._skip: set[tuple[str, str]] = set()
        self._seq = itertools.count(1_000_000)
        for key in self.markets:
            self._views[key] = self._depth_views(key)
            self._tickers[key] = self.market(*key).ticker(*self.levels(*key))

    def now(self) -> int:
        """The fake's clock (epoch ms): ours plus ``clock_offset_ms`` (to test clock skew)."""
        return now_ms() + self.clock_offset_ms

    # --- set-up -------------------------------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        api_secret: str,
        balances: dict[str, Decimal] | None = None,
        *,
        can_trade: bool = True,
    ) -> FakeAccount:
        account = FakeAccount(api_key, api_secret, dict(balances or {}), can_trade=can_trade)
        self.accounts[api_key] = account
        return account

    def set_balance(self, api_key: str, coin: str, amount: Decimal) -> None:
        account = self.accounts[api_key]
        account.wallet[coin] = amount
        self._push_wallet(account)

    def market(self, category: str, symbol: str) -> FakeMarket:
        try:
            return self.markets[(category, symbol)]
        except KeyError:
            raise VenueError(
                10001, f"params error: symbol {symbol} invalid for category {category}"
            ) from None

    def instruments(self, category: str) -> list[FakeInstrument]:
        return [m.instrument for (c, _), m in sorted(self.markets.items()) if c == category]

    # --- the book -----------------------------------------------------------------------------------------

    def levels(self, category: str, symbol: str) -> tuple[Levels, Levels]:
        """The whole book, bids and asks best first: the ladder plus resting user orders."""
        market = self.market(category, symbol)
        bids, asks = dict(market.bids), dict(market.asks)
        for order in self._resting[(category, symbol)]:
            side = bids if order.side == "Buy" else asks
            assert order.price is not None
            side[order.price] = side.get(order.price, Decimal(0)) + order.leaves
        return (sorted(bids.items(), key=lambda lv: -lv[0]), sorted(asks.items(), key=lambda lv: lv[0]))

    def book_snapshot(self, category: str, symbol: str, depth: int) -> dict[str, Any]:
        bids, asks = self._views[(category, symbol)][depth]
        now = self.now()
        return {
            "topic": f"orderbook.{depth}.{symbol}",
            "type": "snapshot",
            "ts": now,
            "data": {"s": symbol, "b": _wire(bids), "a": _wire(asks), "u": self._u[(category, symbol)][depth],
                     "seq": next(self._seq)},
            "cts": now,
        }  # fmt: skip

    def ticker_snapshot(self, category: str, symbol: str) -> dict[str, Any]:
        data = dict(self._tickers[(category, symbol)])
        return {
            "topic": f"tickers.{symbol}",
            "type": "snapshot",
            "data": data,
            "cs": next(self._seq),
            "ts": self.now(),
        }

    def skip_sequence(self, category: str, symbol: str) -> None:
        """Fault: the next book change of ``symbol`` skips one update id on every depth."""
        self.market(category, symbol)
        self._skip.add((category, symbol))

    # --- order entry --------------------------------------------------------------------------------------

    def place(self, account: FakeAccount, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/create``: validate, accept, then match at once unless conditional."""
        self._may_trade(account)
        category, symbol = _category(body), _text(body, "symbol")
        market = self.market(category, symbol)
        order = self.rules.new_order(account, body, market, self.now(), self.levels(category, symbol))
        account.orders[order.order_id] = order
        account.by_link[(category, order.link_id)] = order.order_id
        if order.status == "Untriggered":
            self._push_order(account, order)
        else:
            self._activate(order)
            self._after_trading(category, symbol)
        return {"orderId": order.order_id, "orderLinkId": order.link_id}

    def cancel(self, account: FakeAccount, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/cancel``."""
        self._may_trade(account)
        category = _category(body)
        order = self._find(account, category, body)
        if not order.is_open:
            raise VenueError(*_closed(category))
        self._cancel(order, "CancelByUser")
        self._after_trading(category, order.symbol)
        return {"orderId": order.order_id, "orderLinkId": order.link_id}

    def cancel_all(self, account: FakeAccount, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/cancel-all``: linear needs symbol, baseCoin or settleCoin."""
        self._may_trade(account)
        category = _category(body)
        symbol, base, settle = body.get("symbol"), body.get("baseCoin"), body.get("settleCoin")
        if category == "linear" and not (symbol or base or settle):
            raise VenueError(10001, "Missing some parameters that must be filled in, symbol or settleCoin")
        wanted_filter = body.get("orderFilter")
        cancelled = []
        for order in list(account.orders.values()):
            instrument = self.market(order.category, order.symbol).instrument
            if not order.is_open or order.category != category:
                continue
            if (symbol and order.symbol != symbol) or (base and instrument.base != base):
                continue
            if settle and instrument.quote != settle:
                continue
            if wanted_filter and wanted_filter != order.order_filter and category == "spot":
                continue
            self._cancel(order, "CancelByUser")
            cancelled.append({"orderId": order.order_id, "orderLinkId": order.link_id})
        for cat, sym in list(self.markets):
            if cat == category:
                self._after_trading(cat, sym)
        return {"list": cancelled, "success": "1"}

    def amend(self, account: FakeAccount, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/amend``: quantity, price and trigger price of an open order."""
        self._may_trade(account)
        category = _category(body)
        order = self._find(account, category, body)
        if not order.is_open:
            raise VenueError(110008 if category == "linear" else 170142, "Order has been filled or canceled")
        market = self.market(category, order.symbol)
        self.rules.amend(account, order, body, market)
        order.updated = self.now()
        if order.status != "Untriggered" and order.order_type == "Limit":
            # A new price that crosses the book trades at once, as on Bybit.
            self._unrest(order)
            self._activate(order, amended=True)
        else:
            self._push_order(account, order)
        self._after_trading(category, order.symbol)
        return {"orderId": order.order_id, "orderLinkId": order.link_id}

    def _may_trade(self, account: FakeAccount) -> None:
        if not account.can_trade:
            raise VenueError(10005, "Permission denied, please check your API key permissions.")

    def _find(self, account: FakeAccount, category: str, body: dict[str, Any]) -> FakeOrder:
        order_id = body.get("orderId") or account.by_link.get((category, str(body.get("orderLinkId") or "")))
        order = account.orders.get(str(order_id)) if order_id else None
        spot_filter = str(body.get("orderFilter") or "Order")
        if (
            order is None
            or order.category != category
            or (category == "spot" and order.order_filter != spot_filter)
        ):
            raise VenueError(110001 if category == "linear" else 170213, "Order does not exist.")
        return order

    # --- matching -----------------------------------------------------------------------------------------

    def _activate(self, order: FakeOrder, *, amended: bool = False) -> None:
        """Match a live (not conditional) order, then rest, cancel or finish it as its type says."""
        opposite = self._opposite_best(order)
        crosses = opposite is not None and (order.price is None or _crosses(order, opposite))
        if order.time_in_force == "PostOnly" and crosses:
            order.reject_reason = "EC_PostOnlyWillTakeLiquidity"
            self._cancel(order, "CancelByUser", push=True)
            return
        if order.time_in_force == "FOK" and self._fillable(order) < order.qty - order.cum_qty:
            order.reject_reason = "EC_FOKOrderUnfilled"
            self._cancel(order, "CancelByUser", push=True)
            return
        self._take(order)
        if order.cum_qty >= order.qty:
            order.status = "Filled"
        elif order.order_type == "Market" or order.time_in_force in ("IOC", "FOK"):
            self._cancel(order, "CancelByUser", push=False)
        else:
            order.status = "PartiallyFilled" if order.cum_qty else "New"
            self._resting[(order.category, order.symbol)].append(order)
        order.updated = self.now()
        self._push_order(self.accounts[order.account], order)

    def _opposite(self, order: FakeOrder) -> list[tuple[Decimal, list[FakeOrder], Decimal]]:
        """The other side's levels best first: (price, resting orders there, ladder quantity there)."""
        market = self.market(order.category, order.symbol)
        buy = order.side == "Buy"
        ladder = market.asks if buy else market.bids
        makers: dict[Decimal, list[FakeOrder]] = {}
        for resting in self._resting[(order.category, order.symbol)]:
            if resting.side != order.side and resting is not order and resting.price is not None:
                makers.setdefault(resting.price, []).append(resting)
        prices = sorted(set(ladder) | set(makers), reverse=not buy)
        return [(p, makers.get(p, []), ladder.get(p, Decimal(0))) for p in prices]

    def _opposite_best(self, order: FakeOrder) -> Decimal | None:
        levels = self._opposite(order)
        return levels[0][0] if levels else None

    def _fillable(self, order: FakeOrder) -> Decimal:
        total = Decimal(0)
        for price, makers, ladder in self._opposite(order):
            if order.price is not None and not _crosses(order, price):
                break
            total += ladder + sum((m.leaves for m in makers), Decimal(0))
        return total

    def _take(self, order: FakeOrder) -> None:
        market = self.market(order.category, order.symbol)
        ladder = market.asks if order.side == "Buy" else market.bids
        for price, makers, available in self._opposite(order):
            if order.cum_qty >= order.qty or (order.price is not None and not _crosses(order, price)):
                break
            for maker in makers:
                quantity = min(order.qty - order.cum_qty, maker.leaves)
                if quantity <= 0:
                    break
                self._fill(maker, quantity, price, is_maker=True)
                self._fill(order, quantity, price, is_maker=False)
                if not maker.is_open:
                    self._unrest(maker)
            quantity = min(order.qty - order.cum_qty, available)
            if quantity > 0:
                left = available - quantity
                if left > 0:
                    ladder[price] = left
                else:
                    ladder.pop(price, None)
                self._fill(order, quantity, price, is_maker=False)

    def _fill(self, order: FakeOrder, quantity: Decimal, price: Decimal, *, is_maker: bool) -> None:
        account = self.accounts[order.account]
        market = self.market(order.category, order.symbol)
        instrument = market.instrument
        value = quantity * price
        rate = FEES[(order.category, is_maker)]
        pnl = Decimal(0)
        if order.category == "spot":
            if order.side == "Buy":
                fee, fee_coin = quantity * rate, instrument.base
                account.wallet[instrument.quote] = account.wallet.get(instrument.quote, Decimal(0)) - value
                account.wallet[instrument.base] = (
                    account.wallet.get(instrument.base, Decimal(0)) + quantity - fee
                )
                order.locked = max(Decimal(0), order.locked - quantity * (order.price or price))
            else:
                fee, fee_coin = value * rate, instrument.quote
                account.wallet[instrument.base] = account.wallet.get(instrument.base, Decimal(0)) - quantity
                account.wallet[instrument.quote] = (
                    account.wallet.get(instrument.quote, Decimal(0)) + value - fee
                )
                order.locked = max(Decimal(0), order.locked - quantity)
        else:
            fee, fee_coin = value * rate, instrument.quote
            position = account.positions.setdefault(order.symbol, FakePosition(order.symbol))
            pnl = position.apply(order.side, quantity, price)
            position.updated = self.now()
            account.wallet[fee_coin] = account.wallet.get(fee_coin, Decimal(0)) + pnl - fee
        order.cum_qty += quantity
        order.cum_value += value
        order.cum_fee += fee
        order.fee_coin = fee_coin
        order.status = "Filled" if order.cum_qty >= order.qty else "PartiallyFilled"
        order.updated = self.now()
        if order.status == "Filled":
            order.locked = Decimal(0)
        market.trade(price, quantity)
        execution = self._execution(order, quantity, price, fee, rate, is_maker, pnl)
        account.executions.append(execution)
        self.hub.publish_private(account.api_key, "execution", order.category, [execution])
        if is_maker:
            self._push_order(account, order)
        else:
            self._publish_trade(order, quantity, price)
        self._push_wallet(account)
        if order.category == "linear":
            self._push_position(account, order.symbol)

    def _execution(
        self,
        order: FakeOrder,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        rate: Decimal,
        maker: bool,
        pnl: Decimal,
    ) -> dict[str, Any]:
        return {
            "category": order.category,
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderLinkId": order.link_id,
            "side": order.side,
            "orderPrice": fmt(order.price or Decimal(0)),
            "orderQty": fmt(order.qty),
            "leavesQty": fmt(order.leaves),
            "orderType": order.order_type,
            "stopOrderType": "Stop" if order.trigger_price is not None else "",
            "execId": str(uuid.uuid4()),
            "execPrice": fmt(price),
            "execQty": fmt(qty),
            "execValue": fmt(qty * price),
            "execFee": fmt(fee),
            "feeRate": fmt(rate),
            "execType": "Trade",
            "execTime": str(self.now()),
            "isMaker": maker,
            "closedSize": "0",
            "execPnl": fmt(pnl),
            "markPrice": fmt(self.market(order.category, order.symbol).last),
            "seq": next(self._seq),
            "feeCurrency": order.fee_coin,
            "isLeverage": "0",
            "createType": "CreateByUser",
        }

    def _cancel(self, order: FakeOrder, cancel_type: str, *, push: bool = True) -> None:
        untriggered = order.status == "Untriggered"
        if untriggered and order.category == "spot":
            order.status = "Deactivated"
        elif order.category == "spot" and order.cum_qty > 0:
            order.status = "PartiallyFilledCanceled"
        else:
            order.status = "Cancelled"
        order.cancel_type = cancel_type
        order.locked = Decimal(0)
        order.updated = self.now()
        self._unrest(order)
        if push:
            self._push_order(self.accounts[order.account], order)

    def _unrest(self, order: FakeOrder) -> None:
        resting = self._resting[(order.category, order.symbol)]
        if order in resting:
            resting.remove(order)

    # --- the market moves ---------------------------------------------------------------------------------

    def set_price(self, category: str, symbol: str, price: Decimal) -> None:
        """Move the market to ``price``: new ladder, resting orders it passed fill, triggers fire."""
        market = self.market(category, symbol)
        price = market.round(price)
        if price <= 0:
            raise VenueError(10001, f"price must be positive, got {price}")
        market.trade(price, Decimal(0))
        market.rebuild()
        for order in list(self._resting[(category, symbol)]):
            assert order.price is not None
            passed = order.price >= price if order.side == "Buy" else order.price <= price
            if passed and order.is_open:
                self._fill(order, order.qty - order.cum_qty, order.price, is_maker=True)
                self._unrest(order)
        market.last = price
        self._after_trading(category, symbol)

    def close_kline(self, category: str, symbol: str) -> None:
        """Close the running minute: every subscribed interval whose candle it completes gets it confirmed."""
        market = self.market(category, symbol)
        closed = market.close_minute()
        topics = self.hub.subscribed(category)
        now = self.now()
        for interval, minutes in INTERVAL_MS.items():
            topic = f"kline.{interval}.{symbol}"
            if topic not in topics:
                continue
            next_minute = closed.start + MINUTE_MS
            if bucket_start(next_minute, interval) != bucket_start(closed.start, interval):
                candle = market.aggregate(interval, include_running=False)[-1]
                self.hub.publish(
                    category, topic, _kline_message(topic, candle.ws(interval, minutes, True, now), now)
                )
            running = market.running_candle(interval)
            self.hub.publish(
                category, topic, _kline_message(topic, running.ws(interval, minutes, False, now), now)
            )

    def _after_trading(self, category: str, symbol: str) -> None:
        self._fire_triggers(category, symbol)
        self._publish_market(category, symbol)

    def _fire_triggers(self, category: str, symbol: str) -> None:
        market = self.market(category, symbol)
        for _ in range(100):
            fired = [
                order
                for account in self.accounts.values()
                for order in account.orders.values()
                if order.status == "Untriggered" and order.category == category and order.symbol == symbol
                and order.trigger_price is not None
                and ((order.trigger_direction == 1 and market.last >= order.trigger_price)
                     or (order.trigger_direction == 2 and market.last <= order.trigger_price))
            ]  # fmt: skip
            if not fired:
                return
            for order in sorted(fired, key=lambda o: o.created):
                order.status = "Triggered"
                order.updated = self.now()
                self._push_order(self.accounts[order.account], order)
                order.status = "New"
                self._activate(order)

    # --- publishing ---------------------------------------------------------------------------------------

    def _depth_views(self, key: tuple[str, str]) -> dict[int, tuple[Levels, Levels]]:
        bids, asks = self.levels(*key)
        return {depth: (bids[:depth], asks[:depth]) for depth in DEPTHS}

    def _publish_market(self, category: str, symbol: str) -> None:
        key = (category, symbol)
        views = self._depth_views(key)
        skip = key in self._skip
        now = self.now()
        changed = False
        for depth, (bids, asks) in views.items():
            old_bids, old_asks = self._views[key][depth]
            if (bids, asks) == (old_bids, old_asks):
                continue
            changed = True
            self._u[key][depth] += 2 if skip else 1
            topic = f"orderbook.{depth}.{symbol}"
            if depth == 1:
                data: dict[str, Any] = {"s": symbol, "b": _wire(bids), "a": _wire(asks)}
                kind = "snapshot"
            else:
                data = {"s": symbol, "b": _wire(_delta(old_bids, bids)), "a": _wire(_delta(old_asks, asks))}
                kind = "delta"
            data |= {"u": self._u[key][depth], "seq": next(self._seq)}
            self.hub.publish(
                category, topic, {"topic": topic, "type": kind, "ts": now, "data": data, "cts": now}
            )
        self._views[key] = views
        if changed:
            self._skip.discard(key)
        self._publish_ticker(category, symbol, now)
        self._publish_running_klines(category, symbol, now)

    def _publish_ticker(self, category: str, symbol: str, now: int) -> None:
        key = (category, symbol)
        ticker = self.market(category, symbol).ticker(*self.levels(category, symbol))
        old = self._tickers[key]
        self._tickers[key] = ticker
        topic = f"tickers.{symbol}"
        if category == "spot":
            message = {"topic": topic, "type": "snapshot", "data": ticker, "cs": next(self._seq), "ts": now}
            self.hub.publish(category, topic, message)
            return
        changes = {k: v for k, v in ticker.items() if old.get(k) != v}
        if changes:
            data = {"symbol": symbol, **changes}
            message = {"topic": topic, "type": "delta", "data": data, "cs": next(self._seq), "ts": now}
            self.hub.publish(category, topic, message)

    def _publish_running_klines(self, category: str, symbol: str, now: int) -> None:
        topics = self.hub.subscribed(category)
        market = self.market(category, symbol)
        for interval, minutes in INTERVAL_MS.items():
            topic = f"kline.{interval}.{symbol}"
            if topic in topics:
                item = market.running_candle(interval).ws(interval, minutes, False, now)
                self.hub.publish(category, topic, _kline_message(topic, item, now))

    def _publish_trade(self, order: FakeOrder, quantity: Decimal, price: Decimal) -> None:
        topic = f"publicTrade.{order.symbol}"
        now = self.now()
        trade = {
            "T": now,
            "s": order.symbol,
            "S": order.side,
            "v": fmt(quantity),
            "p": fmt(price),
            "L": "PlusTick",
            "i": str(uuid.uuid4()),
            "BT": False,
            "RPI": False,
            "seq": next(self._seq),
        }
        self.hub.publish(
            order.category, topic, {"topic": topic, "type": "snapshot", "ts": now, "data": [trade]}
        )

    def _push_order(self, account: FakeAccount, order: FakeOrder) -> None:
        self.hub.publish_private(account.api_key, "order", order.category, [order.json()])

    def _push_wallet(self, account: FakeAccount) -> None:
        self.hub.publish_private(account.api_key, "wallet", "", [account.wallet_json(self.marks())])

    def _push_position(self, account: FakeAccount, symbol: str) -> None:
        position = account.positions[symbol]
        mark = self.market("linear", symbol).last
        self.hub.publish_private(account.api_key, "position", "linear", [position.json(mark, websocket=True)])

    def marks(self) -> dict[str, Decimal]:
        """Last price per symbol (linear first, spot where both exist), for valuations."""
        marks = {symbol: m.last for (category, symbol), m in self.markets.items() if category == "spot"}
        marks |= {symbol: m.last for (category, symbol), m in self.markets.items() if category == "linear"}
        return marks


def _crosses(order: FakeOrder, price: Decimal) -> bool:
    assert order.price is not None
    return price <= order.price if order.side == "Buy" else price >= order.price


def _closed(category: str) -> tuple[int, str]:
    return (110008 if category == "linear" else 170142), "Order has been filled or canceled"


def _category(body: dict[str, Any]) -> str:
    category = body.get("category")
    if category not in ("spot", "linear"):
        raise VenueError(10001, f"params error: category {category!r} must be spot or linear")
    return str(category)


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise VenueError(10001, f"params error: {key} is required")
    return value


def _wire(levels: Levels) -> list[list[str]]:
    return [[fmt(p), fmt(q)] for p, q in levels]


def _delta(old: Levels, new: Levels) -> Levels:
    """The levels that changed from ``old`` to ``new``; size 0 for the ones that left."""
    before, after = dict(old), dict(new)
    changes = [(p, q) for p, q in new if before.get(p) != q]
    changes += [(p, Decimal(0)) for p, _ in old if p not in after]
    return changes


def _kline_message(topic: str, item: dict[str, Any], now: int) -> dict[str, Any]:
    return {"topic": topic, "type": "snapshot", "ts": now, "data": [item]}
