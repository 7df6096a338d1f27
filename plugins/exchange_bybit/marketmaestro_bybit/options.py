"""Options of the Bybit exchange (``exchanges.<name>.options``) and the hosts of each environment."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Category = Literal["spot", "linear"]

REST_HOSTS = {"live": "https://api.bybit.com", "testnet": "https://api-testnet.bybit.com"}
"""REST base URL per mode. Paper mode reads public market data from mainnet (no keys are sent)."""
WS_HOSTS = {"live": "wss://stream.bybit.com", "testnet": "wss://stream-testnet.bybit.com"}


class BybitOptions(BaseModel):
    """``exchanges.<name>.options`` of a Bybit exchange. Every field has a working default."""

    model_config = ConfigDict(extra="forbid")

    category: Category = "spot"
    """``spot`` or ``linear`` (USDT perpetuals). One configured exchange trades one category."""
    rest_url: str | None = None
    """REST base URL; default: the mode's host (testnet: https://api-testnet.bybit.com)."""
    ws_public_url: str | None = None
    """Public WebSocket URL including the path; default: the mode's host + ``/v5/public/<category>``."""
    ws_private_url: str | None = None
    """Private WebSocket URL including the path; default: the mode's host + ``/v5/private``."""
    recv_window: int = Field(5000, ge=100, le=60_000)
    """How long (ms) a signed request stays valid after its timestamp."""
    request_timeout: float = Field(10.0, gt=0, le=120)
    """Seconds before a REST request counts as failed (a RetryableError)."""
    rate_limit_headroom: float = Field(0.8, gt=0, le=1)
    """Fraction of Bybit's per-endpoint per-second limit the adapter allows itself."""
    max_rate_limit_wait: float = Field(10.0, ge=0, le=600)
    """Longest wait (s) for a rate-limit reset before giving up with a RetryableError."""
    ban_backoff: float = Field(600.0, ge=0, le=3600)
    """Seconds to stay away after an HTTP 403 IP ban without Retry-After (Bybit: at least 10 minutes)."""
    orderbook_depth: Literal[1, 50, 200, 1000] = 50
    """Depth of the ``orderbook.<depth>.<symbol>`` stream the local book is kept from."""
    check_sequence: bool = True
    """Resync the book when an update id is skipped (Bybit's ids are contiguous per stream)."""
    running_klines: bool = False
    """Also send the running candle (``closed=False``); strategies normally want closed candles only."""
    ping_interval: float = Field(20.0, gt=0, le=60)
    """Seconds between WebSocket pings (Bybit cuts idle connections; it asks for one every 20 s)."""
    stale_after: float = Field(45.0, gt=0, le=600)
    """Seconds without any WebSocket message after which the connection is dropped and reopened."""
    reconnect_initial: float = Field(0.5, gt=0, le=60)
    """First pause (s) before reconnecting a dropped WebSocket; doubled per failure, with jitter."""
    reconnect_max: float = Field(30.0, gt=0, le=600)
    """Longest pause (s) between reconnection attempts."""
    fill_wait: float = Field(3.0, ge=0, le=30)
    """How long ``place_order`` waits for a market, IOC or FOK order to finish, to report its fills."""
    settle_coin: str = "USDT"
    """Linear only: the settle coin used to list all open orders and positions."""
    account_type: Literal["UNIFIED"] = "UNIFIED"
    """The wallet queried for balances (Bybit V5 trades from the unified account)."""
    paper_balances: dict[str, Decimal] = Field(default_factory=lambda: {"USDT": Decimal(10_000)})
    """Paper mode: the paper account's balances when it is first created (later runs continue from the
    stored ones)."""
    paper_fee_rate: Decimal = Field(Decimal("0.001"), ge=0, le=Decimal("0.1"))
    """Paper mode: the fee per fill as a fraction of its notional (Bybit's spot taker rate by default)."""

    @field_validator("rest_url", "ws_public_url", "ws_private_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"expected an http(s):// or ws(s):// URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("paper_balances")
    @classmethod
    def _balances(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for coin, amount in value.items():
            if amount < 0:
                raise ValueError(f"paper balance of {coin} must not be negative, got {amount}")
        return {coin.upper(): amount for coin, amount in value.items()}

    @field_validator("settle_coin")
    @classmethod
    def _coin(cls, value: str) -> str:
        if not value.isalnum():
            raise ValueError(f"expected a coin name like USDT, got {value!r}")
        return value.upper()

    def rest_base(self, mode: str) -> str:
        """The REST base URL for ``mode`` (an explicit ``rest_url`` wins)."""
        return self.rest_url or REST_HOSTS["live" if mode == "paper" else mode]

    def ws_public(self, mode: str) -> str:
        """The public WebSocket URL for ``mode`` and the category."""
        host = WS_HOSTS["live" if mode == "paper" else mode]
        return self.ws_public_url or f"{host}/v5/public/{self.category}"

    def ws_private(self, mode: str) -> str:
        """The private WebSocket URL for ``mode``."""
        return self.ws_private_url or f"{WS_HOSTS['live' if mode == 'paper' else mode]}/v5/private"
