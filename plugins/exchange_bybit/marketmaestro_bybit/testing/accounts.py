"""The fake's accounts: API keys, wallets, orders, executions and linear positions, in Bybit's JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marketmaestro_bybit.testing.marketdata import fmt

__all__ = ["LEVERAGE", "FakeAccount", "FakeOrder", "FakePosition"]

LEVERAGE = Decimal(10)
"""Every linear position of the fake runs at 10x: initial margin is a tenth of the notional."""
OPEN = ("New", "PartiallyFilled", "Untriggered")


@dataclass
class FakeOrder:
    order_id: str
    link_id: str
    account: str
    category: str
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal | None
    time_in_force: str
    created: int
    trigger_price: Decimal | None = None
    trigger_direction: int = 0
    reduce_only: bool = False
    status: str = "New"
    cum_qty: Decimal = Decimal(0)
    cum_value: Decimal = Decimal(0)
    cum_fee: Decimal = Decimal(0)
    fee_coin: str = ""
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"
    updated: int = 0
    locked: Decimal = Decimal(0)
    """Spot: what the order holds back in the wallet (quote for buys, base for sells)."""
    locked_coin: str = ""
    order_filter: str = "Order"
    """Spot: ``Order`` or ``StopOrder`` (conditional); cancels must name the same filter."""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.cum_qty if self.is_open else Decimal(0)

    def json(self) -> dict[str, Any]:
        """The order object of A6.10 (REST) and the WebSocket ``order`` topic."""
        avg = (self.cum_value / self.cum_qty) if self.cum_qty else None
        return {
            "category": self.category,
            "orderId": self.order_id,
            "orderLinkId": self.link_id,
            "symbol": self.symbol,
            "price": fmt(self.price) if self.price is not None else "0",
            "qty": fmt(self.qty),
            "side": self.side,
            "positionIdx": 0,
            "orderStatus": self.status,
            "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason,
            "avgPrice": fmt(avg.normalize()) if avg is not None else "",
            "leavesQty": fmt(self.leaves),
            "leavesValue": fmt(self.leaves * (self.price or Decimal(0))),
            "cumExecQty": fmt(self.cum_qty),
            "cumExecValue": fmt(self.cum_value),
            "cumExecFee": fmt(self.cum_fee),
            "cumFeeDetail": {self.fee_coin: fmt(self.cum_fee)} if self.cum_fee and self.fee_coin else {},
            "timeInForce": self.time_in_force,
            "orderType": self.order_type,
            "stopOrderType": "Stop" if self.trigger_price is not None else "",
            "triggerPrice": fmt(self.trigger_price) if self.trigger_price is not None else "0.0",
            "triggerDirection": self.trigger_direction,
            "triggerBy": "LastPrice" if self.trigger_price is not None else "UNKNOWN",
            "takeProfit": "",
            "stopLoss": "",
            "reduceOnly": self.reduce_only,
            "closeOnTrigger": False,
            "createdTime": str(self.created),
            "updatedTime": str(self.updated or self.created),
        }


@dataclass
class FakePosition:
    symbol: str
    size: Decimal = Decimal(0)
    """Signed: negative when short."""
    entry: Decimal = Decimal(0)
    realised: Decimal = Decimal(0)
    updated: int = 0

    def apply(self, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """A fill of ``qty`` at ``price``; the PnL it realises (before fees)."""
        signed = qty if side == "Buy" else -qty
        realised = Decimal(0)
        if self.size == 0 or (self.size > 0) == (signed > 0):
            total = self.size + signed
            self.entry = (self.entry * abs(self.size) + price * qty) / abs(total)
            self.size = total
            return realised
        closing = min(qty, abs(self.size))
        direction = 1 if self.size > 0 else -1
        realised = (price - self.entry) * closing * direction
        self.size += signed
        if self.size == 0:
            self.entry = Decimal(0)
        elif (self.size > 0) != (direction > 0):
            self.entry = price  # flipped: the rest opened at this price
        self.realised += realised
        return realised

    def json(self, mark: Decimal, *, websocket: bool) -> dict[str, Any]:
        """A position item: REST calls the entry ``avgPrice``, the WebSocket ``entryPrice``."""
        size = abs(self.size)
        side = "" if self.size == 0 else ("Buy" if self.size > 0 else "Sell")
        pnl = (mark - self.entry) * self.size if self.size else Decimal(0)
        item = {
            "category": "linear",
            "symbol": self.symbol,
            "positionIdx": 0,
            "side": side,
            "size": fmt(size),
            "markPrice": fmt(mark),
            "leverage": fmt(LEVERAGE),
            "positionValue": fmt(size * self.entry),
            "positionIM": fmt(size * self.entry / LEVERAGE),
            "liqPrice": "",
            "takeProfit": "0",
            "stopLoss": "0",
            "unrealisedPnl": fmt(pnl),
            "curRealisedPnl": fmt(self.realised),
            "cumRealisedPnl": fmt(self.realised),
            "positionStatus": "Normal",
            "adlRankIndicator": 0,
            "isReduceOnly": False,
            "autoAddMargin": 0,
            "riskId": 1,
            "seq": self.updated,
            "createdTime": str(self.updated),
            "updatedTime": str(self.updated),
        }
        item["entryPrice" if websocket else "avgPrice"] = fmt(self.entry)
        return item


@dataclass
class FakeAccount:
    api_key: str
    api_secret: str
    wallet: dict[str, Decimal] = field(default_factory=dict)
    can_trade: bool = True
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    by_link: dict[tuple[str, str], str] = field(default_factory=dict)
    """(category, orderLinkId) -> orderId."""
    executions: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, FakePosition] = field(default_factory=dict)

    def spot_locked(self, coin: str) -> Decimal:
        return sum(
            (o.locked for o in self.orders.values() if o.is_open and o.locked_coin == coin),
            Decimal(0),
        )

    def linear_order_margin(self) -> Decimal:
        return sum(
            (o.leaves * (o.price or o.trigger_price or Decimal(0)) / LEVERAGE
             for o in self.orders.values() if o.is_open and o.category == "linear" and not o.reduce_only),
            Decimal(0),
        )  # fmt: skip

    def position_margin(self) -> Decimal:
        return sum((abs(p.size) * p.entry / LEVERAGE for p in self.positions.values()), Decimal(0))

    def available(self, coin: str) -> Decimal:
        """What a new order may use: wallet less spot locks, and for USDT less linear margin."""
        free = self.wallet.get(coin, Decimal(0)) - self.spot_locked(coin)
        if coin == "USDT":
            free -= self.linear_order_margin() + self.position_margin()
        return free

    def wallet_json(self, marks: dict[str, Decimal]) -> dict[str, Any]:
        """The account object of A6.13 and the WebSocket ``wallet`` topic."""
        coins = []
        total = Decimal(0)
        upl = sum(
            ((marks.get(p.symbol, p.entry) - p.entry) * p.size for p in self.positions.values()), Decimal(0)
        )
        for coin, balance in sorted(self.wallet.items()):
            price = Decimal(1) if coin in ("USDT", "USDC") else marks.get(f"{coin}USDT", Decimal(0))
            total += balance * price
            linear = coin == "USDT"
            coins.append(
                {
                    "coin": coin,
                    "equity": fmt(balance + (upl if linear else 0)),
                    "usdValue": fmt(balance * price),
                    "walletBalance": fmt(balance),
                    "locked": fmt(self.spot_locked(coin)),
                    "borrowAmount": "0",
                    "totalOrderIM": fmt(self.linear_order_margin() if linear else Decimal(0)),
                    "totalPositionIM": fmt(self.position_margin() if linear else Decimal(0)),
                    "unrealisedPnl": fmt(upl if linear else Decimal(0)),
                    "cumRealisedPnl": fmt(sum((p.realised for p in self.positions.values()), Decimal(0))),
                    "spotBorrow": "0",
                    "availableToWithdraw": "",
                    "collateralSwitch": True,
                    "marginCollateral": True,
                }
            )
        return {
            "accountType": "UNIFIED",
            "totalEquity": fmt(total + upl),
            "totalWalletBalance": fmt(total),
            "totalMarginBalance": fmt(total + upl),
            "totalAvailableBalance": fmt(self.available("USDT")),
            "totalPerpUPL": fmt(upl),
            "totalInitialMargin": fmt(self.position_margin() + self.linear_order_margin()),
            "totalMaintenanceMargin": "0",
            "accountIMRate": "0",
            "accountMMRate": "0",
            "coin": coins,
        }
