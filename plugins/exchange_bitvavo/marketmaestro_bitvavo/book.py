"""A local copy of one Bitvavo order book: a snapshot plus ``book`` updates, checked by nonce.

Bitvavo's procedure: subscribe to ``book`` and buffer updates; fetch a snapshot (``getBook``); drop buffered
updates with ``nonce <= snapshot.nonce``; from then on every update must carry the previous nonce + 1. Any
gap means an update was lost: :class:`BookGap` is raised and the caller fetches a fresh snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketmaestro.model import OrderBook


class BookGap(Exception):
    """An update's nonce does not follow the last one: the local book can no longer be trusted."""


class LocalBook:
    """One market's book. ``synced`` once a snapshot arrived; updates before that wait in a buffer."""

    def __init__(self, market: str, symbol: str) -> None:
        self.market = market
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.nonce = 0
        self.synced = False
        self.timestamp_ms = 0
        self._buffer: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Forget everything: the next snapshot starts the book again."""
        self.bids.clear()
        self.asks.clear()
        self.synced = False
        self._buffer.clear()

    def on_update(self, update: dict[str, Any]) -> bool:
        """Apply (or buffer) one ``book`` event; True when the synced book changed. BookGap on a gap."""
        if not self.synced:
            self._buffer.append(update)
            return False
        nonce = int(update["nonce"])
        if nonce <= self.nonce:
            return False  # already in the snapshot
        if nonce != self.nonce + 1:
            raise BookGap(f"{self.market}: book nonce jumped from {self.nonce} to {nonce}")
        self._apply(update)
        return True

    def on_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Start from a ``getBook`` snapshot, then replay the buffered updates that follow it."""
        self.bids = {Decimal(p): Decimal(s) for p, s in snapshot.get("bids", ()) if Decimal(s) > 0}
        self.asks = {Decimal(p): Decimal(s) for p, s in snapshot.get("asks", ()) if Decimal(s) > 0}
        self.nonce = int(snapshot["nonce"])
        self.timestamp_ms = _ms(snapshot.get("timestamp"))
        self.synced = True
        buffered, self._buffer = self._buffer, []
        for update in sorted(buffered, key=lambda u: int(u["nonce"])):
            self.on_update(update)

    def _apply(self, update: dict[str, Any]) -> None:
        for side, levels in ((self.bids, update.get("bids", ())), (self.asks, update.get("asks", ()))):
            for price, size in levels:
                amount = Decimal(size)
                if amount == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = amount
        self.nonce = int(update["nonce"])
        self.timestamp_ms = _ms(update.get("timestamp")) or self.timestamp_ms

    def levels(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Bids best (highest) first, asks best (lowest) first."""
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())

    def to_model(self, depth: int, now_ms: int) -> OrderBook:
        bids, asks = self.levels()
        return OrderBook(
            self.symbol,
            self.timestamp_ms or now_ms,
            tuple((float(p), float(s)) for p, s in bids[:depth]),
            tuple((float(p), float(s)) for p, s in asks[:depth]),
        )


def _ms(raw: Any) -> int:
    """Bitvavo's book timestamps are ns in current docs and absent in old samples; ms either way."""
    if not isinstance(raw, int):
        return 0
    return raw // 1_000_000 if raw > 10**15 else raw
