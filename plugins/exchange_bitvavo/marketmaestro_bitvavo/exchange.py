"""The Bitvavo adapter: MarketMaestro's exchange interface over Bitvavo's REST API and WebSocket.

Order entry is live only when the exchange runs in ``mode: live`` *and* ``options.live_orders`` is true;
otherwise every private call is refused before anything is sent (in paper mode the plugin's factory wraps
this adapter, used for market data only, in the core's paper exchange).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges import (
    AccountEvent,
    Exchange,
    ExchangeContext,
    FatalExchangeError,
    OrderRejected,
    OrderResult,
    RetryableError,
    Subscription,
)
from marketmaestro.logs import log_event
from marketmaestro.messages import MarketDataMsg
from marketmaestro.model import Balance, Fill, Instrument, Kline, Order, OrderStatus, interval_seconds
from marketmaestro_bitvavo.convert import ClientIds, order_body, to_fill, to_kline, to_order
from marketmaestro_bitvavo.errors import CLIENT_ORDER_ID_CONFLICT, NotFound, error_code
from marketmaestro_bitvavo.klines import CANDLES_MAX, candles_in_range
from marketmaestro_bitvavo.link import SharedConnection
from marketmaestro_bitvavo.markets import Market, bitvavo_interval, plain
from marketmaestro_bitvavo.options import BitvavoOptions
from marketmaestro_bitvavo.ratelimit import WeightBudget
from marketmaestro_bitvavo.rest import RestClient

PAGE = 1000
"""Items per page of ``GET /orders`` and ``GET /trades`` (Bitvavo's maximum)."""


class BitvavoExchange(Exchange):
    """Bitvavo API v2, spot. See the plugin's README for what is native and what is refused."""

    capabilities = {
        **Exchange.capabilities,
        "market_orders": True,
        "limit_orders": True,
        "time_in_force": True,
        "native_stop_orders": True,
        "native_take_profit": True,
        "native_trailing_stop": False,
        "amend": True,
        "post_only": True,
        "reduce_only": False,
        "derivatives": False,
        "private_stream": True,
        "order_history": True,
        "fills_history": True,
        "public_trades": True,
    }

    def __init__(self, context: ExchangeContext) -> None:
        super().__init__(context)
        self.options = context.options if isinstance(context.options, BitvavoOptions) else BitvavoOptions()
        self.live = context.mode == "live"
        self.ids = ClientIds()
        self.markets: dict[str, Market] = {}
        """By MarketMaestro symbol (``BTCEUR``)."""
        self.by_market: dict[str, Market] = {}
        """By Bitvavo market (``BTC-EUR``)."""
        self._placed: dict[str, Order] = {}
        """Orders placed through this adapter, by client order id: their strategy and reason."""
        self._by_venue: dict[str, str] = {}
        """Bitvavo orderId -> our client order id, for fills that name only the orderId."""
        self.public: Any = None
        """The running public stream (its books and resync count), for the health report and tests."""
        self.connection = SharedConnection(self)
        """The one WebSocket connection ``stream`` and ``private_stream`` share."""
        self._attempted: set[str] = set()
        self._connected = False
        self.page_size = PAGE
        """Items per page when paging ``GET /orders`` and ``GET /trades``."""
        self.rest = self._new_rest()

    def _new_rest(self) -> RestClient:
        budget = WeightBudget(self.options.weight_limit, max_wait=self.options.max_rate_limit_wait)
        return RestClient(
            self.options.rest_url,
            api_key=self.context.config.api_key,
            api_secret=self.context.config.api_secret,
            window=self.options.access_window,
            timeout=self.options.timeout,
            budget=budget,
        )

    # --- session ----------------------------------------------------------------------------------------

    async def connect(self) -> None:
        key = f"exchanges.{self.name}"
        if self.live and not self.options.live_orders:
            raise FatalExchangeError(
                f"{key}: mode is live but {key}.options.live_orders is not true; Bitvavo has no sandbox, "
                "so live "
                f"order entry must be switched on explicitly (or leave mode unset for paper execution)"
            )
        if self.live and not self.rest.has_credentials:
            raise FatalExchangeError(
                f"{key}: live trading needs api_key and api_secret (in .secrets.yaml or "
                f"MM_EXCHANGES__{self.name.upper()}__API_KEY / __API_SECRET)"
            )
        if self.rest.closed:
            self.rest = self._new_rest()
        await self.rest.sync_time()
        await self._load_markets()
        missing = sorted(p.symbol for p in self.context.config.pairs if p.symbol not in self.markets)
        if missing:
            raise FatalExchangeError(f"{key}: Bitvavo lists no market for pair(s) {', '.join(missing)}")
        if self.live:
            try:
                await self.rest.request("GET", "/account", signed=True)
            except FatalExchangeError as exc:
                raise FatalExchangeError(
                    f"{key}: Bitvavo refused the API credentials ({exc}); check api_key, api_secret, "
                    "the key's "
                    f"permissions (trade and view, never withdraw) and its IP whitelist"
                ) from None
        self._connected = True
        log_event("bitvavo.connected", exchange=self.name, mode=self.context.mode, markets=len(self.markets))

    async def disconnect(self) -> None:
        self._connected = False
        await self.rest.aclose()

    def is_connected(self) -> bool:
        return self._connected

    async def _load_markets(self) -> None:
        raw = await self.rest.request("GET", "/markets")
        for item in raw if isinstance(raw, list) else [raw]:
            market = Market.parse(item)
            self.markets[market.symbol] = market
            self.by_market[market.market] = market

    def market(self, symbol: str) -> Market:
        """The Bitvavo market of a MarketMaestro symbol; OrderRejected for an unknown one."""
        try:
            return self.markets[symbol]
        except KeyError:
            raise OrderRejected(f"symbol {symbol!r} is not a Bitvavo market on {self.name}") from None

    async def instruments(self) -> dict[str, Instrument]:
        prices: dict[str, Decimal] = {}
        if any(m.tick_size is None for m in self.markets.values()):
            raw = await self.rest.request("GET", "/ticker/price")
            for item in raw if isinstance(raw, list) else [raw]:
                if item.get("price") not in (None, ""):
                    prices[str(item["market"])] = Decimal(str(item["price"]))
        return {s: m.instrument(prices.get(m.market)) for s, m in self.markets.items()}

    async def server_time(self) -> int:
        return await self.rest.sync_time()

    # --- market data ------------------------------------------------------------------------------------

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        market = self.market(symbol)
        step = interval_seconds(interval) * 1000
        if limit <= 0:
            return []
        if start is not None or end is not None:
            return await candles_in_range(self.rest, market.market, symbol, interval, limit, start, end)
        params: dict[str, str | int | None] = {"interval": bitvavo_interval(interval)}
        params["limit"] = min(limit + 1, CANDLES_MAX)
        rows = await self.rest.request("GET", f"/{market.market}/candles", params=params)
        now = self.rest.now_ms()
        klines = [to_kline(row, symbol, interval) for row in rows]
        closed = sorted((k for k in klines if k.timestamp + step <= now), key=lambda k: k.timestamp)
        return closed[-limit:]

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        from marketmaestro_bitvavo.stream import run_public_stream

        await run_public_stream(self, subscription, send, task_status=task_status)

    async def private_stream(
        self,
        send: trio.MemorySendChannel[AccountEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self._require_live()
        from marketmaestro_bitvavo.stream import run_private_stream

        await run_private_stream(self, send, task_status=task_status)

    # --- trading ----------------------------------------------------------------------------------------

    def _require_live(self) -> None:
        if not (self.live and self.options.live_orders):
            raise OrderRejected(
                f"live order entry is off for {self.name} (it needs mode: live and options.live_orders: true)"
            )

    async def place_order(self, order: Order) -> OrderResult:
        self._require_live()
        market = self.market(order.symbol)
        if market.status != "trading":
            raise OrderRejected(f"market {market.market} is {market.status}, not trading")
        body = order_body(order, market, self.ids.to_venue(order.client_order_id), self.options.operator_id)
        if order.quantity <= 0:
            raise OrderRejected(f"quantity {plain(order.quantity)} rounds to zero on {market.market}")
        if order.quantity < market.min_base:
            raise OrderRejected(
                f"quantity {plain(order.quantity)} is under {market.market}'s minimum "
                f"{plain(market.min_base)} {market.base}"
            )
        # Market orders are checked at the last traded price (one light request), as Bitvavo checks them.
        reference = order.price or order.stop_price or await self._last_price(market)
        if reference is not None:
            problem = market.instrument(reference).check_order(order.quantity, reference)
            if problem:
                raise OrderRejected(problem)
        self._placed[order.client_order_id] = order
        if order.client_order_id in self._attempted:
            # A retry after an attempt whose outcome we never learnt: the order may be on the book already.
            landed = await self._lookup(order, market)
            if landed is not None:
                return landed
        self._attempted.add(order.client_order_id)
        try:
            raw = await self.rest.request("POST", "/order", body=body, signed=True)
        except RetryableError:
            landed = await self._lookup_quietly(order, market)
            if landed is not None:
                return landed
            raise
        except OrderRejected as exc:
            if error_code(exc) == CLIENT_ORDER_ID_CONFLICT:
                landed = await self._lookup(order, market)
                if landed is not None:
                    return landed
            raise
        if raw.get("status") == "canceledPostOnly":
            raise OrderRejected("post-only order would have taken liquidity (Bitvavo: canceledPostOnly)")
        return self._result(raw, market, order)

    async def _last_price(self, market: Market) -> Decimal | None:
        raw = await self.rest.request("GET", "/ticker/price", params={"market": market.market})
        price = raw.get("price") if isinstance(raw, dict) else None
        return Decimal(str(price)) if price not in (None, "") else None

    def _result(self, raw: dict[str, Any], market: Market, order: Order) -> OrderResult:
        current = to_order(raw, market, self.name, self.ids, template=order)
        self._by_venue[str(raw["orderId"])] = order.client_order_id
        fills = tuple(to_fill(f, market, self.name, current, self.ids) for f in raw.get("fills") or ())
        return OrderResult(current, fills)

    async def _lookup(self, order: Order, market: Market) -> OrderResult | None:
        params = {"market": market.market, **self._order_ref(order)}
        try:
            raw = await self.rest.request("GET", "/order", params=params, signed=True)
        except NotFound:
            return None
        return self._result(raw, market, order)

    async def _lookup_quietly(self, order: Order, market: Market) -> OrderResult | None:
        try:
            return await self._lookup(order, market)
        except RetryableError:
            return None

    def _order_ref(self, order: Order) -> dict[str, str]:
        if order.venue_order_id:
            return {"orderId": order.venue_order_id}
        return {"clientOrderId": self.ids.to_venue(order.client_order_id)}

    async def cancel_order(self, order: Order) -> Order:
        self._require_live()
        market = self.market(order.symbol)
        params = {
            "market": market.market,
            **self._order_ref(order),
            "operatorId": str(self.options.operator_id),
        }
        try:
            raw = await self.rest.request("DELETE", "/order", params=params, signed=True)
        except NotFound:
            landed = await self._lookup(order, market)
            if landed is None:
                raise OrderRejected(f"order {order.client_order_id} is unknown to Bitvavo") from None
            if not landed.order.status.is_final:
                raise
            return landed.order
        return order.with_status(
            OrderStatus.CANCELLED, venue_order_id=str(raw.get("orderId") or order.venue_order_id)
        )

    async def amend_order(
        self, order: Order, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Order:
        self._require_live()
        market = self.market(order.symbol)
        body: dict[str, Any] = {
            "market": market.market,
            **self._order_ref(order),
            "operatorId": self.options.operator_id,
        }
        if quantity is not None:
            if market.round_amount(quantity) != quantity or quantity <= 0:
                raise OrderRejected(
                    f"quantity {quantity} is not on {market.market}'s {market.quantity_decimals} decimals"
                )
            body["amount"] = plain(quantity)
        if price is not None:
            problem = market.price_problem(price)
            if problem:
                raise OrderRejected(problem)
            body["price"] = plain(price)
        if quantity is None and price is None:
            raise OrderRejected("amend needs a new quantity or price")
        raw = await self.rest.request("PUT", "/order", body=body, signed=True)
        return to_order(
            raw, market, self.name, self.ids, template=self._placed.get(order.client_order_id, order)
        )

    async def get_order(self, order: Order) -> Order | None:
        self._require_live()
        landed = await self._lookup(order, self.market(order.symbol))
        return landed.order if landed else None

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        self._require_live()
        params = {"market": self.market(symbol).market} if symbol else {}
        raw = await self.rest.request("GET", "/ordersOpen", params=params, signed=True)
        return [self.order_from(item) for item in raw]

    def order_from(self, raw: dict[str, Any]) -> Order:
        """A Bitvavo order object (REST or a WebSocket ``order`` event) as a core Order."""
        market = self.by_market[str(raw["market"])]
        order = to_order(raw, market, self.name, self.ids)
        self._by_venue[str(raw["orderId"])] = order.client_order_id
        template = self._placed.get(order.client_order_id)
        return to_order(raw, market, self.name, self.ids, template=template) if template else order

    def known_order(self, order_id: str, client_order_id: str | None) -> Order | None:
        """The order we placed that Bitvavo calls ``order_id`` (or ``client_order_id``), if we know it."""
        ours = self._by_venue.get(order_id)
        if ours is None and client_order_id:
            ours = self.ids.to_core(client_order_id, order_id)
        return self._placed.get(ours) if ours else None

    def _symbols(self, symbol: str | None) -> list[Market]:
        if symbol is not None:
            return [self.market(symbol)]
        return [self.market(pair.symbol) for pair in self.context.config.pairs]

    async def order_history(self, symbol: str | None = None, since: int | None = None) -> list[Order]:
        self._require_live()
        orders: list[Order] = []
        for market in self._symbols(symbol):
            items = await self._paged("/orders", market, since, "orderId", "created")
            orders.extend(o for o in map(self.order_from, items) if o.status.is_final)
        return sorted(orders, key=lambda o: o.updated_at)

    async def fills(self, symbol: str | None = None, since: int | None = None) -> list[Fill]:
        self._require_live()
        found: list[Fill] = []
        for market in self._symbols(symbol):
            for item in await self._paged("/trades", market, since, "id", "timestamp"):
                template = self.known_order(str(item.get("orderId")), item.get("clientOrderId"))
                found.append(to_fill(item, market, self.name, template, self.ids))
        return sorted(found, key=lambda f: (f.timestamp, f.fill_id))

    async def _paged(
        self, path: str, market: Market, since: int | None, id_key: str, time_key: str
    ) -> list[dict[str, Any]]:
        """Every item of a newest-first endpoint from ``since`` on, paging backwards by ``end``."""
        seen: dict[str, dict[str, Any]] = {}
        end: int | None = None
        while True:
            params: dict[str, str | int | None] = {
                "market": market.market,
                "limit": self.page_size,
                "start": since,
                "end": end,
            }
            page = await self.rest.request("GET", path, params=params, signed=True)
            fresh = [item for item in page if str(item[id_key]) not in seen]
            for item in fresh:
                seen[str(item[id_key])] = item
            if len(page) < self.page_size or not fresh:
                break
            oldest = min(int(item.get(time_key, item.get("timestamp", 0)) or 0) for item in page)
            # The oldest millisecond may hold more items than fitted: ask for it again (duplicates are
            # dropped above); when a whole page shares one millisecond, step past it.
            end = oldest if end != oldest else oldest - 1
        return list(seen.values())

    async def balances(self) -> list[Balance]:
        self._require_live()
        raw = await self.rest.request("GET", "/balance", signed=True)
        return [
            Balance(
                str(item["symbol"]), Decimal(str(item["available"])), Decimal(str(item.get("inOrder", "0")))
            )
            for item in raw
        ]

    def describe(self) -> dict[str, Any]:
        budget = self.rest.budget
        return {
            **super().describe(),
            "mode": self.context.mode,
            "live_orders": self.live and self.options.live_orders,
            "markets": len(self.markets),
            "weight_remaining": budget.remaining,
            "banned_until": budget.banned_until or None,
            "ws_connections": self.connection.connections,
            "ws_streams": self.connection.streams,
        }
