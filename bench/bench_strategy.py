"""The reference SMA(10)/SMA(20) crossover through ``mm strategy test``, against backtesting.py, same data.

Writes the reference strategy as a ``.star`` file, generates the klines with ../shared/bench/gen_klines.py
(seed 7), runs ``mm strategy test`` over them and ``../shared/bench/peer_backtesting_py.py`` on the same file,
each as a whole process, and prints klines/s for both and the ratio. The strategy must make the reference
5,464 entries on the 200,000-bar set (../shared/bench/README.md).

usage: bench_strategy.py [--bars N]   (default 200000; the entry check applies to 200000 only)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"
DATA = HERE / "data"
REFERENCE_ENTRIES = {200_000: 5464}

# backtesting.lib.crossover is strict on the previous bar: a[-2] < b[-2] and a[-1] > b[-1].
REFERENCE_STRATEGY = """\
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    closes = history(21)["close"]
    if len(closes) < 21:
        return None
    fast = sma(closes, 10)
    slow = sma(closes, 20)
    held = position()["quantity"]
    if fast[-2] < slow[-2] and fast[-1] > slow[-1] and held == 0:
        return {"action": "buy", "quantity": 0.01}
    if slow[-2] < fast[-2] and slow[-1] > fast[-1] and held > 0:
        return {"action": "close"}
    return None
"""


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=200_000)
    bars = parser.parse_args().bars
    DATA.mkdir(exist_ok=True)
    csv = DATA / f"klines-{bars}.csv"
    if not csv.exists():
        subprocess.run([sys.executable, str(SHARED / "gen_klines.py"), str(bars), str(csv)], check=True)
    strategy = DATA / "reference_sma.star"
    strategy.write_text(REFERENCE_STRATEGY)

    mm = str(Path(sys.executable).with_name("mm"))
    env = {**os.environ, "MM_LOAD_PLUGINS": "indicators"}
    ours_s, out = timed([mm, "strategy", "test", str(strategy), "--data", str(csv), "--json"], env)
    summary = json.loads(out.splitlines()[-1])
    peer_s, peer_out = timed([sys.executable, str(SHARED / "peer_backtesting_py.py"), str(csv)])
    peer = json.loads(peer_out.splitlines()[-1])

    ours_rate, peer_rate = bars / ours_s, bars / peer_s
    print(f"data: {csv.name} ({bars} klines)")
    print(
        f"marketmaestro  mm strategy test   {ours_rate:>10,.0f} klines/s  whole process {ours_s:8.2f} s  "
        f"entries {summary['entries']}  (engine loop {summary['klines_per_second']:,} klines/s)"
    )
    print(
        f"backtesting.py peer               {peer_rate:>10,.0f} klines/s  whole process {peer_s:8.2f} s  "
        f"trades {peer['trades']}  (backtest only {peer['bars_per_s']:,} bars/s)"
    )
    print(f"ratio (whole process): {ours_rate / peer_rate:.3f}x backtesting.py")
    expected = REFERENCE_ENTRIES.get(bars)
    if expected is not None and summary["entries"] != expected:
        print(f"WRONG: {summary['entries']} entries; the reference strategy makes {expected}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
