"""docs/exchanges/bybit.md and the README say what the code does: their settings snippets are valid
configurations with the plugin registered, the secrets snippet has the keys, and every option is named."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import marketmaestro_bybit
from marketmaestro.config import load_config
from marketmaestro.exchanges.modes import check_exchange_modes
from marketmaestro.exchanges.public import check_paper_feeds
from marketmaestro.plugins.manager import load_plugins
from marketmaestro_bybit import BybitOptions

PLUGIN = Path(__file__).resolve().parents[1]
REPO = PLUGIN.parents[1]
PAGE = REPO / "docs" / "exchanges" / "bybit.md"
README = PLUGIN / "README.md"


def snippets(path: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(text) for text in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)]


def settings_snippets() -> list[tuple[str, dict[str, Any]]]:
    found = [(f"{path.name}#{n}", s) for path in (PAGE, README) for n, s in enumerate(snippets(path))]
    return [(name, s) for name, s in found if "api_key" not in str(s)]


def test_the_secrets_snippet_holds_key_and_secret() -> None:
    (secrets,) = [s for s in snippets(PAGE) if "api_key" in str(s)]
    assert set(secrets["exchanges"]["bybit"]) == {"api_key", "api_secret"}
    assert len(settings_snippets()) >= 6


@pytest.mark.parametrize(("where", "snippet"), settings_snippets(), ids=[n for n, _ in settings_snippets()])
def test_each_settings_snippet_is_a_valid_configuration(
    tmp_path: Path, where: str, snippet: dict[str, Any]
) -> None:
    (tmp_path / "strategies").mkdir()
    shutil.copy(REPO / "strategies" / "simple_sma.star", tmp_path / "strategies")
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(snippet))
    host = load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("bybit", marketmaestro_bybit)])
    config = load_config(
        tmp_path / "settings.yaml", environ={}, exchange_options=host.registry.exchange_options_models()
    )
    assert check_exchange_modes(host.registry, config) == []
    assert check_paper_feeds(host.registry, config) == []
    for key in config.exchanges:
        assert isinstance(config.exchange_options(key), BybitOptions), where


def test_every_option_is_documented_in_both() -> None:
    page, readme = PAGE.read_text(), README.read_text()
    for name in BybitOptions.model_fields:
        assert f"| `{name}` |" in page, f"docs/exchanges/bybit.md has no row for option {name}"
        assert f"`{name}`" in readme, f"the README does not name option {name}"


def test_the_documented_defaults_are_the_codes() -> None:
    page = PAGE.read_text()
    defaults = BybitOptions()
    for name in ("recv_window", "rate_limit_headroom", "orderbook_depth", "ping_interval", "fill_wait"):
        value = getattr(defaults, name)
        assert f"| `{name}` | `{value:g}` |" in page, f"{name}: the page does not give the default {value}"
