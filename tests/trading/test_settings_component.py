"""The settings component: runtime key/values per component, scoped per exchange, persisted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from marketmaestro.messages import GetSettingMsg, GetStatusMsg, SetSettingMsg
from marketmaestro.settings import SettingsComponent
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, Mailbox, RequestFailed
from tests.trading.conftest import TIMEOUT


@asynccontextmanager
async def running(store: AsyncStore, exchange: str = "paper") -> AsyncIterator[Mailbox]:
    component = SettingsComponent(Mailbox(f"{exchange}/settings"), exchange=exchange, store=store)
    async with trio.open_nursery() as nursery:
        await nursery.start(component.run)
        yield component.mailbox
        nursery.cancel_scope.cancel()


async def ask(mailbox: Mailbox, msg: Any) -> Any:
    return await mailbox.request(msg, TIMEOUT)


async def test_a_setting_is_stored_and_read_back(store: AsyncStore) -> None:
    value = {"enabled": True, "limits": [1, 2.5], "note": "from the UI"}
    with trio.fail_after(10):
        async with running(store) as settings:
            assert await ask(settings, SetSettingMsg("risk_manager", "overrides", value)) == value
            assert await ask(settings, GetSettingMsg("risk_manager", "overrides")) == value
            assert await ask(settings, GetSettingMsg("risk_manager", "missing")) is None
            assert await ask(settings, GetSettingMsg("risk_manager", "missing", default=7)) == 7
            # Setting again replaces the value.
            await ask(settings, SetSettingMsg("risk_manager", "overrides", 3))
            assert await ask(settings, GetSettingMsg("risk_manager", "overrides")) == 3
            assert await ask(settings, GetStatusMsg()) == {}
    # Stored before it was acknowledged, under the exchange's scope.
    assert await store.get_setting("paper/risk_manager", "overrides") == 3


async def test_settings_are_scoped_per_exchange(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running(store, "paper") as paper, running(store, "bybit") as bybit:
            await ask(paper, SetSettingMsg("order_manager", "paused", True))
            await ask(bybit, SetSettingMsg("order_manager", "paused", False))
            assert await ask(paper, GetSettingMsg("order_manager", "paused")) is True
            assert await ask(bybit, GetSettingMsg("order_manager", "paused")) is False
            await ask(paper, SetSettingMsg("portfolio", "note", "only here"))
            assert await ask(bybit, GetSettingMsg("portfolio", "note", "absent")) == "absent"
    assert await store.settings("paper/order_manager") == {"paused": True}
    assert await store.settings("bybit/order_manager") == {"paused": False}


async def test_settings_survive_a_new_component_on_the_same_store(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running(store) as settings:
            await ask(settings, SetSettingMsg("strategy:sma", "position_size", "0.02"))
        async with running(store) as restarted:
            assert await ask(restarted, GetSettingMsg("strategy:sma", "position_size")) == "0.02"


@pytest.mark.parametrize(("component", "key"), [("risk_manager", ""), ("", "paused")])
async def test_an_empty_name_is_a_bad_request_and_the_component_keeps_running(
    store: AsyncStore, component: str, key: str
) -> None:
    with trio.fail_after(10):
        async with running(store) as settings:
            with pytest.raises(RequestFailed) as caught:
                await ask(settings, SetSettingMsg(component, key, 1))
            assert isinstance(caught.value.__cause__, BadRequest)
            assert "component and a key" in str(caught.value.__cause__)
            # Answered, not crashed: the next request is served.
            assert await ask(settings, SetSettingMsg("risk_manager", "ok", 2)) == 2
            assert await ask(settings, GetSettingMsg("risk_manager", "ok")) == 2
    assert await store.settings("paper/risk_manager") == {"ok": 2}


async def test_a_value_that_cannot_be_stored_is_a_bad_request(store: AsyncStore) -> None:
    """A setting must be JSON (NaN is not, though Python's json.loads reads it from an API body): the request
    is at fault, and the component must answer it rather than crash and restart."""
    with trio.fail_after(10):
        async with running(store) as settings:
            with pytest.raises(RequestFailed) as caught:
                await ask(settings, SetSettingMsg("risk_manager", "bad", float("nan")))
            assert isinstance(caught.value.__cause__, BadRequest)
            assert "risk_manager" in str(caught.value.__cause__)
            assert await ask(settings, SetSettingMsg("risk_manager", "ok", 2)) == 2
