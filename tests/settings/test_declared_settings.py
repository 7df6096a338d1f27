"""The settings component with declared settings: validated before they are stored, listed with their
defaults, and sent to the component that declared them."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from marketmaestro.messages import DeclareSettingsMsg, ListSettingsMsg, SetSettingMsg, SettingChangedMsg
from marketmaestro.settings import SettingSpec
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, Mailbox, RequestFailed
from tests.exchanges.conftest import store as store
from tests.trading.test_settings_component import ask, running

SPECS = (
    SettingSpec("drift_threshold", "number", 0.05, "How far a weight may drift.", minimum=0, maximum=1),
    SettingSpec("interval", "duration", "1h", "How often."),
)


async def refused(mailbox: Mailbox, msg: Any) -> str:
    with pytest.raises(RequestFailed) as caught:
        await ask(mailbox, msg)
    assert isinstance(caught.value.__cause__, BadRequest)
    return str(caught.value.__cause__)


async def test_a_declared_setting_is_validated_stored_and_sent_to_its_component(store: AsyncStore) -> None:
    subscriber = Mailbox("paper/rebalance:x")
    with trio.fail_after(10):
        async with running(store) as settings:
            values = await ask(settings, DeclareSettingsMsg("rebalance:x", SPECS, subscriber))
            assert values == {"drift_threshold": 0.05, "interval": "1h"}
            assert await ask(settings, SetSettingMsg("rebalance:x", "drift_threshold", 0.2)) == 0.2
            envelope = subscriber.receive_channel.receive_nowait()
            assert envelope.msg == SettingChangedMsg("rebalance:x", "drift_threshold", 0.2)
    assert await store.settings("paper/rebalance:x") == {"drift_threshold": 0.2}


async def test_an_invalid_value_is_refused_naming_it_and_nothing_stored_changes(store: AsyncStore) -> None:
    subscriber = Mailbox("paper/rebalance:x")
    with trio.fail_after(10):
        async with running(store) as settings:
            await ask(settings, DeclareSettingsMsg("rebalance:x", SPECS, subscriber))
            await ask(settings, SetSettingMsg("rebalance:x", "drift_threshold", 0.2))
            subscriber.receive_channel.receive_nowait()
            message = await refused(settings, SetSettingMsg("rebalance:x", "drift_threshold", 2))
            assert message == "rebalance:x.drift_threshold: got 2; expected a number from 0 to 1"
            message = await refused(settings, SetSettingMsg("rebalance:x", "drift", 0.1))
            assert message == "rebalance:x.drift: no such setting; expected one of drift_threshold, interval"
            # Nothing was stored or sent; the component keeps serving.
            with pytest.raises(trio.WouldBlock):
                subscriber.receive_channel.receive_nowait()
            rows = await ask(settings, ListSettingsMsg())
            assert [r["value"] for r in rows if r["key"] == "drift_threshold"] == [0.2]
    assert await store.settings("paper/rebalance:x") == {"drift_threshold": 0.2}


async def test_strict_requests_refuse_a_component_that_declared_nothing(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running(store) as settings:
            await ask(settings, DeclareSettingsMsg("rebalance:x", SPECS))
            message = await refused(settings, SetSettingMsg("order_manager", "paused", True, strict=True))
            assert "order_manager: no component of exchange paper declares settings" in message
            assert "expected one of rebalance:x" in message
    assert await store.settings("paper/order_manager") == {}


async def test_the_list_has_values_defaults_and_what_is_expected(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running(store) as settings:
            await ask(settings, DeclareSettingsMsg("rebalance:x", SPECS))
            await ask(settings, SetSettingMsg("rebalance:x", "interval", 30))
            rows = await ask(settings, ListSettingsMsg())
    assert rows[0] == {
        "component": "rebalance:x",
        "key": "drift_threshold",
        "value": 0.05,
        "kind": "number",
        "default": 0.05,
        "description": "How far a weight may drift.",
        "expected": "a number from 0 to 1",
        "minimum": 0,
        "maximum": 1,
    }
    assert (rows[1]["key"], rows[1]["value"], rows[1]["default"]) == ("interval", 30, "1h")


async def test_a_stored_value_applies_on_the_next_declaration_and_an_invalid_one_is_ignored(
    store: AsyncStore,
) -> None:
    await store.set_settings(
        [("paper/rebalance:x", "interval", "15m"), ("paper/rebalance:x", "drift_threshold", 7)]
    )
    with trio.fail_after(10):
        async with running(store) as settings:
            values = await ask(settings, DeclareSettingsMsg("rebalance:x", SPECS))
    # 7 is no threshold (declared differently since): the default applies, and the stored value stays.
    assert values == {"interval": "15m", "drift_threshold": 0.05}
    assert await store.get_setting("paper/rebalance:x", "drift_threshold") == 7
