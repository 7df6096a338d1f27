"""The Bybit V5 REST client: signing, clock offset, receive window, rate limits, pagination, errors.

Requests go through one ``httpx.AsyncClient`` (it runs under trio). A signed request carries
``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` (our clock plus the offset measured against Bybit's),
``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN`` over the exact query string or JSON body sent.

What happens on trouble:

- rate limited (retCode 10006 or HTTP 429): wait until ``X-Bapi-Limit-Reset-Timestamp`` (at most
  ``max_rate_limit_wait``) and send again, up to :data:`RATE_LIMIT_RETRIES` times; Bybit did not process a
  rate-limited request, so resending an order is safe;
- HTTP 403 (an IP ban, "access too frequent"): no request is sent until the ban is over; each call during
  it raises a ``RetryableError`` saying how long is left;
- retCode 10002 (timestamp outside the window): the clock offset is measured again and the request sent
  once more;
- everything else raises at once, mapped by :func:`marketmaestro_bybit.errors.error_for`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import trio

from marketmaestro.logs import log_event
from marketmaestro.model import now_ms
from marketmaestro_bybit.errors import (
    RATE_LIMITED,
    TIMESTAMP,
    BybitFatal,
    BybitRejected,
    BybitRequestError,
    BybitRetryable,
    error_for,
    scrub,
)
from marketmaestro_bybit.ratelimit import EndpointLimiter
from marketmaestro_bybit.signing import body_string, query_string, rest_signature

__all__ = ["RATE_LIMIT_RETRIES", "BybitRest"]

RATE_LIMIT_RETRIES = 3
JSON = dict[str, Any]


class BybitRest:
    """A REST session with one account (or none, for market data only)."""

    def __init__(
        self,
        base_url: str,
        *,
        category: str,
        api_key: str | None = None,
        api_secret: str | None = None,
        recv_window: int = 5000,
        timeout: float = 10.0,
        headroom: float = 0.8,
        max_rate_limit_wait: float = 10.0,
        ban_backoff: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.category = category
        self._key = api_key
        self._secret = api_secret
        self.recv_window = recv_window
        self.limiter = EndpointLimiter(category, headroom)
        self.max_rate_limit_wait = max_rate_limit_wait
        self.ban_backoff = ban_backoff
        self.offset_ms = 0
        """Bybit's clock minus ours, measured by :meth:`sync_time`."""
        self.banned_until = 0.0
        """trio time until which an IP ban keeps requests at home."""
        self.rate_limited = 0
        """How many rate-limit answers this session received (for the health report and tests)."""
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    @property
    def has_credentials(self) -> bool:
        return bool(self._key and self._secret)

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    async def aclose(self) -> None:
        await self._client.aclose()

    def scrub(self, text: str) -> str:
        """``text`` without this session's key and secret."""
        return scrub(text, self._key, self._secret)

    # --- clock --------------------------------------------------------------------------------------------

    def server_now(self) -> int:
        """Bybit's clock as we estimate it (epoch ms)."""
        return now_ms() + self.offset_ms

    async def sync_time(self) -> int:
        """Measure Bybit's clock against ours (half the round trip corrects for latency); its time in ms."""
        before = now_ms()
        result = await self.get("/v5/market/time", {})
        after = now_ms()
        server = int(result["timeNano"]) // 1_000_000
        self.offset_ms = server - (before + after) // 2
        return server

    # --- requests -----------------------------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any], *, signed: bool = False) -> JSON:
        """GET ``path`` with ``params`` as the query string; Bybit's ``result`` object."""
        return await self._request("GET", path, query_string(params), signed=signed, order_entry=False)

    async def post(self, path: str, body: Mapping[str, Any], *, order_entry: bool = True) -> JSON:
        """POST ``body`` as JSON (always signed); Bybit's ``result`` object."""
        return await self._request("POST", path, body_string(body), signed=True, order_entry=order_entry)

    async def paginate(self, path: str, params: Mapping[str, Any], *, max_pages: int = 1000) -> list[JSON]:
        """Every item of ``result.list`` over all pages, following ``nextPageCursor`` until it is empty."""
        items: list[JSON] = []
        cursor: str | None = None
        for _ in range(max_pages):
            result = await self.get(path, {**params, "cursor": cursor or None}, signed=True)
            items.extend(result.get("list") or [])
            cursor = result.get("nextPageCursor") or None
            if not cursor:
                return items
        raise BybitRequestError(f"Bybit {path}: more than {max_pages} pages; narrow the time range")

    async def _request(
        self, method: str, path: str, payload: str, *, signed: bool, order_entry: bool
    ) -> JSON:
        if signed and not self.has_credentials:
            raise BybitFatal(f"Bybit {path} needs an API key and secret, and none are configured")
        rate_limit_retries = RATE_LIMIT_RETRIES
        clock_retry = True
        while True:
            left = self.banned_until - trio.current_time()
            if left > 0:
                raise BybitRetryable(
                    f"Bybit {path}: this IP is banned by Bybit (HTTP 403) for another {left:.1f} s; not sent",
                    retry_after=left,
                )
            async with self.limiter.slot(path):
                response = await self._send(method, path, payload, signed)
            body = self._envelope(response, path, order_entry)
            code = int(body.get("retCode", -1)) if body is not None else -1
            if response.status_code == 429 or code in RATE_LIMITED:
                self.rate_limited += 1
                wait = self._reset_wait(response)
                log_event(
                    "bybit.rate_limited", level="warning", path=path, ret_code=code, wait=round(wait, 3)
                )
                if rate_limit_retries > 0 and wait <= self.max_rate_limit_wait:
                    rate_limit_retries -= 1
                    await trio.sleep(wait)
                    continue
                raise BybitRetryable(
                    f"Bybit {path}: rate limited (HTTP {response.status_code}, retCode {code}); "
                    f"the limit resets in {wait:.1f} s",
                    ret_code=code,
                    retry_after=wait,
                )
            assert body is not None  # _envelope raised for every other non-JSON answer
            if code == 0:
                result = body.get("result")
                return result if isinstance(result, dict) else {}
            message = self.scrub(str(body.get("retMsg", "")))
            if code == TIMESTAMP and clock_retry:
                clock_retry = False
                await self.sync_time()
                log_event("bybit.clock_resynced", level="warning", path=path, offset_ms=self.offset_ms)
                continue
            raise error_for(code, message, path=path, order_entry=order_entry)

    async def _send(self, method: str, path: str, payload: str, signed: bool) -> httpx.Response:
        headers: dict[str, str] = {}
        if signed:
            assert self._key is not None and self._secret is not None
            timestamp = str(self.server_now())
            recv = str(self.recv_window)
            headers = {
                "X-BAPI-API-KEY": self._key,
                "X-BAPI-TIMESTAMP": timestamp,
                "X-BAPI-RECV-WINDOW": recv,
                "X-BAPI-SIGN": rest_signature(self._secret, timestamp, self._key, recv, payload),
            }
        if method == "GET":
            url = httpx.URL(self.base_url + path, query=payload.encode()) if payload else self.base_url + path
            request = self._client.build_request("GET", url, headers=headers)
        else:
            headers["Content-Type"] = "application/json"
            request = self._client.build_request("POST", path, content=payload.encode(), headers=headers)
        try:
            return await self._client.send(request)
        except httpx.TimeoutException:
            raise BybitRetryable(f"Bybit {path}: no answer within {self._client.timeout.read} s") from None
        except httpx.TransportError as exc:
            raise BybitRetryable(f"Bybit {path}: network error ({type(exc).__name__})") from None

    def _envelope(self, response: httpx.Response, path: str, order_entry: bool) -> JSON | None:
        """The JSON envelope, or None for a 429; raises for every other HTTP-level failure."""
        status = response.status_code
        if status == 403:
            text = response.text[:200].lower()
            if "country" in text or "region" in text:
                raise BybitFatal(f"Bybit {path}: access from this country or region is refused (HTTP 403)")
            retry_after = response.headers.get("Retry-After")
            wait = float(retry_after) if retry_after and retry_after.isdigit() else self.ban_backoff
            self.banned_until = trio.current_time() + wait
            log_event("bybit.ip_banned", level="error", path=path, wait=wait)
            raise BybitRetryable(
                f"Bybit {path}: this IP is banned for too many requests (HTTP 403); waiting {wait:.0f} s",
                retry_after=wait,
            )
        if status == 401:
            raise BybitFatal(f"Bybit {path}: the API key was refused (HTTP 401)", ret_code=401)
        if status == 429:
            return None
        if status >= 500:
            raise BybitRetryable(f"Bybit {path}: server error HTTP {status}", ret_code=status)
        if status == 404:
            raise BybitFatal(
                f"Bybit {path}: not found (HTTP 404): a wrong URL, or a category this account cannot use",
                ret_code=404,
            )
        if status != 200:
            text = self.scrub(response.text[:200])
            if order_entry:
                raise BybitRejected(f"Bybit refused the request (HTTP {status}): {text}", ret_code=status)
            raise BybitRequestError(f"Bybit {path}: HTTP {status}: {text}", ret_code=status)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BybitRetryable(f"Bybit {path}: the answer is not JSON (HTTP 200)") from None
        if not isinstance(body, dict) or "retCode" not in body:
            raise BybitRetryable(f"Bybit {path}: the answer is not a Bybit envelope")
        return body

    def _reset_wait(self, response: httpx.Response) -> float:
        """Seconds until the rate limit resets, from ``X-Bapi-Limit-Reset-Timestamp`` (else one second)."""
        reset = response.headers.get("X-Bapi-Limit-Reset-Timestamp")
        if reset and reset.isdigit():
            return max(0.0, (int(reset) - self.server_now()) / 1000)
        return 1.0
