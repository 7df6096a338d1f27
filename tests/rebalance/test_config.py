"""The ``rebalance`` configuration section: off unless a script is listed, paths and exchanges checked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from marketmaestro.config import Config, ConfigError, load_config
from tests.conftest import REPO


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "settings.yaml"
    path.write_text(textwrap.dedent(text))
    return load_config(path, environ={})


def test_no_script_runs_unless_configured(tmp_path: Path) -> None:
    config = load_config(REPO / "settings.yaml", environ={})  # what `make run` uses
    assert config.rebalance.scripts == []
    assert config.rebalance.directory == REPO / "rebalance"


def test_a_listed_script_resolves_against_the_settings_folder(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        rebalance:
          directory: scripts
          scripts: [{script: equal_weight, exchange: paper, config: {min_trade: 25}}]
        exchanges: {paper: {}}
        """,
    )
    [entry] = config.rebalance.scripts
    assert config.rebalance.file(entry) == tmp_path / "scripts" / "equal_weight.star"
    assert entry.config == {"min_trade": 25} and entry.enabled and entry.callback_timeout == 2.0


def test_a_script_for_an_unknown_exchange_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            "rebalance: {scripts: [{script: equal_weight, exchange: bybit}]}\nexchanges: {paper: {}}\n",
        )
    [problem] = caught.value.problems
    assert problem.key == "rebalance.scripts[0].exchange"
    assert "bybit" in str(problem) and "paper" in str(problem)
