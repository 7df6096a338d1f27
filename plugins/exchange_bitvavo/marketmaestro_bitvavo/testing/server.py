"""Serving the fake Bitvavo on 127.0.0.1: REST (quart-trio on hypercorn) and the WebSocket (trio-websocket).

The REST app also answers ``/control/<command>`` (POST, JSON body) so a test in another process can move the
market and inject faults, and ``GET /control/state`` with the book, orders and balances.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio
from trio_websocket import serve_websocket

from marketmaestro_bitvavo.testing.api import FakeBitvavo
from marketmaestro_bitvavo.testing.websocket import handle_websocket


@dataclass(frozen=True)
class FakeServer:
    """A running fake: where it listens, and the fake itself."""

    fake: FakeBitvavo
    rest_url: str
    """``http://127.0.0.1:<port>/v2``: the plugin's ``rest_url`` option."""
    ws_url: str
    """``ws://127.0.0.1:<port>/v2/``: the plugin's ``ws_url`` option."""
    control_url: str

    def describe(self) -> dict[str, str]:
        return {
            "rest_url": self.rest_url,
            "ws_url": self.ws_url,
            "control_url": self.control_url,
            "api_key": self.fake.api_key,
            "api_secret": self.fake.api_secret,
        }


def control(fake: FakeBitvavo, command: str, args: dict[str, Any]) -> Any:
    """Run one control command (the HTTP control endpoint's body as keyword arguments)."""
    if command == "set_price":
        fake.set_price(
            args["market"],
            Decimal(str(args["price"])),
            **{k: v for k, v in args.items() if k in ("timestamp",)},
        )
    elif command == "set_balance":
        fake.set_balance(args["asset"], Decimal(str(args["amount"])))
    elif command == "fail_next":
        fake.fail_next(
            int(args.get("count", 1)),
            status=int(args.get("status", 500)),
            code=int(args.get("code", 101)),
            path=args.get("path"),
            after=bool(args.get("after", False)),
        )
    elif command == "slow_next":
        fake.slow_next(float(args["seconds"]), int(args.get("count", 1)), path=args.get("path"))
    elif command == "ban":
        return {"until": fake.ban(float(args["seconds"]))}
    elif command == "skip_nonce":
        fake.skip_nonce(args["market"], int(args.get("count", 1)))
    elif command == "drop_connections":
        fake.drop_connections()
    elif command == "malformed_frame":
        fake.malformed_frame()
    else:
        raise KeyError(command)
    return {"ok": True}


def state(fake: FakeBitvavo) -> dict[str, Any]:
    ex = fake.exchange
    return {
        "books": {m: ex.book_json(m) for m in ex.markets},
        "orders": [o.as_json() for o in ex.orders.values()],
        "trades": list(ex.user_trades),
        "balances": ex.balance_json(),
        "requests": [list(r) for r in fake.requests],
    }


def create_app(fake: FakeBitvavo) -> QuartTrio:
    app = QuartTrio("fake_bitvavo")

    @app.route("/v2/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    async def api(rest: str) -> Response:
        body = await request.get_data(as_text=False)
        assert isinstance(body, bytes)
        raw_path = request.scope.get("raw_path") or request.path.encode()
        query = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        reply = fake.handle_rest(request.method, target, dict(request.headers), body)
        if reply.delay:
            await trio.sleep(reply.delay)
        if reply.raw is not None:
            return Response(reply.raw, status=reply.status, headers=reply.headers, content_type="text/html")
        return Response(
            json.dumps(reply.payload),
            status=reply.status,
            headers=reply.headers,
            content_type="application/json",
        )

    @app.post("/control/<command>")
    async def control_endpoint(command: str) -> Response:
        args = await request.get_json(force=True, silent=True) or {}
        try:
            result = control(fake, command, args)
        except (KeyError, ValueError, TypeError) as exc:
            return Response(
                json.dumps({"error": f"{command}: {exc!r}"}), status=400, content_type="application/json"
            )
        return Response(json.dumps(result), content_type="application/json")

    @app.get("/control/state")
    async def control_state() -> Response:
        return Response(json.dumps(state(fake)), content_type="application/json")

    return app


async def serve_fake(
    fake: FakeBitvavo | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ws_port: int = 0,
    task_status: trio.TaskStatus[FakeServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``fake`` until cancelled; ``started()`` with the :class:`FakeServer` (its URLs)."""
    fake = fake or FakeBitvavo()
    config = HypercornConfig()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("fake_bitvavo.hypercorn")
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(partial(serve, create_app(fake), config))
        rest_base = binds[0].rstrip("/")
        ws_server = await nursery.start(
            partial(serve_websocket, partial(handle_websocket, fake), host, ws_port, None)
        )
        task_status.started(
            FakeServer(
                fake=fake,
                rest_url=f"{rest_base}/v2",
                ws_url=f"ws://{host}:{ws_server.port}/v2/",
                control_url=f"{rest_base}/control",
            )
        )
