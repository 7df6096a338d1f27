"""Options of the Bitvavo exchange plugin (``exchanges.<key>.options``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

REST_URL = "https://api.bitvavo.com/v2"
"""Bitvavo's REST base; signed paths include its ``/v2``."""
WS_URL = "wss://ws.bitvavo.com/v2/"
"""Bitvavo's WebSocket endpoint, public and private channels on one connection."""


class BitvavoOptions(BaseModel):
    """What ``exchanges.<key>.options`` may hold for a ``bitvavo`` exchange. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    rest_url: str = REST_URL
    """REST base URL ending in ``/v2``; point it at a fake server in tests."""
    ws_url: str = WS_URL
    """WebSocket URL; point it at a fake server in tests."""
    live_orders: bool = False
    """Must be true, together with ``mode: live``, before a single real order is sent (Bitvavo has no
    sandbox). Without it the plugin serves Bitvavo's market data with paper execution."""
    operator_id: int = Field(1, ge=1, le=2**63 - 1)
    """``operatorId`` sent with every order request: the id of this bot among your traders/bots."""
    access_window: int = Field(10_000, ge=100, le=60_000)
    """``Bitvavo-Access-Window`` in ms: how long after its timestamp a signed request stays valid."""
    timeout: float = Field(10.0, gt=0, le=120)
    """Seconds to wait for one REST response."""
    weight_limit: int = Field(1000, ge=10)
    """Rate-limit weight points per minute (Bitvavo's default is 1000); the headers correct it."""
    max_rate_limit_wait: float = Field(5.0, ge=0, le=120)
    """Seconds a request may wait for the weight budget to refill; a longer wait is a RetryableError."""
    balance_poll_seconds: float = Field(10.0, gt=0)
    """How often the private stream polls ``GET /balance`` (Bitvavo pushes no balances)."""
    reconnect_initial: float = Field(0.5, gt=0)
    """Seconds before the first WebSocket reconnect; doubled per failure up to ``reconnect_max``."""
    reconnect_max: float = Field(30.0, gt=0)
    paper_balances: dict[str, Decimal] = Field(default_factory=lambda: {"EUR": Decimal(10000)})
    """Paper mode: the paper account's balances when it is first created (later runs continue from the stored
    ones)."""
    paper_fee_rate: Decimal = Field(Decimal("0.0025"), ge=0, le=Decimal("0.1"))
    """Paper mode: fee per fill as a fraction of its notional (Bitvavo's base taker fee by default)."""
    keepalive_seconds: float = Field(15.0, gt=0, le=300)
    """Seconds without a WebSocket message after which the connection is pinged; an unanswered ping (within
    the same time, at most 10 s) counts as a lost connection."""
    book_depth: int = Field(25, ge=1, le=1000)
    """Levels of the order book snapshot kept and pushed to strategies."""

    @field_validator("rest_url", "ws_url")
    @classmethod
    def _no_trailing_space(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"expected an http(s):// or ws(s):// URL, got {value!r}")
        return stripped
