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
    args = parser.parse_args(argv)
    balances = dict(item.split("=", 1) for item in args.balance) or None
    fake = FakeBitvavo(balances=balances)
    for item in args.price:
        market, price = item.split("=", 1)
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
