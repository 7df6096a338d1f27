"""The settings component: key/values per component, persisted in SQLite, changeable at runtime.

As in the seed design, each component keeps runtime-adjustable values under its own name; a value set
here is stored before it is acknowledged and survives a restart.

A component whose behaviour can change while the bot runs declares its settings when it starts
(``DeclareSettingsMsg``: each key's kind, range, default and description, see
:mod:`marketmaestro.settings.specs`) and is answered with their current values. A change of a declared
setting (``SetSettingMsg``, e.g. from ``PUT /api/v1/settings/...``) is then validated before anything is
stored, stored, and sent to the component as a ``SettingChangedMsg``, which it applies at once::

    API ── SetSettingMsg ──▶ settings ── validate ── store ── SettingChangedMsg ──▶ component (applies it)
                                 └── refused: BadRequest naming key, value and what is expected
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from marketmaestro.logs import log_event
from marketmaestro.messages import (
    DeclareSettingsMsg,
    GetSettingMsg,
    GetStatusMsg,
    ListSettingsMsg,
    SetSettingMsg,
    SettingChangedMsg,
)
from marketmaestro.settings.specs import SettingError, SettingSpec
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, Component, Mailbox


@dataclass
class _Declared:
    specs: dict[str, SettingSpec]
    values: dict[str, Any]
    subscriber: Mailbox | None


class SettingsComponent(Component):
    component = "settings"

    def __init__(self, mailbox: Mailbox, *, exchange: str, store: AsyncStore) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.store = store
        self.declared: dict[str, _Declared] = {}
        """Declarations live as long as the bot: a component re-declares when it restarts."""

    def _scoped(self, component: str) -> str:
        return f"{self.exchange}/{component}"

    async def handle(self, msg: Any) -> Any:
        match msg:
            case SetSettingMsg(component=component, key=key, value=value, strict=strict):
                if not component or not key:
                    raise BadRequest(f"setting needs a component and a key, got {component!r} / {key!r}")
                declared = self.declared.get(component)
                if declared is not None:
                    value = self._validate(declared, component, key, value)
                elif strict:
                    known = ", ".join(sorted(self.declared)) or "(none)"
                    raise BadRequest(
                        f"{component}: no component of exchange {self.exchange} declares settings by that "
                        f"name; expected one of {known}"
                    )
                try:
                    await self.store.set_setting(self._scoped(component), key, value)
                except ValueError as exc:  # not storable as JSON (NaN, an object, ...)
                    raise BadRequest(f"setting {component}.{key}: {exc}") from None
                if declared is not None:
                    declared.values[key] = value
                    self._notify(declared, SettingChangedMsg(component, key, value))
                return value
            case GetSettingMsg(component=component, key=key, default=default):
                return await self.store.get_setting(self._scoped(component), key, default)
            case DeclareSettingsMsg(component=component, specs=specs, subscriber=subscriber):
                return await self._declare(component, specs, subscriber)
            case ListSettingsMsg():
                return self._list()
            case GetStatusMsg():
                return {}
        return await super().handle(msg)

    @staticmethod
    def _validate(declared: _Declared, component: str, key: str, value: Any) -> Any:
        spec = declared.specs.get(key)
        if spec is None:
            raise BadRequest(
                f"{component}.{key}: no such setting; expected one of {', '.join(sorted(declared.specs))}"
            )
        try:
            return spec.validate(value, component=component)
        except SettingError as exc:
            raise BadRequest(str(exc)) from None

    async def _declare(
        self, component: str, specs: tuple[SettingSpec, ...], subscriber: Mailbox | None
    ) -> dict[str, Any]:
        if not component:
            raise BadRequest("a settings declaration needs a component name")
        stored = await self.store.settings(self._scoped(component))
        values: dict[str, Any] = {}
        for spec in specs:
            values[spec.key] = spec.default
            if spec.key not in stored:
                continue
            try:
                values[spec.key] = spec.validate(stored[spec.key], component=component)
            except SettingError as exc:
                # Declared differently since it was stored (the script changed): the default applies, and
                # the stored value is kept for whoever looks into it.
                log_event(
                    "settings.stored_value_ignored", level="warning", component=component, error=str(exc)
                )
        self.declared[component] = _Declared({spec.key: spec for spec in specs}, values, subscriber)
        return dict(values)

    def _notify(self, declared: _Declared, msg: SettingChangedMsg) -> None:
        if declared.subscriber is None:
            return
        try:
            # Never blocks: a component busy asking this one for something must not deadlock with it.
            declared.subscriber.send_nowait(msg)
        except trio.WouldBlock:
            log_event(
                "settings.not_delivered",
                level="warning",
                component=msg.component,
                error=f"{declared.subscriber.name}'s mailbox is full; {msg.key} applies when it restarts",
            )

    def _list(self) -> list[dict[str, Any]]:
        rows = []
        for component, declared in sorted(self.declared.items()):
            for key, spec in sorted(declared.specs.items()):
                rows.append(
                    {"component": component, "key": key, "value": declared.values[key], **spec.describe()}
                )
        return rows
