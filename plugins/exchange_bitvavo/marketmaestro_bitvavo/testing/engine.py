"""The fake Bitvavo's exchange: one account, order books, matching, triggers, trades and candles.

Each market's book is simulated liquidity (``set_liquidity``, or levels around a price from ``set_price``)
plus the account's resting limit orders. Orders of the account take the simulated liquidity (taker fee) and
rest; resting orders fill (maker fee) when the market price moves through them (``set_price``), and stop and
take-profit orders trigger on the last trade price. Every change is announced to the ``listeners`` as an
:class:`Event`: the WebSocket server turns them into ``book`` updates (nonce +1 per change), ``trade``,
``candle``, ``ticker``/``ticker24h`` and ``account`` (``order``, ``fill``) messages.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marketmaestro_bitvavo.testing.state import (
    LIMIT_TYPES,
    TRIGGER_TYPES,
    FakeMarket,
    FakeOrder,
    Trade,
    bucket_start,
    candles,
    text,
)

FEE_QUANTUM = Decimal("1e-8")


class ApiError(Exception):
    """An error object the fake answers with: HTTP ``status``, Bitvavo ``code`` and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict[str, Any]:
        return {"errorCode": self.code, "error": self.message}


@dataclass(frozen=True)
class Event:
    """Something the WebSocket subscribers of ``channel`` (and ``market``) hear about."""

    channel: str
    market: str
    payload: dict[str, Any]
    interval: str | None = None


@dataclass
class Book:
    """Simulated liquidity of one market (price -> size); the account's resting orders come on top."""

    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)


class Exchange:
    """The matching engine and account. Not thread-safe; every call runs on the server's trio thread."""

    def __init__(
        self, *, maker_fee: Decimal = Decimal("0.0015"), taker_fee: Decimal = Decimal("0.0025")
    ) -> None:
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.markets: dict[str, FakeMarket] = {}
        self.available: dict[str, Decimal] = {}
        self.in_order: dict[str, Decimal] = {}
        self.orders: dict[str, FakeOrder] = {}
        self.user_trades: list[dict[str, Any]] = []
        self.trades: dict[str, list[Trade]] = {}
        self.last_price: dict[str, Decimal] = {}
        self.liquidity: dict[str, Book] = {}
        self.nonce: dict[str, int] = {}
        self.published: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}
        self.listeners: list[Callable[[Event], None]] = []
        self.skip_nonces: dict[str, int] = {}
        self.clock_offset_ms = 0
        self._ids = itertools.count(1)

    # --- time and ids ---------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.clock_offset_ms

    def _id(self) -> str:
        return str(uuid.UUID(int=(0x4A << 120) | next(self._ids) << 32 | uuid.uuid4().int & 0xFFFFFFFF))

    # --- set-up and control ---------------------------------------------------------------------------

    def add_market(self, market: FakeMarket) -> None:
        self.markets[market.market] = market
        self.liquidity.setdefault(market.market, Book())
        self.trades.setdefault(market.market, [])
        self.nonce.setdefault(market.market, 0)
        self.published.setdefault(market.market, ({}, {}))

    def set_balance(self, asset: str, available: Decimal) -> None:
        self.available[asset] = Decimal(available)

    def set_liquidity(self, market: str, bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> None:
        """Replace the simulated levels of ``market``'s book."""
        self.liquidity[market] = Book(dict(bids), dict(asks))
        self._publish(market)

    def set_price(
        self,
        market: str,
        price: Decimal,
        *,
        amount: Decimal = Decimal("0.01"),
        timestamp: int | None = None,
        levels: int = 5,
        level_size: Decimal = Decimal("1"),
    ) -> None:
        """The crowd trades ``amount`` at ``price``: resting orders it crosses fill, triggers fire, and the
        simulated liquidity moves to ``levels`` levels a tick apart on each side of ``price``."""
        spec = self.markets[market]
        price = Decimal(price)
        previous = self.last_price.get(market, price)
        stamp = timestamp if timestamp is not None else self.now_ms()
        self._public_trade(market, price, Decimal(amount), "buy" if price >= previous else "sell", stamp)
        for order in [o for o in self.orders.values() if o.market == market and o.rests]:
            assert order.price is not None
            crossed = order.price >= price if order.side == "buy" else order.price <= price
            if crossed:
                self._fill(order, order.remaining, order.price, taker=False, timestamp=stamp)
        tick = spec.tick_size or Decimal(1).scaleb(price.adjusted() - spec.price_precision + 1)
        self.liquidity[market] = Book(
            {price - tick * i: Decimal(level_size) for i in range(1, levels + 1)},
            {price + tick * i: Decimal(level_size) for i in range(1, levels + 1)},
        )
        self._run_triggers(market, stamp)
        self._publish(market)

    # --- views ----------------------------------------------------------------------------------------

    def displayed(self, market: str) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """The book as the world sees it: simulated liquidity plus the account's resting orders."""
        book = self.liquidity[market]
        bids, asks = dict(book.bids), dict(book.asks)
        for order in self.orders.values():
            if order.market == market and order.rests and order.price is not None:
                side = bids if order.side == "buy" else asks
                side[order.price] = side.get(order.price, Decimal(0)) + order.remaining
        return bids, asks

    def book_json(self, market: str, depth: int = 1000) -> dict[str, Any]:
        bids, asks = self.displayed(market)
        return {
            "market": market,
            "nonce": self.nonce[market],
            "bids": [[text(p), text(s)] for p, s in sorted(bids.items(), reverse=True)[:depth]],
            "asks": [[text(p), text(s)] for p, s in sorted(asks.items())[:depth]],
            "timestamp": self.now_ms() * 1_000_000,
        }

    def candles(self, market: str, interval: str) -> list[list[Any]]:
        return candles(self.trades[market], interval)

    def ticker24h(self, market: str) -> dict[str, Any]:
        now = self.now_ms()
        recent = [t for t in self.trades[market] if t.timestamp >= now - 86_400_000]
        bids, asks = self.displayed(market)
        bid = max(bids) if bids else None
        ask = min(asks) if asks else None
        first, last = (recent[0], recent[-1]) if recent else (None, None)
        return {
            "market": market,
            "startTimestamp": now - 86_400_000,
            "timestamp": now,
            "open": text(first.price) if first else None,
            "openTimestamp": first.timestamp if first else None,
            "high": text(max(t.price for t in recent)) if recent else None,
            "low": text(min(t.price for t in recent)) if recent else None,
            "last": text(last.price) if last else None,
            "closeTimestamp": last.timestamp if last else None,
            "bid": text(bid) if bid is not None else None,
            "bidSize": text(bids[bid]) if bid is not None else None,
            "ask": text(ask) if ask is not None else None,
            "askSize": text(asks[ask]) if ask is not None else None,
            "volume": text(sum((t.amount for t in recent), Decimal(0))),
            "volumeQuote": text(sum((t.amount * t.price for t in recent), Decimal(0))),
        }

    def balance_json(self, symbol: str | None = None) -> list[dict[str, str]]:
        assets = sorted(set(self.available) | set(self.in_order))
        return [
            {
                "symbol": a,
                "available": text(self.available.get(a, Decimal(0))),
                "inOrder": text(self.in_order.get(a, Decimal(0))),
            }
            for a in assets
            if (symbol is None or a == symbol) and (self.available.get(a) or self.in_order.get(a))
        ]

    # --- orders ---------------------------------------------------------------------------------------

    def create_order(self, spec: dict[str, Any]) -> FakeOrder:
        """Place a validated order (see ``validation.order_from_body``) and run it against the book."""
        market = self.markets[spec["market"]]
        now = self.now_ms()
        order = FakeOrder(order_id=self._id(), created=now, updated=now, **spec)
        order.on_hold_currency = market.quote
        reference = None
        if order.order_type == "market" and order.side == "buy":
            # A market buy holds what taking the book would cost at its worst level.
            reference = max((price for price, _ in self._plan(order, None)), default=None)
        self._hold(order, market, reference)
        self.orders[order.order_id] = order
        if order.order_type in TRIGGER_TYPES:
            order.status = "awaitingTrigger"
            self._emit_order(order)
            self._run_triggers(order.market, now)
        else:
            self._execute(order, now, placing=True)
        self._publish(order.market)
        return order

    def _hold(self, order: FakeOrder, market: FakeMarket, reference: Decimal | None) -> None:
        if order.side == "sell":
            needed, asset = order.remaining, market.base
        else:
            price = order.price or order.trigger_amount or reference or Decimal(0)
            needed, asset = (
                (order.remaining * price * (1 + self.taker_fee)).quantize(FEE_QUANTUM),
                market.quote,
            )
        if self.available.get(asset, Decimal(0)) < needed:
            raise ApiError(400, 216, "You do not have sufficient balance to complete this operation.")
        self.available[asset] = self.available.get(asset, Decimal(0)) - needed
        self.in_order[asset] = self.in_order.get(asset, Decimal(0)) + needed
        order.on_hold = needed
        order.on_hold_currency = asset

    def _release(self, order: FakeOrder, amount: Decimal | None = None) -> None:
        amount = order.on_hold if amount is None else min(amount, order.on_hold)
        asset = order.on_hold_currency
        self.in_order[asset] = self.in_order.get(asset, Decimal(0)) - amount
        self.available[asset] = self.available.get(asset, Decimal(0)) + amount
        order.on_hold -= amount

    def _plan(self, order: FakeOrder, limit: Decimal | None) -> list[tuple[Decimal, Decimal]]:
        """The (price, amount) the order would take from the simulated liquidity, best first."""
        book = self.liquidity[order.market]
        levels = sorted(book.asks.items()) if order.side == "buy" else sorted(book.bids.items(), reverse=True)
        plan, left = [], order.remaining
        for price, size in levels:
            if left <= 0 or (limit is not None and (price > limit if order.side == "buy" else price < limit)):
                break
            take = min(size, left)
            plan.append((price, take))
            left -= take
        return plan

    def _execute(self, order: FakeOrder, now: int, *, placing: bool = False) -> None:
        limit = order.price if order.order_type in LIMIT_TYPES else None
        plan = self._plan(order, limit)
        planned = sum((amount for _, amount in plan), Decimal(0))
        if order.post_only and plan:
            return self._finish(order, "canceledPostOnly", now)
        if order.time_in_force == "FOK" and planned < order.remaining:
            return self._finish(order, "canceledFOK", now)
        if order.side == "buy" and limit is None:
            cost = sum((p * a for p, a in plan), Decimal(0)) * (1 + self.taker_fee)
            spare = self.available.get(order.on_hold_currency, Decimal(0)) + order.on_hold
            if cost > spare:
                if not placing:  # a triggered stop that cannot pay any more: it ends cancelled
                    return self._finish(order, "canceled", now)
                self._release(order)
                del self.orders[order.order_id]
                raise ApiError(400, 216, "You do not have sufficient balance to complete this operation.")
        self._emit_order(order)
        for price, amount in plan:
            book = self.liquidity[order.market]
            side = book.asks if order.side == "buy" else book.bids
            side[price] -= amount
            if side[price] <= 0:
                del side[price]
            self._fill(order, amount, price, taker=True, timestamp=now)
        if order.is_open and order.remaining > 0:
            if limit is None:
                self._finish(order, "canceledMarketProtection" if plan else "canceled", now)
            elif order.time_in_force == "IOC":
                self._finish(order, "canceledIOC", now)
        return None

    def _fill(
        self, order: FakeOrder, amount: Decimal, price: Decimal, *, taker: bool, timestamp: int
    ) -> None:
        market = self.markets[order.market]
        notional = amount * price
        fee = (notional * (self.taker_fee if taker else self.maker_fee)).quantize(FEE_QUANTUM)
        if order.side == "buy":
            self._release(order, (notional * (1 + self.taker_fee)).quantize(FEE_QUANTUM))
            self.available[market.quote] = self.available.get(market.quote, Decimal(0)) - notional - fee
            self.available[market.base] = self.available.get(market.base, Decimal(0)) + amount
        else:
            self._release(order, amount)
            self.available[market.base] = self.available.get(market.base, Decimal(0)) - amount
            self.available[market.quote] = self.available.get(market.quote, Decimal(0)) + notional - fee
        fill_id = self._id()
        fill = {
            "id": fill_id,
            "timestamp": timestamp,
            "amount": text(amount),
            "price": text(price),
            "taker": taker,
            "fee": text(fee),
            "feeCurrency": market.quote,
            "settled": True,
        }
        order.fills.append(fill)
        order.filled_amount += amount
        order.filled_quote += notional
        order.fee_paid += fee
        order.updated = max(order.updated, timestamp)
        order.status = "filled" if order.remaining <= 0 else "partiallyFilled"
        trade = {**fill, "orderId": order.order_id, "market": order.market, "side": order.side}
        if order.client_order_id:
            trade["clientOrderId"] = order.client_order_id
        self.user_trades.append(trade)
        if order.status == "filled":
            self._release(order)
        self._emit_order(order)
        event = {
            "event": "fill",
            "timestamp": timestamp,
            "market": order.market,
            "orderId": order.order_id,
            "fillId": fill_id,
            "side": order.side,
            "amount": text(amount),
            "price": text(price),
            "taker": taker,
            "fee": text(fee),
            "feeCurrency": market.quote,
        }
        self._emit(Event("account", order.market, event))
        # The taker's side is the trade's side: ours when we took the book, the crowd's when it took us.
        side = order.side if taker else ("sell" if order.side == "buy" else "buy")
        self._public_trade(order.market, price, amount, side, timestamp)

    def _finish(self, order: FakeOrder, status: str, now: int) -> None:
        order.status = status
        order.updated = max(order.updated, now)
        self._release(order)
        self._emit_order(order)

    def cancel(self, order: FakeOrder) -> None:
        self._finish(order, "canceled", self.now_ms())
        self._publish(order.market)

    def update(
        self, order: FakeOrder, amount: Decimal | None, price: Decimal | None, trigger: Decimal | None
    ) -> None:
        """Amend an open order: it leaves the book, changes, takes its new hold and matches again."""
        self._release(order)
        old = (order.amount, order.price, order.trigger_amount)
        if amount is not None:
            order.amount = amount
        if price is not None:
            order.price = price
        if trigger is not None:
            order.trigger_amount = trigger
        try:
            self._hold(order, self.markets[order.market], None)
        except ApiError:
            order.amount, order.price, order.trigger_amount = old
            self._hold(order, self.markets[order.market], None)
            raise
        order.updated = self.now_ms()
        if order.status == "awaitingTrigger":
            self._emit_order(order)
            self._run_triggers(order.market, order.updated)
        else:
            self._execute(order, order.updated)
        self._publish(order.market)

    def _run_triggers(self, market: str, now: int) -> None:
        for _ in range(len(self.orders) + 1):
            last = self.last_price.get(market)
            fired = next(
                (
                    o
                    for o in self.orders.values()
                    if o.market == market
                    and o.status == "awaitingTrigger"
                    and last is not None
                    and _triggered(o, last)
                ),
                None,
            )
            if fired is None:
                return
            fired.status = "new"
            fired.updated = now
            self._execute(fired, now)

    # --- announcements --------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    def _emit_order(self, order: FakeOrder) -> None:
        payload = {"event": "order", **order.as_json()}
        payload.pop("fills", None)
        self._emit(Event("account", order.market, payload))

    def _public_trade(self, market: str, price: Decimal, amount: Decimal, side: str, timestamp: int) -> None:
        trade = Trade(self._id(), market, timestamp, price, amount, side)
        self.trades[market].append(trade)
        self.last_price[market] = price
        self._emit(Event("trades", market, {"event": "trade", "market": market, **trade.as_json()}))
        for interval in ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"):
            start = bucket_start(timestamp, interval)
            row = next(r for r in reversed(self.candles(market, interval)) if r[0] == start)
            self._emit(
                Event(
                    "candles",
                    market,
                    {"event": "candle", "market": market, "interval": interval, "candle": [row]},
                    interval,
                )
            )
        self._emit(Event("ticker24h", market, {"event": "ticker24h", "data": [self.ticker24h(market)]}))

    def _publish(self, market: str) -> None:
        """Announce what changed in ``market``'s displayed book since the last announcement, nonce +1."""
        bids, asks = self.displayed(market)
        old_bids, old_asks = self.published[market]
        delta_bids = _delta(old_bids, bids, reverse=True)
        delta_asks = _delta(old_asks, asks, reverse=False)
        if not delta_bids and not delta_asks:
            return
        self.published[market] = (bids, asks)
        self.nonce[market] += 1
        if self.skip_nonces.get(market, 0) > 0:
            self.skip_nonces[market] -= 1  # fault injection: this update is lost on the wire
        else:
            self._emit(
                Event(
                    "book",
                    market,
                    {
                        "event": "book",
                        "market": market,
                        "nonce": self.nonce[market],
                        "bids": delta_bids,
                        "asks": delta_asks,
                        "timestamp": self.now_ms() * 1_000_000,
                    },
                )
            )
        best = {
            "event": "ticker",
            "market": market,
            "bestBid": text(max(bids)) if bids else None,
            "bestBidSize": text(bids[max(bids)]) if bids else None,
            "bestAsk": text(min(asks)) if asks else None,
            "bestAskSize": text(asks[min(asks)]) if asks else None,
            "lastPrice": text(self.last_price[market]) if market in self.last_price else None,
        }
        self._emit(Event("ticker", market, best))


def _delta(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal], *, reverse: bool) -> list[list[str]]:
    changed = {p: s for p, s in new.items() if old.get(p) != s}
    changed.update({p: Decimal(0) for p in old if p not in new})
    return [[text(p), text(s)] for p, s in sorted(changed.items(), reverse=reverse)]


def _triggered(order: FakeOrder, last: Decimal) -> bool:
    trigger = order.trigger_amount
    assert trigger is not None
    stop = order.order_type.startswith("stopLoss")
    if order.side == "sell":
        return last <= trigger if stop else last >= trigger
    return last >= trigger if stop else last <= trigger
