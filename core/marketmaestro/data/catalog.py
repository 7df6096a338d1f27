"""What is stored: the kline files under the data folder, and loading one by exchange, symbol and interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from marketmaestro.data.files import SUFFIX, DataFileError, KlineColumns, KlineFile
from marketmaestro.data.gaps import Gap, find_gaps
from marketmaestro.model import INTERVAL_SECONDS

__all__ = ["Dataset", "list_datasets", "load_klines"]


@dataclass(frozen=True)
class Dataset:
    """One stored kline file and what it holds; ``error`` says why it could not be read (then no counts)."""

    exchange: str
    symbol: str
    interval: str
    path: Path
    count: int = 0
    first: int | None = None
    last: int | None = None
    gaps: list[Gap] = field(default_factory=list)
    error: str | None = None

    @property
    def missing(self) -> int:
        """Klines missing inside the stored range, over all gaps."""
        return sum(gap.missing for gap in self.gaps)


def load_klines(
    data_dir: Path,
    exchange: str,
    symbol: str,
    interval: str,
    *,
    start: int | None = None,
    end: int | None = None,
) -> KlineColumns:
    """The stored klines of ``exchange``/``symbol``/``interval`` as columns, those opening in [start, end]
    (ms; None: unbounded). ``FileNotFoundError`` when nothing is stored, ``DataFileError`` if damaged."""
    file = KlineFile.at(data_dir, exchange, symbol, interval)
    if not file.path.is_file():
        raise FileNotFoundError(
            f"no {exchange} {symbol} {interval} klines are stored (expected {file.path}); "
            f"`mm data download --exchange {exchange} --symbol {symbol} --interval {interval} --since ...`"
        )
    columns = file.load()
    return columns if start is None and end is None else columns.between(start, end)


def list_datasets(data_dir: Path) -> list[Dataset]:
    """Every kline file under ``data_dir`` with its range, count and gaps, by exchange, symbol, interval."""
    found = []
    for path in sorted(data_dir.glob(f"*/*{SUFFIX}")):
        symbol, _, interval = path.name[: -len(SUFFIX)].rpartition("-")
        if not path.is_file() or interval not in INTERVAL_SECONDS or not symbol:
            continue
        file = KlineFile(path, path.parent.name, symbol, interval)
        try:
            stamps = file.timestamps()
        except DataFileError as exc:
            found.append(Dataset(file.exchange, symbol, interval, path, error=str(exc)))
            continue
        found.append(
            Dataset(
                file.exchange,
                symbol,
                interval,
                path,
                count=len(stamps),
                first=int(stamps[0]) if len(stamps) else None,
                last=int(stamps[-1]) if len(stamps) else None,
                gaps=find_gaps(stamps, file.interval_ms),
            )
        )
    return sorted(found, key=lambda d: (d.exchange, d.symbol, INTERVAL_SECONDS[d.interval]))
