"""A local order book kept from Bybit's ``orderbook.<depth>.<symbol>`` snapshot and deltas.

Rules (Bybit V5): the first message after subscribing is a snapshot; a later snapshot, or any message with
update id ``u == 1`` (a restart of Bybit's service), replaces the book; in a delta a size of ``"0"`` deletes
the level, a new price inserts it and a known price replaces its size. Each stream's ``u`` goes up by one
per message, so a skipped id means a lost delta. Anything inconsistent (a delta before any snapshot, a
skipped id, a crossed book) raises :class:`BookOutOfSync`: the caller then resubscribes, which brings a
fresh snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketmaestro.model import OrderBook

__all__ = ["BookOutOfSync", "LocalBook"]


class BookOutOfSync(Exception):
    """The local book can no longer be trusted; the message says why."""


class LocalBook:
    """One symbol's book. Prices and sizes are kept as Decimal, so ``"30000.0"`` and ``"30000.00"`` match."""

    def __init__(self, symbol: str, depth: int, *, check_sequence: bool = True) -> None:
        self.symbol = symbol
        self.depth = depth
        self.check_sequence = check_sequence
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id: int | None = None
        """``u`` of the last message applied; None until a snapshot arrived (or after a reset)."""

    def reset(self) -> None:
        """Forget everything: the next message must be a snapshot."""
        self.bids.clear()
        self.asks.clear()
        self.update_id = None

    def apply(self, kind: str, data: dict[str, Any]) -> bool:
        """Apply one message's ``data``; False when it was stale (already applied) and changed nothing."""
        update_id = int(data["u"])
        if kind == "snapshot" or update_id == 1:
            self.bids = _levels(data.get("b"))
            self.asks = _levels(data.get("a"))
            self.update_id = update_id
        else:
            if self.update_id is None:
                raise BookOutOfSync(f"{self.symbol}: a delta (u={update_id}) arrived before any snapshot")
            if update_id <= self.update_id:
                return False
            if self.check_sequence and update_id != self.update_id + 1:
                raise BookOutOfSync(
                    f"{self.symbol}: update id jumped from {self.update_id} to {update_id} (a delta was lost)"
                )
            _merge(self.bids, data.get("b"))
            _merge(self.asks, data.get("a"))
            self.update_id = update_id
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            best_bid, best_ask = max(self.bids), min(self.asks)
            raise BookOutOfSync(f"{self.symbol}: crossed book after u={update_id} ({best_bid} >= {best_ask})")
        return True

    def levels(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Bids (best first) and asks (best first), at most ``depth`` of each."""
        bids = sorted(self.bids.items(), key=lambda level: level[0], reverse=True)[: self.depth]
        asks = sorted(self.asks.items(), key=lambda level: level[0])[: self.depth]
        return bids, asks

    def view(self, timestamp: int) -> OrderBook:
        """The book as MarketMaestro's market data (floats, best first)."""
        bids, asks = self.levels()
        return OrderBook(
            self.symbol,
            timestamp,
            tuple((float(p), float(q)) for p, q in bids),
            tuple((float(p), float(q)) for p, q in asks),
        )


def _levels(raw: Any) -> dict[Decimal, Decimal]:
    levels: dict[Decimal, Decimal] = {}
    _merge(levels, raw)
    return levels


def _merge(side: dict[Decimal, Decimal], raw: Any) -> None:
    for price_text, size_text in raw or ():
        price, size = Decimal(price_text), Decimal(size_text)
        if size == 0:
            side.pop(price, None)
        else:
            side[price] = size
