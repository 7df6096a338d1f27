"""The settings component: key/values per component, persisted in SQLite, changeable at runtime.

As in the seed design, each component keeps runtime-adjustable values under its own name; a value set
here is stored before it is acknowledged and survives a restart.
"""

from __future__ import annotations

from typing import Any

from marketmaestro.messages import GetSettingMsg, GetStatusMsg, SetSettingMsg
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, Component, Mailbox


class SettingsComponent(Component):
    component = "settings"

    def __init__(self, mailbox: Mailbox, *, exchange: str, store: AsyncStore) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.store = store

    def _scoped(self, component: str) -> str:
        return f"{self.exchange}/{component}"

    async def handle(self, msg: Any) -> Any:
        match msg:
            case SetSettingMsg(component=component, key=key, value=value):
                if not component or not key:
                    raise BadRequest(f"setting needs a component and a key, got {component!r} / {key!r}")
                try:
                    await self.store.set_setting(self._scoped(component), key, value)
                except ValueError as exc:  # not storable as JSON (NaN, an object, ...)
                    raise BadRequest(f"setting {component}.{key}: {exc}") from None
                return value
            case GetSettingMsg(component=component, key=key, default=default):
                return await self.store.get_setting(self._scoped(component), key, default)
            case GetStatusMsg():
                return {}
        return await super().handle(msg)
