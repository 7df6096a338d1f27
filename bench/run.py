"""``make bench``: runs every ``bench/bench_*.py`` and prints its figures.

Each benchmark is a script that prints its own results (and compares against a peer where one exists,
measured in the same run on the same data). Record figures in docs/benchmarks.md with the command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    failed = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        failed += subprocess.run([sys.executable, str(script)], check=False).returncode != 0
    print(f"{len(scripts)} benchmark(s) run, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
