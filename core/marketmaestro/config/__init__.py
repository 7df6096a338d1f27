"""MarketMaestro's configuration: layered loading (dynaconf) and validation (pydantic).

::

    from marketmaestro.config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as error:
        print(error)  # one line per problem: "<key>: got <value>; expected <what>"

See ``docs/configuration.md`` for the layers, every key and its default.
"""

from marketmaestro.config.errors import ConfigError, ConfigProblem
from marketmaestro.config.loader import CONFIG_ENV_VAR, DEFAULTS_FILE, ENV_PREFIX, load_config
from marketmaestro.config.masking import masked_dict, secret_values
from marketmaestro.config.schema import (
    ApiConfig,
    Config,
    DatabaseConfig,
    DataConfig,
    ExchangeConfig,
    LoggingConfig,
    PairConfig,
    PluginsConfig,
    RebalanceConfig,
    RebalanceScriptConfig,
    StrategyConfig,
    SupervisionConfig,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULTS_FILE",
    "ENV_PREFIX",
    "ApiConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DataConfig",
    "DatabaseConfig",
    "ExchangeConfig",
    "LoggingConfig",
    "PairConfig",
    "PluginsConfig",
    "RebalanceConfig",
    "RebalanceScriptConfig",
    "StrategyConfig",
    "SupervisionConfig",
    "load_config",
    "masked_dict",
    "secret_values",
]
