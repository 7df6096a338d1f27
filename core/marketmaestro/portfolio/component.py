"""The portfolio: balances and positions of one exchange account, from fills and exchange updates.

Positions are kept for the whole account (``strategy=""``) and per strategy. Balances come from the
exchange, which is the truth for what the account holds. Everything is stored after each change and
loaded again on start, so a restart continues where it stopped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketmaestro.messages import (
    GetBalancesMsg,
    GetPositionMsg,
    GetStatusMsg,
    OrderFilledMsg,
    UpdateBalanceMsg,
)
from marketmaestro.model import Balance, Position
from marketmaestro.portfolio.positions import apply_fill
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import Component, Mailbox


class Portfolio(Component):
    component = "portfolio"

    def __init__(self, mailbox: Mailbox, *, exchange: str, store: AsyncStore) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.store = store
        self.positions: dict[tuple[str, str], Position] = {}
        self.balances: dict[str, Balance] = {}
        self.fills = 0

    async def on_start(self) -> None:
        assert self.exchange is not None
        self.positions = {
            (p.symbol, p.strategy): p for p in await self.store.list_positions(exchange=self.exchange)
        }
        self.balances = {b.asset: b for b in await self.store.list_balances(self.exchange)}

    def position(self, symbol: str, strategy: str = "") -> Position:
        assert self.exchange is not None
        return self.positions.get(
            (symbol, strategy), Position(self.exchange, symbol, Decimal(0), Decimal(0), strategy=strategy)
        )

    async def handle(self, msg: Any) -> Any:
        match msg:
            case OrderFilledMsg(fill=fill):
                for strategy in {"", fill.strategy}:
                    updated = apply_fill(self.position(fill.symbol, strategy), fill)
                    self.positions[(fill.symbol, strategy)] = updated
                    await self.store.save_position(updated)
                self.fills += 1
                return None
            case UpdateBalanceMsg(exchange=exchange, balances=balances):
                # The exchange's report is the whole account: an asset it no longer lists is gone.
                self.balances = {b.asset: b for b in balances}
                await self.store.save_balances(exchange, balances, replace=True)
                return None
            case GetPositionMsg(symbol=symbol, strategy=strategy):
                return self.position(symbol, strategy)
            case GetBalancesMsg():
                return tuple(self.balances.values())
            case GetStatusMsg():
                return {
                    "fills_applied": self.fills,
                    "positions": {
                        f"{symbol}/{strategy or 'account'}": str(p.quantity)
                        for (symbol, strategy), p in sorted(self.positions.items())
                    },
                }
        return await super().handle(msg)
