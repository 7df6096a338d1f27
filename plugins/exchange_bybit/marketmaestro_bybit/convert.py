"""Bybit V5 JSON objects to MarketMaestro's models, and back for order requests.

Bybit sends numbers as strings (``"30000.5"``), some timestamps as strings and some as numbers; empty
strings mean "not set". Money becomes ``Decimal`` straight from the string; market data becomes float.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from marketmaestro.model import (
    Balance,
    Fill,
    Instrument,
    Kline,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
    TimeInForce,
)

__all__ = [
    "INTERVALS",
    "bybit_interval",
    "client_id_of",
    "decimal",
    "parse_balances",
    "parse_fill",
    "parse_instrument",
    "parse_kline_row",
    "parse_order",
    "parse_position",
    "parse_ticker",
    "plain",
]

INTERVALS: dict[str, str] = {
    "1m": "1",
    "3m": "3",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "2h": "120",
    "4h": "240",
    "6h": "360",
    "12h": "720",
    "1d": "D",
    "1w": "W",
}
"""MarketMaestro interval -> Bybit interval (Bybit has no 8h; its monthly ``M`` has no fixed length)."""
FROM_BYBIT_INTERVAL = {v: k for k, v in INTERVALS.items()}

STATUSES: dict[str, OrderStatus] = {
    "New": OrderStatus.ACCEPTED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Untriggered": OrderStatus.ACCEPTED,
    "Triggered": OrderStatus.ACCEPTED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}
_MARKET_TYPES = (OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT)
TIME_IN_FORCE = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


def bybit_interval(interval: str) -> str:
    """Bybit's name of ``interval``; ``ValueError`` naming the ones Bybit has otherwise."""
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValueError(
            f"Bybit has no {interval!r} klines; expected one of {', '.join(INTERVALS)}"
        ) from None


def decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A Bybit number (string, int or float) as Decimal; ``default`` for ``""``, ``None`` or garbage."""
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def _dec(value: Any) -> Decimal:
    result = decimal(value, Decimal(0))
    assert result is not None
    return result


def plain(value: Decimal) -> str:
    """A Decimal as a plain string, never with an exponent (``1E-7`` -> ``0.0000001``)."""
    return format(value, "f")


def _positive(value: Any) -> Decimal | None:
    result = decimal(value)
    return result if result is not None and result > 0 else None


def client_id_of(item: dict[str, Any]) -> str:
    """Our client order id: Bybit's ``orderLinkId``, or ``bybit-<orderId>`` for orders placed elsewhere."""
    return str(item.get("orderLinkId") or f"bybit-{item.get('orderId', '')}")


def parse_instrument(item: dict[str, Any], category: str) -> Instrument:
    lot = item.get("lotSizeFilter") or {}
    tick = _dec((item.get("priceFilter") or {}).get("tickSize"))
    if category == "spot":
        step = _dec(lot.get("basePrecision"))
        minimum = _dec(lot.get("minOrderQty"))
        notional = _dec(lot.get("minOrderAmt"))
    else:
        step = _dec(lot.get("qtyStep"))
        minimum = _dec(lot.get("minOrderQty"))
        notional = _dec(lot.get("minNotionalValue"))
    if tick <= 0 or step <= 0:
        raise ValueError(f"Bybit instrument {item.get('symbol')!r} has no tick size or quantity step")
    return Instrument(
        symbol=str(item["symbol"]),
        base=str(item.get("baseCoin", "")),
        quote=str(item.get("quoteCoin", "")),
        tick_size=tick,
        step_size=step,
        min_quantity=minimum,
        min_notional=notional,
    )


def parse_kline_row(symbol: str, interval: str, row: list[Any], *, closed: bool = True) -> Kline:
    """A REST kline row ``[start, open, high, low, close, volume, turnover]``."""
    return Kline(
        symbol=symbol,
        interval=interval,
        timestamp=int(row[0]),
        open=float(row[1]),
        high=float(row[2]),
        low=float(row[3]),
        close=float(row[4]),
        volume=float(row[5]),
        closed=closed,
    )


def parse_ticker(data: dict[str, Any], timestamp: int) -> Ticker:
    """A ticker from a full ``tickers`` object (REST, or a WebSocket snapshot merged with its deltas)."""
    last = float(data.get("lastPrice") or 0)
    return Ticker(
        symbol=str(data["symbol"]),
        timestamp=timestamp,
        last=last,
        bid=float(data.get("bid1Price") or last),
        ask=float(data.get("ask1Price") or last),
        volume_24h=float(data.get("volume24h") or 0),
        change_24h=float(data.get("price24hPcnt") or 0) * 100,
    )


def _order_type(item: dict[str, Any], side: Side) -> OrderType:
    limit = item.get("orderType") == "Limit"
    trigger = _positive(item.get("triggerPrice"))
    if trigger is None:
        return OrderType.LIMIT if limit else OrderType.MARKET
    # A trigger in the position's favour (a sell that fires on a rise, a buy on a fall) is a take profit.
    direction = int(item.get("triggerDirection") or 0)
    favourable = (side is Side.SELL and direction == 1) or (side is Side.BUY and direction == 2)
    if item.get("stopOrderType") == "TakeProfit" or favourable:
        return OrderType.TAKE_PROFIT_LIMIT if limit else OrderType.TAKE_PROFIT
    return OrderType.STOP_LIMIT if limit else OrderType.STOP_MARKET


def parse_order(item: dict[str, Any], exchange: str) -> Order:
    """An order object (REST ``order/realtime``/``order/history`` and WebSocket ``order``)."""
    side = Side.BUY if item.get("side") == "Buy" else Side.SELL
    status = STATUSES.get(str(item.get("orderStatus")), OrderStatus.ACCEPTED)
    tif = str(item.get("timeInForce") or "GTC")
    reject = str(item.get("rejectReason") or "")
    error = reject if status is OrderStatus.REJECTED or reject not in ("", "EC_NoError") else None
    order_type = _order_type(item, side)
    return Order(
        client_order_id=client_id_of(item),
        exchange=exchange,
        symbol=str(item["symbol"]),
        side=side,
        type=order_type,
        quantity=_dec(item.get("qty")),
        price=None if order_type in _MARKET_TYPES else _positive(item.get("price")),
        status=status,
        stop_price=_positive(item.get("triggerPrice")),
        time_in_force=TIME_IN_FORCE.get(tif, TimeInForce.GTC),
        post_only=tif == "PostOnly",
        reduce_only=bool(item.get("reduceOnly")),
        venue_order_id=str(item.get("orderId") or "") or None,
        filled_quantity=_dec(item.get("cumExecQty")),
        average_price=_positive(item.get("avgPrice")),
        error=error,
        created_at=int(item.get("createdTime") or 0),
        updated_at=int(item.get("updatedTime") or item.get("createdTime") or 0),
    )


def parse_fill(item: dict[str, Any], exchange: str, instrument: Instrument | None) -> Fill:
    """An execution (REST ``execution/list`` and WebSocket ``execution``)."""
    side = Side.BUY if item.get("side") == "Buy" else Side.SELL
    currency = str(item.get("feeCurrency") or "")
    if not currency and instrument is not None:
        # Bybit spot charges a buyer's fee in the base coin; everything else is in the quote (settle) coin.
        spot_buy = item.get("category") == "spot" and side is Side.BUY
        currency = instrument.base if spot_buy else instrument.quote
    return Fill(
        fill_id=str(item["execId"]),
        client_order_id=client_id_of(item),
        exchange=exchange,
        symbol=str(item["symbol"]),
        side=side,
        quantity=_dec(item.get("execQty")),
        price=_dec(item.get("execPrice")),
        fee=_dec(item.get("execFee")),
        fee_currency=currency,
        timestamp=int(item.get("execTime") or 0),
    )


def parse_balances(account: dict[str, Any]) -> list[Balance]:
    """The coins of a wallet account object; free is the wallet balance less what orders lock."""
    balances = []
    for coin in account.get("coin") or []:
        wallet = _dec(coin.get("walletBalance"))
        locked = _dec(coin.get("locked")) + _dec(coin.get("totalOrderIM"))
        balances.append(Balance(str(coin["coin"]), wallet - locked, locked))
    return sorted(balances, key=lambda b: b.asset)


def parse_position(item: dict[str, Any], exchange: str) -> Position:
    """A position (REST ``avgPrice``, WebSocket ``entryPrice``); short positions are negative."""
    size = _dec(item.get("size"))
    if item.get("side") == "Sell":
        size = -size
    entry = decimal(item.get("avgPrice") or item.get("entryPrice"), Decimal(0))
    assert entry is not None
    return Position(
        exchange=exchange,
        symbol=str(item["symbol"]),
        quantity=size,
        average_price=entry,
        realized_pnl=_dec(item.get("cumRealisedPnl")),
    )
