"""Bitvavo's REST API over ``httpx.AsyncClient`` (which runs under trio).

Every request is weighed against the :class:`~marketmaestro_bitvavo.ratelimit.WeightBudget` before it is sent.
Signed requests carry the HMAC of exactly the bytes sent: the path and query as they appear on the wire
(``URL.raw_path``) and the compact JSON body passed as ``content=``. Timestamps are corrected by the offset to
the server's clock measured with :meth:`RestClient.sync_time`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from marketmaestro.exchanges import FatalExchangeError, RetryableError
from marketmaestro_bitvavo.errors import RetryLater, ban_expiry_ms, classify
from marketmaestro_bitvavo.ratelimit import WeightBudget, weight_of
from marketmaestro_bitvavo.signing import rest_headers

Params = Mapping[str, str | int | None]


def compact_json(body: Mapping[str, Any]) -> str:
    """The JSON text that is signed and sent: no spaces, keys in insertion order."""
    return json.dumps(body, separators=(",", ":"))


class RestClient:
    """One account's (or the public) connection to Bitvavo's REST API."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: SecretStr | None = None,
        api_secret: SecretStr | None = None,
        window: int = 10_000,
        timeout: float = 10.0,
        budget: WeightBudget | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._secret = api_secret
        self.window = window
        self.budget = budget or WeightBudget()
        self.time_offset_ms = 0
        """Server clock minus ours, measured by :meth:`sync_time`."""
        self._http = httpx.AsyncClient(timeout=timeout, headers={"Accept": "application/json"})

    @property
    def has_credentials(self) -> bool:
        return bool(
            self._key and self._secret and self._key.get_secret_value() and self._secret.get_secret_value()
        )

    def now_ms(self) -> int:
        """Our clock in the server's time (epoch ms)."""
        return time.time_ns() // 1_000_000 + self.time_offset_ms

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def sync_time(self) -> int:
        """Measure the offset to the server's clock (``GET /time``); returns the server's time in ms."""
        before = time.time_ns() // 1_000_000
        payload = await self.request("GET", "/time")
        after = time.time_ns() // 1_000_000
        server = int(payload["time"])
        self.time_offset_ms = server - (before + after) // 2
        return server

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        signed: bool = False,
    ) -> Any:
        """Send one request and return the decoded JSON, or raise the error tree's exception."""
        method = method.upper()
        what = f"{method} {path}"
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = httpx.URL(self.base_url + path + ("?" + urlencode(clean) if clean else ""))
        content = compact_json(body) if body is not None else ""
        headers = {"Content-Type": "application/json"} if content else {}
        if signed:
            if not self.has_credentials:
                raise FatalExchangeError(f"Bitvavo {what} needs an API key and secret (api_key, api_secret)")
            assert self._key is not None and self._secret is not None
            headers.update(
                rest_headers(
                    self._key.get_secret_value(),
                    self._secret.get_secret_value(),
                    self.now_ms(),
                    method,
                    url.raw_path.decode("ascii"),
                    content,
                    self.window,
                )
            )
        await self.budget.acquire(weight_of(method, path, clean), what)
        try:
            response = await self._http.request(
                method, url, content=content.encode() or None, headers=headers
            )
        except httpx.TimeoutException:
            raise RetryableError(f"Bitvavo {what}: no answer within {self._http.timeout.read} s") from None
        except httpx.TransportError as exc:
            raise RetryableError(f"Bitvavo {what}: network error ({type(exc).__name__}: {exc})") from None
        self.budget.update(response.headers)
        try:
            payload = response.json()
        except ValueError:
            if response.status_code >= 500 or response.status_code == 429:
                raise classify(response.status_code, None, what=what) from None
            raise RetryableError(
                f"Bitvavo {what}: HTTP {response.status_code} with a body that is not JSON"
            ) from None
        if response.status_code >= 400 or (isinstance(payload, dict) and "errorCode" in payload):
            error = classify(response.status_code, payload, what=what)
            if isinstance(error, RetryLater) and isinstance(payload, dict):
                expiry = ban_expiry_ms(str(payload.get("error", "")))
                if expiry is not None:
                    self.budget.ban(expiry)
            raise error
        return payload
