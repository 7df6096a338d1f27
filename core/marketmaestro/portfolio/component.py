"""The portfolio: balances and positions of one exchange account, from fills and exchange updates.

Positions are kept for the whole account (``strategy=""``) and per strategy, each with its average entry,
realised P&L and fees (in the quote currency). Balances come from the exchange, which is the truth for what
the account holds: between two reports the portfolio keeps its own expectation (the last report plus the
fills since), and when the exchange's next report differs, the exchange's figure is taken and the difference
is logged and recorded as a ``portfolio.balance_difference`` event. The latest market prices (marks) value
everything; ``SnapshotEquityMsg`` stores the equity of the account and of each strategy. Positions and
balances are stored after each change and loaded again on start, so a restart continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from marketmaestro.logs import log_event
from marketmaestro.messages import (
    GetBalancesMsg,
    GetPortfolioMsg,
    GetPositionMsg,
    GetStatusMsg,
    KlineDataMsg,
    OrderBookDataMsg,
    OrderFilledMsg,
    SnapshotEquityMsg,
    TakePositionsMsg,
    TickerDataMsg,
    UpdateBalanceMsg,
)
from marketmaestro.model import Balance, Fill, Instrument, Position, now_ms
from marketmaestro.portfolio.positions import apply_fill
from marketmaestro.portfolio.valuation import (
    Marks,
    PnlSummary,
    PortfolioReport,
    balance_changes,
    fee_in_quote,
    report,
    round_pnl,
)
from marketmaestro.storage import AsyncStore, EquitySnapshot
from marketmaestro.supervision import Component, Mailbox


class Portfolio(Component):
    component = "portfolio"

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        exchange: str,
        store: AsyncStore,
        instruments: Mapping[str, Instrument] | None = None,
        valuation_currency: str = "USDT",
    ) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.store = store
        self.instruments = dict(instruments or {})
        self.valuation_currency = valuation_currency
        self.marks = Marks(self.instruments)
        self.positions: dict[tuple[str, str], Position] = {}
        self.balances: dict[str, Balance] = {}
        self.expected: dict[str, Decimal] | None = None
        """Our own figure of each asset's total since the exchange's last report (None before one)."""
        self.fills = 0

    async def on_start(self) -> None:
        assert self.exchange is not None
        self.positions = {
            (p.symbol, p.strategy): p for p in await self.store.list_positions(exchange=self.exchange)
        }
        self.balances = {b.asset: b for b in await self.store.list_balances(self.exchange)}
        # The stored balances were the exchange's last report: the next one is compared with them.
        self.expected = {asset: b.total for asset, b in self.balances.items()} if self.balances else None
        if self.expected is not None:
            # Fills stored after that report (from the private stream, before a stop) are in our figure.
            for fill in await self.store.list_fills_after_balances(self.exchange):
                self._expect(fill)

    def position(self, symbol: str, strategy: str = "") -> Position:
        assert self.exchange is not None
        return self.positions.get(
            (symbol, strategy), Position(self.exchange, symbol, Decimal(0), Decimal(0), strategy=strategy)
        )

    def report(self) -> PortfolioReport:
        """The account and every strategy valued at the latest marks."""
        assert self.exchange is not None
        return report(
            self.exchange,
            now_ms(),
            self.positions.values(),
            self.balances.values(),
            self.instruments,
            self.marks,
            self.valuation_currency,
        )

    async def handle(self, msg: Any) -> Any:
        match msg:
            case KlineDataMsg(kline=kline):
                self.marks.update(kline.symbol, Decimal(repr(kline.close)))
            case TickerDataMsg(ticker=ticker):
                self.marks.update(ticker.symbol, Decimal(repr(ticker.last)))
            case OrderBookDataMsg(orderbook=book):
                if book.mid is not None:
                    self.marks.update(book.symbol, Decimal(repr(book.mid)))
            case OrderFilledMsg(fill=fill):
                await self._apply(fill)
            case UpdateBalanceMsg(exchange=exchange, balances=balances):
                return await self._take_balances(exchange, balances)
            case TakePositionsMsg(positions=positions):
                return await self._take_positions(positions)
            case GetPositionMsg(symbol=symbol, strategy=strategy):
                return self.position(symbol, strategy)
            case GetBalancesMsg():
                return tuple(self.balances.values())
            case GetPortfolioMsg():
                return self.report()
            case SnapshotEquityMsg():
                return await self._snapshot()
            case GetStatusMsg():
                return {
                    "fills_applied": self.fills,
                    "positions": {
                        f"{symbol}/{strategy or 'account'}": str(p.quantity)
                        for (symbol, strategy), p in sorted(self.positions.items())
                    },
                }
            case _:
                return await super().handle(msg)
        return None

    async def _apply(self, fill: Fill) -> None:
        instrument = self.instruments.get(fill.symbol)
        fee = fee_in_quote(fill, instrument, self.marks) if instrument is not None else None
        if fee is None and fill.fee:
            # Kept with the fill (in its own currency) but left out of P&L: no price converts it.
            detail = {"fill_id": fill.fill_id, "fee": str(fill.fee), "fee_currency": fill.fee_currency}
            log_event("portfolio.fee_not_converted", level="warning", **detail)
            await self.store.add_event(
                "portfolio.fee_not_converted",
                exchange=fill.exchange,
                symbol=fill.symbol,
                strategy=fill.strategy or None,
                component=self.component,
                data=detail,
            )
        for strategy in {"", fill.strategy}:
            updated = apply_fill(self.position(fill.symbol, strategy), fill, fee=fee or Decimal(0))
            if instrument is not None:
                updated = round_pnl(updated, instrument)
            self.positions[(fill.symbol, strategy)] = updated
            await self.store.save_position(updated)
        self._expect(fill)
        self.fills += 1

    def _expect(self, fill: Fill) -> None:
        """Add what ``fill`` moves to our figure of the balances (once the exchange reported some)."""
        instrument = self.instruments.get(fill.symbol)
        if self.expected is not None and instrument is not None:
            for asset, change in balance_changes(fill, instrument).items():
                self.expected[asset] = self.expected.get(asset, Decimal(0)) + change

    async def _take_balances(self, exchange: str, balances: tuple[Balance, ...]) -> dict[str, dict[str, str]]:
        """Take the exchange's ``balances``; the differences from our figure, by asset (also recorded)."""
        reported = {b.asset: b.total for b in balances}
        differences: dict[str, dict[str, str]] = {}
        if self.expected is not None:
            differences = {
                asset: {"ours": str(ours), "exchange": str(theirs), "difference": str(theirs - ours)}
                for asset in sorted(set(reported) | set(self.expected))
                if (ours := self.expected.get(asset, Decimal(0)))
                != (theirs := reported.get(asset, Decimal(0)))
            }
            if differences:
                log_event("portfolio.balance_difference", level="warning", balances=differences)
                await self.store.add_event(
                    "portfolio.balance_difference",
                    exchange=exchange,
                    component=self.component,
                    data=differences,
                )
        # The exchange's report is the whole account: an asset it no longer lists is gone.
        self.balances = {b.asset: b for b in balances}
        self.expected = reported
        await self.store.save_balances(exchange, balances, replace=True)
        return differences

    async def _take_positions(self, positions: tuple[Position, ...]) -> dict[str, tuple[Decimal, Decimal]]:
        """The exchange's derivative positions become the account's (per-strategy positions stay as their
        fills made them); the symbols that changed, with our quantity and the exchange's."""
        theirs = {p.symbol: p for p in positions}
        symbols = set(theirs) | {symbol for symbol, strategy in self.positions if strategy == ""}
        changed = {}
        for symbol in sorted(symbols):
            ours = self.position(symbol)
            exchange = theirs.get(symbol)
            quantity = exchange.quantity if exchange is not None else Decimal(0)
            if quantity == ours.quantity:
                continue
            changed[symbol] = (ours.quantity, quantity)
            average = exchange.average_price if exchange is not None and quantity else ours.average_price
            updated = replace(ours, quantity=quantity, average_price=average)
            self.positions[(symbol, "")] = updated
            await self.store.save_position(updated)
        return changed

    async def _snapshot(self) -> tuple[EquitySnapshot, ...]:
        current = self.report()
        if current.unpriced:
            # Equity without some asset's value would look like a loss (and trip the drawdown limit).
            log_event("portfolio.snapshot_skipped", unpriced=list(current.unpriced))
            return ()
        snapshots = [_snapshot(current, current.account, current.equity)]
        snapshots += [_snapshot(current, s, s.net_pnl) for s in current.strategies]
        await self.store.add_equity_snapshots(snapshots)
        return tuple(snapshots)


def _snapshot(current: PortfolioReport, summary: PnlSummary, equity: Decimal) -> EquitySnapshot:
    return EquitySnapshot(
        current.exchange,
        summary.strategy,
        current.timestamp,
        equity,
        summary.realized_pnl,
        summary.unrealized_pnl,
        summary.fees,
        summary.exposure,
    )
