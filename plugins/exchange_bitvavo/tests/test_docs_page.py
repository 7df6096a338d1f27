"""docs/exchanges/bitvavo.md and the README say what the code does: every settings snippet loads as a valid
configuration with the plugin registered, and every option is documented."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import marketmaestro_bitvavo
from marketmaestro.config import load_config
from marketmaestro.exchanges.modes import check_exchange_modes
from marketmaestro.exchanges.public import check_paper_feeds
from marketmaestro.plugins.manager import load_plugins
from marketmaestro_bitvavo import BitvavoOptions

PLUGIN = Path(__file__).resolve().parents[1]
REPO = PLUGIN.parents[1]
PAGE = REPO / "docs" / "exchanges" / "bitvavo.md"
README = PLUGIN / "README.md"


def yaml_blocks(path: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)]


def settings_blocks() -> list[dict[str, Any]]:
    blocks = [b for path in (PAGE, README) for b in yaml_blocks(path)]
    return [b for b in blocks if "api_key" not in str(b)]


def test_the_page_has_settings_and_secrets_snippets() -> None:
    assert len(settings_blocks()) >= 3
    (secrets,) = [b for b in yaml_blocks(PAGE) if "api_key" in str(b)]
    assert set(secrets["exchanges"]["bitvavo"]) == {"api_key", "api_secret"}


@pytest.mark.parametrize("snippet", settings_blocks())
def test_every_settings_snippet_is_a_valid_configuration(tmp_path: Path, snippet: dict[str, Any]) -> None:
    (tmp_path / "strategies").mkdir()
    shutil.copy(REPO / "strategies" / "simple_sma.star", tmp_path / "strategies")
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(snippet))
    host = load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("bitvavo", marketmaestro_bitvavo)])
    config = load_config(
        tmp_path / "settings.yaml", environ={}, exchange_options=host.registry.exchange_options_models()
    )
    assert check_exchange_modes(host.registry, config) == []
    assert check_paper_feeds(host.registry, config) == []
    assert isinstance(config.exchange_options("bitvavo"), BitvavoOptions)


def test_every_option_is_documented() -> None:
    page, readme = PAGE.read_text(), README.read_text()
    for name in BitvavoOptions.model_fields:
        assert f"`{name}`" in page, f"docs/exchanges/bitvavo.md does not document option {name}"
        assert f"`{name}`" in readme, f"the README does not name option {name}"
