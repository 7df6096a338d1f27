"""Loading and validating the configuration from real files in a temporary folder."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from marketmaestro.cli.config_cmd import config as config_group
from marketmaestro.config import (
    DEFAULTS_FILE,
    ApiConfig,
    Config,
    ConfigError,
    ConfigProblem,
    DatabaseConfig,
    ExchangeConfig,
    LoggingConfig,
    PluginsConfig,
    SupervisionConfig,
    load_config,
    masked_dict,
    secret_values,
)


class DemoOptions(BaseModel):
    """Stands in for an exchange plugin's options model."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 1
    speed: float = Field(1.0, gt=0)
    password: SecretStr | None = None


REGISTERED: dict[str, type[BaseModel] | None] = {"demo": DemoOptions, "plain": None}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, settings: str, **kwargs: Any) -> Config:
    """Write ``settings.yaml`` in ``tmp_path`` and load it with an empty environment by default."""
    kwargs.setdefault("environ", {})
    return load_config(write(tmp_path / "settings.yaml", settings), **kwargs)


def problems(tmp_path: Path, settings: str, **kwargs: Any) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, settings, **kwargs)
    return caught.value.problems


# -- sources and precedence ------------------------------------------------------------------------


def test_defaults_when_there_is_no_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.config_dir == tmp_path
    assert config.database.path == tmp_path / "marketmaestro.db"
    assert config.api.port == 8080 and config.api.host == "127.0.0.1" and config.api.token is None
    assert config.api.token_file == tmp_path / ".mm" / "api_token"
    assert config.logging.level == "info" and config.logging.file == tmp_path / "logs" / "marketmaestro.log"
    assert config.supervision.max_restarts == 5 and config.supervision.backoff_max == 30
    assert config.exchanges == {} and config.risk == {} and config.plugins.blocked == []


def test_defaults_file_lists_every_key_with_the_schema_default(tmp_path: Path) -> None:
    defaults = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    sections: dict[str, type[BaseModel]] = {
        "database": DatabaseConfig,
        "api": ApiConfig,
        "logging": LoggingConfig,
        "plugins": PluginsConfig,
        "supervision": SupervisionConfig,
    }
    for name, model in sections.items():
        assert set(defaults[name]) == set(model.model_fields), name
    assert set(defaults) == set(Config.model_fields) - {"config_dir"}
    from_file = Config.model_validate({**defaults, "config_dir": tmp_path})
    assert from_file.model_dump() == Config(config_dir=tmp_path).model_dump()


def test_values_from_the_settings_file(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        api: {port: 9000, enabled: false}
        logging: {level: debug}
        plugins: {blocked: [noisy]}
        risk: {max_position_size: {default: 0.05}}
        """,
    )
    assert config.api.port == 9000 and config.api.enabled is False
    assert config.api.host == "127.0.0.1"  # untouched keys keep their default
    assert config.logging.level == "debug"
    assert config.plugins.blocked == ["noisy"]
    assert config.risk == {"max_position_size": {"default": 0.05}}


def test_mm_config_names_the_settings_file(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere" / "prod.yaml", "api: {port: 7001}\n")
    config = load_config(environ={"MM_CONFIG": str(path)})
    assert config.api.port == 7001
    assert config.config_dir == tmp_path / "elsewhere"


@pytest.mark.parametrize("how", ["argument", "MM_CONFIG"])
def test_a_missing_named_settings_file_is_an_error(tmp_path: Path, how: str) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        if how == "argument":
            load_config(missing, environ={})
        else:
            load_config(environ={"MM_CONFIG": str(missing)})
    key = "settings file" if how == "argument" else "MM_CONFIG"
    assert str(caught.value) == f"{key}: got {str(missing)!r}; expected an existing settings file"


def test_secrets_file_is_merged_into_the_settings(tmp_path: Path) -> None:
    write(
        tmp_path / ".secrets.yaml",
        "exchanges: {plain: {api_key: key-from-secrets}}\napi: {token: tok-1234}\n",
    )
    config = load(tmp_path, "exchanges: {plain: {mode: testnet}}\napi: {port: 9001}\n")
    plain = config.exchanges["plain"]
    assert plain.mode == "testnet"
    assert plain.api_key is not None and plain.api_key.get_secret_value() == "key-from-secrets"
    assert config.api.port == 9001
    assert config.api.token is not None and config.api.token.get_secret_value() == "tok-1234"


def test_env_beats_dotenv_which_beats_the_files(tmp_path: Path) -> None:
    write(tmp_path / ".secrets.yaml", "api: {host: 10.0.0.1}\n")
    write(tmp_path / ".env", "MM_API__PORT=2000\nMM_LOGGING__LEVEL=debug\nMM_API__HOST=10.0.0.2\n")
    settings = "api: {port: 1000, host: 10.0.0.0}\nlogging: {level: error, console: false}\n"
    config = load(tmp_path, settings, environ={"MM_API__PORT": "3000"})
    assert config.api.port == 3000  # environment over .env
    assert config.logging.level == "debug"  # .env over the settings file
    assert config.api.host == "10.0.0.2"  # .env over .secrets.yaml
    assert config.logging.console is False  # the file over the defaults


def test_nested_environment_keys_are_parsed(tmp_path: Path) -> None:
    environ = {
        "MM_SUPERVISION__MAX_RESTARTS": "3",
        "MM_API__ENABLED": "false",
        "MM_EXCHANGES__PLAIN__API_KEY": "123456",
        "MM_EXCHANGES__PLAIN__MODE": "testnet",
        "MM_EXCHANGES__PLAIN__OPTIONS": '@json {"Depth": 5}',
        "MM_RISK__MAX_ORDERS": "{per_minute = 10}",
        "OTHER_VARIABLE": "ignored",
    }
    config = load(tmp_path, "exchanges: {plain: {options: {Keep: 1}}}\n", environ=environ)
    assert config.supervision.max_restarts == 3
    assert config.api.enabled is False
    plain = config.exchanges["plain"]
    assert plain.mode == "testnet"
    assert plain.api_key is not None and plain.api_key.get_secret_value() == "123456"
    assert plain.options == {"Keep": 1, "Depth": 5}  # mappings merge; keys inside keep their case
    assert config.risk == {"max_orders": {"per_minute": 10}}


def test_os_environ_is_ignored_when_environ_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_API__PORT", "1234")
    # dynaconf's own variables would make it read another file, whose unknown key would be an error
    other = str(write(tmp_path / "other.yaml", "surprise: 1\n"))
    for name in ("SETTINGS_FILE_FOR_DYNACONF", "INCLUDES_FOR_DYNACONF", "PRELOAD_FOR_DYNACONF"):
        monkeypatch.setenv(name, other)
    write(tmp_path / ".env", "MM_LOGGING__LEVEL=debug\n")
    assert load(tmp_path, "").api.port == 8080
    assert load(tmp_path, "", environ=None).api.port == 1234  # the default environ is os.environ
    assert "MM_LOGGING__LEVEL" not in os.environ  # .env is read, not exported


def test_keys_of_the_schema_are_case_insensitive(tmp_path: Path) -> None:
    config = load(tmp_path, "API: {Port: 9100}\nExchanges: {Plain: {Mode: live, Options: {Key_Case: 1}}}\n")
    assert config.api.port == 9100
    assert config.exchanges["plain"].mode == "live"
    assert config.exchanges["plain"].options == {"Key_Case": 1}


def test_relative_paths_are_resolved_against_the_settings_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "conf"
    write(folder / "strategies" / "s.star", "")
    settings = f"""
        database: {{path: data/bot.db}}
        logging: {{file: {tmp_path / "abs.log"}}}
        exchanges:
          plain:
            pairs: [{{symbol: btcusdt, strategies: [{{name: s, file: strategies/../strategies/s.star}}]}}]
        """
    config = load_config(write(folder / "settings.yaml", settings), environ={})
    assert config.config_dir == folder
    assert config.database.path == folder / "data" / "bot.db"
    assert config.logging.file == tmp_path / "abs.log"
    assert config.api.token_file == folder / ".mm" / "api_token"
    pair = config.exchanges["plain"].pairs[0]
    assert pair.symbol == "BTCUSDT"
    assert pair.strategies[0].file == folder / "strategies" / "s.star"


# -- problems ----------------------------------------------------------------------------------------

INTERVALS = "1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d, 1w"
API_KEYS = "enabled, host, port, token, token_file"


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ("api: {port: abc}", "api.port: got 'abc'; expected an integer"),
        ("api: {port: 70000}", "api.port: got 70000; expected a number <= 65535"),
        ("supervision: {restart_window: 0}", "supervision.restart_window: got 0; expected a number > 0"),
        (
            "api: {prot: 9000}",
            f"api.prot: got 9000; expected one of the known keys: {API_KEYS} (did you mean 'port'?)",
        ),
        (
            "logging: {level: loud}",
            "logging.level: got 'loud'; expected one of 'debug', 'info', 'warning' or 'error'",
        ),
        ("api: {enabled: maybe}", "api.enabled: got 'maybe'; expected true or false"),
        ("exchanges: {plain: [1]}", "exchanges.plain: got [1]; expected a mapping of keys to values"),
        (
            "supervision: {backoff_initial: 5, backoff_max: 1}",
            "supervision.backoff_max: got 1.0; expected a number >= backoff_initial (5.0)",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTC/USDT}]}}",
            "exchanges.plain.pairs[0].symbol: got 'BTC/USDT'; expected a symbol of letters and digits only, "
            "e.g. BTCUSDT",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTCUSDT}, {symbol: btcusdt}]}}",
            "exchanges.plain.pairs[1].symbol: got 'BTCUSDT'; expected a symbol not already listed for this "
            "exchange (put all its strategies in one entry)",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTCUSDT, strategies: [{name: a}]}]}}",
            "exchanges.plain.pairs[0].strategies[0].file: got nothing; "
            "expected a value (this key is required)",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTCUSDT, strategies: [{name: '', file: s.star}]}]}}",
            "exchanges.plain.pairs[0].strategies[0].name: got ''; expected a non-empty string",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTCUSDT, strategies: "
            "[{name: a, file: s.star}, {name: a, file: s.star}]}]}}",
            "exchanges.plain.pairs[0].strategies[1].name: got 'a'; "
            "expected a name not already used by another strategy of BTCUSDT",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTCUSDT, strategies: "
            "[{name: a, file: s.star, config: {interval: 7m}}]}]}}",
            f"exchanges.plain.pairs[0].strategies[0].config.interval: got '7m'; expected one of {INTERVALS}",
        ),
        (
            "exchanges: {plain: {pairs: [{symbol: BTCUSDT, strategies: "
            "[{name: a, file: s.star, config: {interval: [1m]}}]}]}}",
            "exchanges.plain.pairs[0].strategies[0].config.interval: got ['1m']; "
            f"expected one of {INTERVALS}",
        ),
        (
            "config_dir: /etc",
            "config_dir: got '/etc'; expected nothing: it is always the settings file's folder",
        ),
    ],
)
def test_each_problem_is_one_line_naming_key_value_and_expectation(
    tmp_path: Path, settings: str, line: str
) -> None:
    write(tmp_path / "s.star", "")
    found = problems(tmp_path, settings + "\n")
    assert [str(problem) for problem in found] == [line]


def test_a_settings_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "- api\n- port\n")
    assert problem == ConfigProblem(str(tmp_path / "settings.yaml"), ["api", "port"], problem.expected)
    assert problem.expected == "a mapping of settings (key: value lines)"


def test_a_settings_file_that_is_not_yaml(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "api: {port: [\n")
    assert problem.key == str(tmp_path / "settings.yaml")
    assert "line 2" in problem.value
    assert problem.expected == "a readable YAML file"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path / "ok.star", "")
    settings = """
        api: {port: -1}
        logging: {level: loud}
        exchanges:
          demo:
            options: {seed: x}
            pairs: [{symbol: BTCUSDT, strategies: [{name: a, file: gone.star}]}]
          broken:
            plugin: demo
            options: {speed: -1}
            pairs:
              - {symbol: BTC-USDT, strategies: [{name: b, file: ok.star}, {name: c, file: gone.star}]}
          mystery: {}
        """
    found = problems(tmp_path, settings, exchange_options=REGISTERED)
    assert [problem.key for problem in found] == [
        "api.port",
        "logging.level",
        "exchanges.broken.pairs[0].symbol",
        # plugins, options and files are checked even where the schema found problems:
        "exchanges.demo.options.seed",
        "exchanges.demo.pairs[0].strategies[0].file",
        "exchanges.broken.options.speed",
        "exchanges.broken.pairs[0].strategies[1].file",
        "exchanges.mystery",
    ]


def test_an_unknown_exchange_lists_the_registered_ones(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "exchanges: {bybit: {}, main: {plugin: binance}}\n", exchange_options=REGISTERED
    )
    assert [str(problem) for problem in found] == [
        "exchanges.bybit: got 'bybit'; expected the name of a registered exchange plugin: demo, plain",
        "exchanges.main.plugin: got 'binance'; "
        "expected the name of a registered exchange plugin: demo, plain",
    ]


def test_disabled_exchanges_and_strategies_are_not_checked_against_plugins_or_files(tmp_path: Path) -> None:
    settings = """
        exchanges:
          bybit: {enabled: false, options: {anything: 1}}
          plain:
            pairs: [{symbol: BTCUSDT, strategies: [{name: a, file: later.star, enabled: false}]}]
        """
    config = load(tmp_path, settings, exchange_options=REGISTERED)
    assert config.exchanges["bybit"].plugin_name == "bybit"
    assert config.exchange_options("bybit") is None


def test_a_missing_strategy_file(tmp_path: Path) -> None:
    settings = (
        "exchanges: {plain: {pairs: [{symbol: ETHUSDT, strategies: [{name: a, file: strategies/a.star}]}]}}"
    )
    [problem] = problems(tmp_path, settings)
    assert str(problem) == (
        f"exchanges.plain.pairs[0].strategies[0].file: got {str(tmp_path / 'strategies' / 'a.star')!r}; "
        "expected an existing file"
    )


def test_exchange_options_are_validated_by_the_plugin_model(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "exchanges: {demo: {options: {seed: x, speed: 0, colour: red, pasword: hunter22}}}\n",
        exchange_options=REGISTERED,
    )
    assert [str(problem) for problem in found] == [
        "exchanges.demo.options.seed: got 'x'; expected an integer",
        "exchanges.demo.options.speed: got 0; expected a number > 0",
        "exchanges.demo.options.colour: got 'red'; expected one of the known keys: seed, speed, password",
        # a misspelt secret key still holds a secret
        "exchanges.demo.options.pasword: got '***'; expected one of the known keys: seed, speed, password "
        "(did you mean 'password'?)",
    ]


def test_validated_exchange_options_are_kept(tmp_path: Path) -> None:
    settings = (
        "exchanges: {main: {plugin: demo, options: {seed: 7}}, other: {plugin: plain, options: {x: 1}}}"
    )
    config = load(tmp_path, settings, exchange_options=REGISTERED)
    assert config.exchanges["main"].plugin_name == "demo" and config.exchanges["main"].key == "main"
    assert config.exchange_options("main") == DemoOptions(seed=7)
    assert config.exchange_options("other") is None  # its plugin has no options model
    assert config.exchanges["other"].options == {"x": 1}


def test_a_problem_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "", environ={"MM_API__PORT": "abc"})
    assert (
        str(problem) == "api.port: got 'abc'; expected an integer (set by environment variable MM_API__PORT)"
    )


# -- secrets -----------------------------------------------------------------------------------------

SECRET_SETTINGS = """
    api: {token: api-token-1}
    exchanges:
      demo:
        api_key: exchange-key-1
        api_secret: exchange-secret-1
        options: {password: option-password-1}
        pairs:
          - symbol: BTCUSDT
            strategies: [{name: a, file: a.star, config: {webhook_token: hook-token-1}}]
      plain:
        options: {nested: {X-Api-Key: header-key-1}}
        risk: {notify: {smtp_password: smtp-password-1}}
    """
SECRETS = {
    "api-token-1",
    "exchange-key-1",
    "exchange-secret-1",
    "option-password-1",
    "hook-token-1",
    "header-key-1",
    "smtp-password-1",
}


def test_secret_values_finds_every_secret(tmp_path: Path) -> None:
    write(tmp_path / "a.star", "")
    config = load(tmp_path, SECRET_SETTINGS, exchange_options=REGISTERED)
    assert secret_values(config) == SECRETS


def test_masked_dict_hides_every_secret(tmp_path: Path) -> None:
    write(tmp_path / "a.star", "")
    config = load(tmp_path, SECRET_SETTINGS, exchange_options=REGISTERED)
    data = masked_dict(config)
    text = json.dumps(data)  # also proves the data is JSON-able
    assert not [secret for secret in SECRETS if secret in text]
    assert data["api"]["token"] == "***" and data["api"]["token_file"] == str(tmp_path / ".mm" / "api_token")
    demo = data["exchanges"]["demo"]
    assert demo["api_key"] == demo["api_secret"] == "***"
    assert demo["options"] == {"seed": 1, "speed": 1.0, "password": "***"}  # as the plugin model sees it
    assert demo["pairs"][0]["strategies"][0]["config"] == {"webhook_token": "***"}
    assert data["exchanges"]["plain"]["options"] == {"nested": {"X-Api-Key": "***"}}
    assert data["exchanges"]["plain"]["api_key"] is None  # unset secrets stay visible as unset


def test_config_error_masks_secrets(tmp_path: Path) -> None:
    settings = """
        api: {token: [api-token-2]}
        exchanges: {plain: {apikey: misspelt-key-2, api_secret: {nested: exchange-secret-2}}}
        """
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, settings)
    text = str(caught.value)
    assert len(caught.value.problems) == 3
    assert "api-token-2" not in text and "misspelt-key-2" not in text and "exchange-secret-2" not in text
    assert "api.token: got '***'; expected a string" in text.splitlines()


# -- mm config show ----------------------------------------------------------------------------------


class _State:
    """The part of the CLI state that ``mm config`` uses."""

    def __init__(self, settings_file: Path) -> None:
        self.settings_file = settings_file

    def config(self) -> Config:
        return load_config(self.settings_file, environ={})


def test_config_show_prints_masked_yaml_and_json(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.yaml", "api: {port: 9002}\nexchanges: {plain: {api_key: show-key-1}}\n")
    runner = CliRunner()
    as_yaml = runner.invoke(config_group, ["show"], obj=_State(path))
    as_json = runner.invoke(config_group, ["show", "--json"], obj=_State(path))
    assert as_yaml.exit_code == 0 and as_json.exit_code == 0, as_yaml.output + as_json.output
    assert "show-key-1" not in as_yaml.output + as_json.output
    assert yaml.safe_load(as_yaml.output) == json.loads(as_json.output)
    shown = json.loads(as_json.output)
    assert shown["api"]["port"] == 9002 and shown["exchanges"]["plain"]["api_key"] == "***"


def test_exchange_config_knows_its_key_only_inside_config() -> None:
    exchange = ExchangeConfig()
    assert exchange.key == "" and exchange.plugin_name == ""
    config = Config(exchanges={"kraken": exchange})
    assert config.exchanges["kraken"].plugin_name == "kraken"


# -- the documentation -------------------------------------------------------------------------------

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def _doc_blocks(heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of the section of docs/configuration.md titled ``heading``."""
    section = DOCS.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in section.split(f"```{language}\n")[1:]]


def test_the_documented_complete_example_is_valid(tmp_path: Path) -> None:
    from marketmaestro.exchanges.paper.options import PaperOptions

    [example] = _doc_blocks("A complete example", "yaml")
    write(tmp_path / "strategies" / "simple_sma.star", "")
    config = load(tmp_path, example, exchange_options={"paper": PaperOptions})
    assert config.exchanges["paper"].pairs[0].strategies[0].config["interval"] == "1m"
    assert isinstance(config.exchange_options("paper"), PaperOptions)


def test_the_documented_problems_are_what_mm_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from marketmaestro.cli.main import main

    for name in list(os.environ):
        if name.startswith("MM_"):
            monkeypatch.delenv(name)
    [settings] = _doc_blocks("When the configuration is wrong", "yaml")
    [printed] = _doc_blocks("When the configuration is wrong", "text")
    write(tmp_path / "strategies" / "simple_sma.star", "")
    path = write(tmp_path / "settings.yaml", settings)
    result = CliRunner(env={"MM_SUPERVISION__MAX_RESTARTS": "-1", "MM_LOAD_PLUGINS": "indicators"}).invoke(
        main, ["--config", str(path), "config", "show"]
    )
    assert result.exit_code == 2
    assert result.output.replace(str(tmp_path), "/home/me/bot").splitlines() == printed.splitlines()
    assert "do-not-print-me" not in result.output
