"""Bitvavo API v2 exchange plugin for MarketMaestro (work in progress: being built for issue 4)."""
