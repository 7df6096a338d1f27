"""``python -m marketmaestro_bybit.testing``: run the fake Bybit until SIGINT or SIGTERM.

Prints one JSON line with its URLs (``rest_url``, ``ws_public_spot``, ``ws_public_linear``,
``ws_private_url``, ``control_url``) once it listens, then serves. ``--account KEY:SECRET`` (repeatable)
and ``--balance COIN=AMOUNT`` (repeatable, for every account) set up accounts; ``--kline-seconds N``
closes a candle of every symbol each N seconds; ``--history N`` sets how many closed minutes each symbol
has at the start (1500 by default).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from decimal import Decimal

import trio

from marketmaestro_bybit.testing.fake import FakeBybit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m marketmaestro_bybit.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument(
        "--account", action="append", default=[], metavar="KEY:SECRET", help="an API key pair"
    )
    parser.add_argument(
        "--balance", action="append", default=[], metavar="COIN=AMOUNT", help="a starting balance"
    )
    parser.add_argument("--kline-seconds", type=float, default=0.0, help="close a candle every N seconds")
    parser.add_argument("--seed", type=int, default=7, help="seed of the candle history")
    parser.add_argument("--history", type=int, default=1500, help="closed minutes per symbol at the start")
    return parser


async def _main(args: argparse.Namespace) -> None:
    balances = {}
    for item in args.balance:
        coin, _, amount = item.partition("=")
        balances[coin.upper()] = Decimal(amount)
    fake = FakeBybit(seed=args.seed, history=args.history)
    for pair in args.account:
        key, _, secret = pair.partition(":")
        if not key or not secret:
            raise SystemExit(f"--account: expected KEY:SECRET, got {pair!r}")
        fake.add_account(key, secret, balances)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(fake.serve, args.host, args.port)
        print(json.dumps(urls), flush=True)
        if args.kline_seconds > 0:
            nursery.start_soon(_close_klines, fake, args.kline_seconds)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


async def _close_klines(fake: FakeBybit, seconds: float) -> None:
    while True:
        await trio.sleep(seconds)
        for category, symbol in sorted(fake.venue.markets):
            fake.close_kline(symbol, category)


def main(argv: list[str] | None = None) -> None:
    trio.run(_main, _parser().parse_args(argv))
    sys.exit(0)


if __name__ == "__main__":
    main()
