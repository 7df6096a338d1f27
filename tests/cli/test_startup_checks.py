"""Start-up checks that need the plugins: risk rules must exist and their settings must be valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmaestro.cli.context import CONFIG_ERROR_EXIT, CliState
from tests.conftest import paper_settings


def _state(
    tmp_path: Path, risk: dict[str, object], exchange_risk: dict[str, object] | None = None
) -> CliState:
    settings = paper_settings(tmp_path, extra={"risk": risk})
    if exchange_risk is not None:
        import yaml

        data = yaml.safe_load(settings.read_text())
        data["exchanges"]["paper"]["risk"] = exchange_risk
        settings.write_text(yaml.safe_dump(data))
    return CliState(settings, environ={"MM_LOAD_PLUGINS": "indicators"})


def test_valid_risk_settings_pass(tmp_path: Path) -> None:
    config = _state(tmp_path, {"max_position_size": {"default": 0.5, "ethusdt": 2}}).config()
    assert config.risk["max_position_size"]["default"] == 0.5


def test_unknown_rules_and_bad_limits_stop_the_start_with_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state(
        tmp_path,
        {"max_levrage": {"default": 2}, "max_position_size": {"default": "abc"}},
        exchange_risk={"max_position_size": {"BTCUSDT": -1}},
    )
    with pytest.raises(SystemExit) as stopped:
        state.config()
    assert stopped.value.code == CONFIG_ERROR_EXIT
    err = capsys.readouterr().err
    assert "Configuration problems (3):" in err
    assert (
        "risk.max_levrage: got {'default': 2}; expected a registered risk rule: "
        "max_concentration, max_daily_loss" in err
    )
    assert "risk.max_position_size.default: got 'abc'; expected a positive number" in err
    assert "exchanges.paper.risk.max_position_size.BTCUSDT: got -1; expected a positive number" in err


def _with_mode(tmp_path: Path, mode: str | None) -> CliState:
    import yaml

    settings = paper_settings(tmp_path)
    data = yaml.safe_load(settings.read_text())
    data["exchanges"]["paper"].pop("mode", None)
    if mode is not None:
        data["exchanges"]["paper"]["mode"] = mode
    settings.write_text(yaml.safe_dump(data))
    return CliState(settings, environ={"MM_LOAD_PLUGINS": "indicators"})


def test_an_exchange_without_a_mode_runs_in_its_plugins_default(tmp_path: Path) -> None:
    from marketmaestro.exchanges.modes import effective_mode

    state = _with_mode(tmp_path, None)
    config = state.config()
    assert config.exchanges["paper"].mode is None
    entry = state.plugins().registry.exchanges["paper"]
    assert entry.modes == ("paper",)
    assert effective_mode(config.exchanges["paper"], entry) == "paper"


def test_a_mode_the_plugin_does_not_offer_stops_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _with_mode(tmp_path, "live").config()
    assert stopped.value.code == CONFIG_ERROR_EXIT
    err = capsys.readouterr().err
    assert (
        "exchanges.paper.mode: got 'live'; expected one of paper (the modes exchange plugin 'paper' offers)"
        in err
    )
