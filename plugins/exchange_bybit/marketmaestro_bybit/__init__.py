"""Bybit V5 exchange plugin for MarketMaestro (work in progress: being built for issue 4)."""
