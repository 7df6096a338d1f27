"""Runtime settings: key/values per component, persisted."""

from marketmaestro.settings.component import SettingsComponent

__all__ = ["SettingsComponent"]
