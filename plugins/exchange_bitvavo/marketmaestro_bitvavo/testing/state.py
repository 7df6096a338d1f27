"""The fake Bitvavo's records: markets, orders, balances, trades and candles, with their JSON shapes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

INTERVAL_MS = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "1W": 604_800_000,
}
"""Bitvavo's fixed-length candle intervals; ``1M`` (calendar months) is handled by :func:`bucket_start`."""
OPEN_STATUSES = frozenset({"new", "partiallyFilled", "awaitingTrigger"})
TRIGGER_TYPES = frozenset({"stopLoss", "stopLossLimit", "takeProfit", "takeProfitLimit"})
LIMIT_TYPES = frozenset({"limit", "stopLossLimit", "takeProfitLimit"})


def text(value: Decimal) -> str:
    """A Decimal as Bitvavo writes it: plain digits, no exponent, no trailing zeros."""
    out = format(value, "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return out or "0"


def bucket_start(timestamp: int, interval: str) -> int:
    """The open time of the ``interval`` candle holding ``timestamp`` (UTC; weeks start on Monday)."""
    if interval == "1M":
        moment = dt.datetime.fromtimestamp(timestamp / 1000, tz=dt.UTC)
        return int(dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC).timestamp() * 1000)
    size = INTERVAL_MS[interval]
    offset = 345_600_000 if interval == "1W" else 0  # 1970-01-01 was a Thursday; Monday is 4 days later
    return (timestamp - offset) // size * size + offset


@dataclass
class FakeMarket:
    market: str
    base: str
    quote: str
    tick_size: Decimal | None = Decimal("1")
    price_precision: int = 5
    quantity_decimals: int = 8
    notional_decimals: int = 2
    min_base: Decimal = Decimal("0.0001")
    min_quote: Decimal = Decimal("5")
    status: str = "trading"

    def as_json(self) -> dict[str, Any]:
        return {
            "market": self.market,
            "status": self.status,
            "base": self.base,
            "quote": self.quote,
            "pricePrecision": self.price_precision,
            "minOrderInBaseAsset": text(self.min_base),
            "minOrderInQuoteAsset": text(self.min_quote),
            "maxOrderInBaseAsset": "1000000000",
            "maxOrderInQuoteAsset": "1000000000",
            "quantityDecimals": self.quantity_decimals,
            "notionalDecimals": self.notional_decimals,
            "tickSize": text(self.tick_size) if self.tick_size is not None else None,
            "maxOpenOrders": 100,
            "feeCategory": "A",
            "orderTypes": ["market", "limit", "stopLoss", "stopLossLimit", "takeProfit", "takeProfitLimit"],
        }

    def price_error(self, price: Decimal) -> tuple[int, str] | None:
        if self.tick_size is not None:
            if price % self.tick_size != 0:
                return 422, f"The price must be a multiple of the tickSize {text(self.tick_size)}."
            return None
        digits = len(price.normalize().as_tuple().digits)
        if digits > self.price_precision:
            return 214, "price has too many significant digits."
        return None


@dataclass
class FakeOrder:
    order_id: str
    market: str
    side: str
    order_type: str
    amount: Decimal
    created: int
    operator_id: int
    client_order_id: str | None = None
    price: Decimal | None = None
    trigger_amount: Decimal | None = None
    trigger_reference: str = "lastTrade"
    time_in_force: str = "GTC"
    post_only: bool = False
    status: str = "new"
    updated: int = 0
    filled_amount: Decimal = Decimal(0)
    filled_quote: Decimal = Decimal(0)
    fee_paid: Decimal = Decimal(0)
    on_hold: Decimal = Decimal(0)
    on_hold_currency: str = ""
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled_amount

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def rests(self) -> bool:
        """On the book: an open limit order whose trigger (if any) has fired."""
        return self.is_open and self.status != "awaitingTrigger" and self.order_type in LIMIT_TYPES

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"orderId": self.order_id, "market": self.market}
        if self.client_order_id:
            out["clientOrderId"] = self.client_order_id
        out.update(
            created=self.created,
            updated=self.updated or self.created,
            createdNs=self.created * 1_000_000,
            updatedNs=(self.updated or self.created) * 1_000_000,
            status=self.status,
            side=self.side,
            orderType=self.order_type,
            amount=text(self.amount),
            amountRemaining=text(self.remaining),
        )
        if self.price is not None:
            out["price"] = text(self.price)
        if self.trigger_amount is not None:
            out.update(
                triggerAmount=text(self.trigger_amount),
                triggerPrice=text(self.trigger_amount),
                triggerType="price",
                triggerReference=self.trigger_reference,
            )
        out.update(
            onHold=text(self.on_hold),
            onHoldCurrency=self.on_hold_currency,
            filledAmount=text(self.filled_amount),
            filledAmountQuote=text(self.filled_quote),
            feePaid=text(self.fee_paid),
            feeCurrency=self.on_hold_currency or "EUR",
            fills=list(self.fills),
            selfTradePrevention="decrementAndCancel",
            visible=True,
            timeInForce=self.time_in_force,
            postOnly=self.post_only,
            operatorId=self.operator_id,
        )
        return out


@dataclass
class Trade:
    """A public trade (every execution on the market, ours or the simulated crowd's)."""

    trade_id: str
    market: str
    timestamp: int
    price: Decimal
    amount: Decimal
    side: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.trade_id,
            "timestamp": self.timestamp,
            "amount": text(self.amount),
            "price": text(self.price),
            "side": self.side,
        }


def candles(trades: list[Trade], interval: str) -> list[list[Any]]:
    """Candle rows ``[ms, open, high, low, close, volume]``, oldest first; none for quiet buckets."""
    rows: dict[int, list[Any]] = {}
    for trade in sorted(trades, key=lambda t: t.timestamp):
        start = bucket_start(trade.timestamp, interval)
        row = rows.get(start)
        if row is None:
            rows[start] = [start, trade.price, trade.price, trade.price, trade.price, trade.amount]
        else:
            row[2] = max(row[2], trade.price)
            row[3] = min(row[3], trade.price)
            row[4] = trade.price
            row[5] += trade.amount
    return [[r[0], *(text(v) for v in r[1:])] for _, r in sorted(rows.items())]
