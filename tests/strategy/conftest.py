"""Strategy runners on the real trading path: a paper exchange, the order manager, risk manager, portfolio
and store, with klines delivered the way the exchange service's router delivers them."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
from eliot import add_destinations, remove_destination

from marketmaestro.config import StrategyConfig
from marketmaestro.messages import GetStatusMsg, KlineDataMsg
from marketmaestro.model import Kline
from marketmaestro.storage import AsyncStore, Store
from marketmaestro.strategy import StrategyRunner
from marketmaestro.supervision import HealthRegistry, Mailbox
from tests.exchanges.conftest import MINUTE_MS, known_book_paper
from tests.trading.conftest import TIMEOUT, TradingStack, trading_stack

SYMBOL = "BTCUSDT"


def write_strategy(folder: Path, source: str, name: str = "probe.star") -> Path:
    """Write a Starlark strategy (dedented) and return its path."""
    path = folder / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@dataclass
class Harness:
    """A trading stack with strategy runners, and the klines fed to them so far."""

    stack: TradingStack
    warmup: list[Kline]
    health: HealthRegistry
    folder: Path
    fed: list[Kline] = field(default_factory=list)

    def next_kline(self, close: float, *, volume: float = 1.0) -> Kline:
        previous = (self.fed or self.warmup)[-1]
        return Kline(
            SYMBOL,
            "1m",
            previous.timestamp + MINUTE_MS,
            previous.close,
            max(previous.close, close) + 0.5,
            min(previous.close, close) - 0.5,
            close,
            volume,
            closed=True,
        )

    async def start(
        self,
        file: Path,
        *,
        name: str = "probe",
        config: dict[str, Any] | None = None,
        nursery: trio.Nursery | None = None,
    ) -> StrategyRunner:
        """Start a runner of ``file`` as the exchange service does (its own mailbox and health entry), in
        ``nursery`` (default: the stack's, so it stops with the stack)."""
        health_name = f"exchange:paper/strategy:{name}:{SYMBOL}"
        runner = StrategyRunner(
            Mailbox(health_name),
            exchange=self.stack.name,
            symbol=SYMBOL,
            spec=StrategyConfig(name=name, file=file, config=config or {}),
            registry=self.stack.plugins.registry,
            store=self.stack.store,
            adapter=self.stack.exchange,
            orders=self.stack.order_manager.mailbox,
            portfolio=self.stack.portfolio.mailbox,
            health=self.health,
            health_name=health_name,
            request_timeout=TIMEOUT,
        )
        await (nursery or self.stack.nursery).start(runner.run)
        return runner

    async def feed(self, runner: StrategyRunner, close: float, *, volume: float = 1.0) -> dict[str, Any]:
        """Deliver the next kline (order manager first, as the router does), wait until the runner handled
        it and return the runner's status."""
        kline = self.next_kline(close, volume=volume)
        self.fed.append(kline)
        msg = KlineDataMsg(self.stack.name, kline)
        await self.stack.order_manager.mailbox.send(msg)
        await runner.mailbox.send(msg)
        return await status(runner)


async def status(runner: StrategyRunner) -> dict[str, Any]:
    answer: dict[str, Any] = await runner.mailbox.request(GetStatusMsg(), TIMEOUT)
    return answer


@asynccontextmanager
async def harness(store: AsyncStore, folder: Path, **paper_options: Any) -> AsyncIterator[Harness]:
    """A known-book paper exchange (25 warm-up klines) with its components running."""
    exchange, warmup = known_book_paper(store, folder, **paper_options)
    async with trading_stack(store, exchange, price=warmup[-1]) as stack:
        yield Harness(stack, warmup, HealthRegistry(), folder)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    """A real SQLite store in tmp_path, for trio code."""
    with Store(tmp_path / "t.db") as sync_store:
        yield AsyncStore(sync_store)


@pytest.fixture
def log_messages() -> Iterator[list[dict[str, Any]]]:
    """Every eliot message logged during the test."""
    messages: list[dict[str, Any]] = []
    destination = messages.append
    add_destinations(destination)
    # eliot replays what it buffered before its first destination into that destination: messages of
    # earlier tests, which are not this test's.
    messages.clear()
    yield messages
    remove_destination(destination)


def logged(
    messages: list[dict[str, Any]], message_type: str, strategy: str = "probe"
) -> list[dict[str, Any]]:
    """The messages of ``message_type`` logged for ``strategy``."""
    return [m for m in messages if m.get("message_type") == message_type and m.get("strategy") == strategy]
