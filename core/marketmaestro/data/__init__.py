"""Market data kept locally: klines downloaded from exchanges, stored one file per exchange, symbol and
interval, and loaded as columns for backtests.

::

    from marketmaestro.data import load_klines

    klines = load_klines(Path("data"), "bybit", "BTCUSDT", "1m", start=1704067200000)
    klines.close  # numpy array, oldest first

See docs/data.md for ``mm data download`` / ``mm data list`` and the file format.
"""

from marketmaestro.data.catalog import Dataset, list_datasets, load_klines
from marketmaestro.data.download import DownloadError, DownloadResult, download_klines
from marketmaestro.data.files import DataFileError, KlineColumns, KlineFile, dataset_path, read_klines
from marketmaestro.data.gaps import Gap, find_gaps

__all__ = [
    "DataFileError",
    "Dataset",
    "DownloadError",
    "DownloadResult",
    "Gap",
    "KlineColumns",
    "KlineFile",
    "dataset_path",
    "download_klines",
    "find_gaps",
    "list_datasets",
    "load_klines",
    "read_klines",
]
