"""The paper exchange: simulated market data and an account that fills market orders at the book.

Orders fill at the simulated best ask (buys) or best bid (sells), rounded to the instrument's tick, with
the configured fee charged in the quote currency. The account (balances) is stored in the database after
every fill, before the fill is reported, so a restart continues from where the last run stopped.
"""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from marketmaestro.exchanges.base import Exchange, ExchangeContext, OrderResult, Subscription
from marketmaestro.exchanges.errors import FatalExchangeError, OrderRejected, RetryableError
from marketmaestro.exchanges.paper.options import PaperOptions, split_symbol
from marketmaestro.exchanges.paper.simulator import (
    CsvFormatError,
    MarketSimulator,
    RandomWalk,
    read_klines_csv,
)
from marketmaestro.logs import log_event
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderBookDataMsg, TickerDataMsg
from marketmaestro.model import (
    Balance,
    Fill,
    Instrument,
    Kline,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    interval_seconds,
    now_ms,
)


class PaperExchange(Exchange):
    capabilities = {**Exchange.capabilities, "market_orders": True, "paper": True}

    def __init__(self, context: ExchangeContext) -> None:
        super().__init__(context)
        options = context.options if isinstance(context.options, PaperOptions) else PaperOptions()
        self.options = options
        self._account_key = f"paper_exchange:{self.name}"
        self._connected = False
        self._lock = trio.Lock()
        self._balances: dict[str, Decimal] = {}
        self._books: dict[str, OrderBook] = {}
        self._history: dict[str, list[Kline]] = {}
        self._instruments: dict[str, Instrument] = {}
        self._fill_ids = itertools.count(1)
        self._sim = self._build_simulator(context.config_dir)

    # --- set-up -------------------------------------------------------------------------------------------

    def _build_simulator(self, config_dir: Path) -> MarketSimulator:
        opts = self.options
        interval_ms = interval_seconds(opts.interval) * 1000
        replays = {}
        history: dict[str, list[Kline]] = {}
        for symbol, raw_path in opts.csv.items():
            path = raw_path if raw_path.is_absolute() else config_dir / raw_path
            if not path.is_file():
                raise FatalExchangeError(f"exchanges.{self.name}.options.csv.{symbol}: no such file {path}")
            try:
                # Read whole, so a bad row stops the start with its line number instead of the run later.
                rows = list(read_klines_csv(path, symbol, opts.interval))
            except CsvFormatError as exc:
                raise FatalExchangeError(f"exchanges.{self.name}.options.csv.{symbol}: {exc}") from None
            history[symbol] = rows[: opts.warmup]
            replays[symbol] = iter(rows[opts.warmup :])
        walks = {
            symbol: RandomWalk(symbol, price, opts.volatility, opts.seed)
            for symbol, price in opts.symbols.items()
            if symbol not in replays
        }
        start_ms = (now_ms() // interval_ms - opts.warmup) * interval_ms
        sim = MarketSimulator(
            interval=opts.interval,
            interval_ms=interval_ms,
            start_ms=start_ms,
            walks=walks,
            replays=replays,
            depth=opts.book_depth,
            spread_bps=opts.spread_bps,
        )
        # The random walks' warm-up is simulated here, so it is the same history every start with one seed.
        for _ in range(opts.warmup if walks else 0):
            for kline in sim.step(walks_only=True):
                history.setdefault(kline.symbol, []).append(kline)
        for symbol, klines in history.items():
            if klines:
                sim.last[symbol] = klines[-1]
        self._history = history
        return sim

    async def connect(self) -> None:
        configured = {pair.symbol for pair in self.context.config.pairs}
        missing = sorted(configured - set(self._sim.symbols))
        if missing:
            raise FatalExchangeError(
                f"exchanges.{self.name}: pair(s) {', '.join(missing)} are not simulated; add them to "
                f"exchanges.{self.name}.options.symbols with a start price (or to options.csv)"
            )
        stored = await self.context.store.get_setting(self._account_key, "balances")
        if stored:
            self._balances = {asset: Decimal(str(amount)) for asset, amount in stored.items()}
        else:
            self._balances = dict(self.options.balances)
            await self._save_account()
        for symbol in self._sim.symbols:
            base, quote = split_symbol(symbol)
            self._instruments[symbol] = Instrument(
                symbol=symbol,
                base=base,
                quote=quote,
                tick_size=self.options.tick_size,
                step_size=self.options.step_size,
                min_quantity=self.options.step_size,
                min_notional=self.options.min_notional,
            )
            if symbol in self._sim.last:
                self._books[symbol] = self._sim.orderbook(symbol)
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        base = self._history.get(symbol, [])
        factor = self._factor(interval)
        klines = base if factor == 1 else _aggregate(base, interval, factor, self._sim.interval_ms)
        return klines[-limit:] if limit > 0 else []

    def _factor(self, interval: str) -> int:
        wanted, base = interval_seconds(interval), interval_seconds(self.options.interval)
        if wanted % base:
            raise FatalExchangeError(
                f"the paper exchange {self.name!r} simulates {self.options.interval} klines; "
                f"interval {interval} "
                f"is not a multiple of it"
            )
        return wanted // base

    # --- market data --------------------------------------------------------------------------------------

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        factors = {(symbol, interval): self._factor(interval) for symbol, interval in subscription.klines}
        pending: dict[tuple[str, str], list[Kline]] = {key: [] for key in factors}
        task_status.started()
        deadline = trio.current_time()
        while not self._sim.exhausted:
            deadline += self.options.kline_seconds
            await trio.sleep_until(deadline)
            for kline in self._sim.step():
                book = self._sim.orderbook(kline.symbol)
                self._books[kline.symbol] = book
                for (symbol, interval), factor in factors.items():
                    if symbol != kline.symbol:
                        continue
                    if factor == 1:
                        await send.send(KlineDataMsg(self.name, kline))
                        continue
                    bucket = pending[(symbol, interval)]
                    bucket.append(kline)
                    bucket_ms = factor * self._sim.interval_ms
                    if (kline.timestamp + self._sim.interval_ms) % bucket_ms == 0:
                        if len(bucket) == factor:
                            await send.send(KlineDataMsg(self.name, _merge(bucket, interval)))
                        bucket.clear()
                if kline.symbol in subscription.orderbooks:
                    await send.send(OrderBookDataMsg(self.name, book))
                if kline.symbol in subscription.tickers:
                    await send.send(TickerDataMsg(self.name, self._sim.ticker(kline.symbol, book)))
        log_event("paper_exchange.replay_finished", exchange=self.name, symbols=self._sim.symbols)
        await trio.sleep_forever()

    # --- trading ------------------------------------------------------------------------------------------

    async def place_order(self, order: Order) -> OrderResult:
        if not self._connected:
            raise RetryableError(f"paper exchange {self.name!r} is not connected")
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            raise OrderRejected(f"unknown symbol {order.symbol!r} on {self.name}")
        if order.type is not OrderType.MARKET:
            raise OrderRejected(f"the paper exchange fills market orders only, not {order.type.value} orders")
        if instrument.round_quantity(order.quantity) != order.quantity:
            raise OrderRejected(
                f"quantity {order.quantity} is not a multiple of the step {instrument.step_size}"
            )
        book = self._books.get(order.symbol)
        level = (book.best_ask if order.side is Side.BUY else book.best_bid) if book else None
        if level is None:
            raise RetryableError(f"no {order.symbol} price yet on {self.name}")
        price = instrument.round_price(Decimal(repr(level)))
        notional = order.quantity * price
        fee = (notional * self.options.fee_rate).quantize(instrument.tick_size * Decimal("0.0001"))
        async with self._lock:
            base_free = self._balances.get(instrument.base, Decimal(0))
            quote_free = self._balances.get(instrument.quote, Decimal(0))
            if order.side is Side.BUY and quote_free < notional + fee:
                raise OrderRejected(
                    f"insufficient balance: buying {order.quantity} {instrument.base} needs {notional + fee} "
                    f"{instrument.quote}, available {quote_free}"
                )
            if order.side is Side.SELL and base_free < order.quantity:
                raise OrderRejected(
                    f"insufficient balance: selling {order.quantity} {instrument.base}, available {base_free}"
                )
            sign = order.side.sign
            self._balances[instrument.base] = base_free + sign * order.quantity
            self._balances[instrument.quote] = quote_free - sign * notional - fee
            await self._save_account()
        venue_id = f"paper-{uuid.uuid4().hex[:16]}"
        fill = Fill(
            fill_id=f"{venue_id}-{next(self._fill_ids)}",
            client_order_id=order.client_order_id,
            exchange=self.name,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=price,
            fee=fee,
            fee_currency=instrument.quote,
            timestamp=now_ms(),
            strategy=order.strategy,
        )
        filled = order.with_status(
            OrderStatus.FILLED, venue_order_id=venue_id, filled_quantity=order.quantity, average_price=price
        )
        return OrderResult(filled, (fill,))

    async def cancel_order(self, order: Order) -> Order:
        raise OrderRejected(
            f"order {order.client_order_id} is not open on {self.name} (market orders fill at once)"
        )

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return []

    async def balances(self) -> list[Balance]:
        return [Balance(asset, amount) for asset, amount in sorted(self._balances.items())]

    async def _save_account(self) -> None:
        await self.context.store.set_setting(
            self._account_key, "balances", {asset: str(amount) for asset, amount in self._balances.items()}
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "symbols": self._sim.symbols, "replay_finished": self._sim.exhausted}


def _merge(klines: list[Kline], interval: str) -> Kline:
    first, last = klines[0], klines[-1]
    return Kline(
        symbol=first.symbol,
        interval=interval,
        timestamp=first.timestamp,
        open=first.open,
        high=max(k.high for k in klines),
        low=min(k.low for k in klines),
        close=last.close,
        volume=sum(k.volume for k in klines),
        closed=True,
    )


def _aggregate(klines: list[Kline], interval: str, factor: int, base_ms: int) -> list[Kline]:
    """Whole buckets of ``factor`` base klines, aligned to the bucket length."""
    bucket_ms = factor * base_ms
    buckets: dict[int, list[Kline]] = {}
    for kline in klines:
        buckets.setdefault(kline.timestamp - kline.timestamp % bucket_ms, []).append(kline)
    return [_merge(group, interval) for _, group in sorted(buckets.items()) if len(group) == factor]
