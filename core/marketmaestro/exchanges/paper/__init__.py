"""The built-in paper exchange and its market simulator."""

from marketmaestro.exchanges.paper.exchange import PaperExchange
from marketmaestro.exchanges.paper.options import PaperOptions
from marketmaestro.exchanges.paper.simulator import MarketSimulator, RandomWalk, read_klines_csv

__all__ = ["MarketSimulator", "PaperExchange", "PaperOptions", "RandomWalk", "read_klines_csv"]
