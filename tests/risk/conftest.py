"""The risk tests share the portfolio tests' real store fixture."""

from tests.portfolio.conftest import store

__all__ = ["store"]
