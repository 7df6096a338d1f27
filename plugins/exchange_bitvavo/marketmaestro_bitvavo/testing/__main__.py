"""``python -m marketmaestro_bitvavo.testing --port 0``: serve a fake Bitvavo and print its URLs as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from functools import partial

import trio

from marketmaestro_bitvavo.testing.api import FakeBitvavo
from marketmaestro_bitvavo.testing.server import FakeServer, serve_fake


def seed_history(fake: FakeBitvavo, market: str, price: Decimal, minutes: int) -> None:
    """One trade a minute for the last ``minutes`` minutes, within half a percent of ``price``."""
    now = fake.exchange.now_ms()
    spec = fake.exchange.markets[market]
    tick = spec.tick_size or Decimal(1).scaleb(price.adjusted() - spec.price_precision + 1)
    for minutes_ago in range(minutes, 0, -1):
        wiggle = Decimal((minutes_ago * 7919) % 11 - 5) / 1000  # -0.5 % .. +0.5 %
        traded = (price * (1 + wiggle) / tick).quantize(Decimal(1)) * tick
        fake.set_price(market, traded, timestamp=now - minutes_ago * 60_000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m marketmaestro_bitvavo.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="REST port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0: any free port)")
    parser.add_argument(
        "--balance",
        action="append",
        default=[],
        metavar="ASSET=AMOUNT",
        help="starting balance, repeatable (default EUR=10000)",
    )
    parser.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="MARKET=PRICE",
        help="start price of a market, repeatable (e.g. BTC-EUR=30000)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="MINUTES",
        help="trade each --price market once a minute for the last MINUTES minutes first, so "
        "candles exist (a deterministic walk around the price)",
    )
    args = parser.parse_args(argv)
    balances = dict(item.split("=", 1) for item in args.balance) or None
    fake = FakeBitvavo(balances=balances)
    for item in args.price:
        market, price = item.split("=", 1)
        seed_history(fake, market, Decimal(price), args.history)
        fake.set_price(market, Decimal(price))

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            server: FakeServer = await nursery.start(
                partial(serve_fake, fake, port=args.port, ws_port=args.ws_port)
            )
            print(json.dumps(server.describe()), flush=True)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
