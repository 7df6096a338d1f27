"""Runtime settings: key/values per component, declared, validated and persisted."""

from marketmaestro.settings.component import SettingsComponent
from marketmaestro.settings.specs import SettingError, SettingSpec, duration_seconds, spec_from_default

__all__ = ["SettingError", "SettingSpec", "SettingsComponent", "duration_seconds", "spec_from_default"]
