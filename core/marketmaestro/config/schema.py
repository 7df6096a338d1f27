"""The shape of MarketMaestro's configuration, as pydantic models.

Every model forbids unknown keys, so a misspelt key (``api: {prot: 9000}``) is reported instead of
silently ignored. Checks that need more than the value itself (does a strategy file exist? is an
exchange plugin registered?) live in :mod:`marketmaestro.config.checks`, and
:mod:`marketmaestro.config.errors` turns every error into a
:class:`~marketmaestro.config.errors.ConfigProblem`.

Validators here raise :class:`pydantic_core.PydanticCustomError` of type :data:`PROBLEM_TYPE`
whose context carries the text of what was expected and, when the problem is deeper than the
field the validator runs on, the rest of the key (``subkey``) and the offending value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from marketmaestro.model import INTERVAL_SECONDS

PROBLEM_TYPE = "config_problem"
"""Error type of the validators below; its context has ``expected`` and optionally ``subkey``/``value``."""

_SYMBOL = re.compile(r"[A-Z0-9]+")


def problem(expected: str, *, subkey: str = "", value: Any = None) -> PydanticCustomError:
    """A validation error that the loader reports as ``<key>[.subkey]: got <value>; expected <expected>``.

    ``value`` is only used with ``subkey``; otherwise the field's own input is reported.
    """
    return PydanticCustomError(
        PROBLEM_TYPE, "expected {expected}", {"expected": expected, "subkey": subkey, "value": value}
    )


def _number_as_text(value: Any) -> Any:
    # Environment values are parsed like TOML, so MM_..._API_KEY=123456 arrives as an int. Floats
    # are not turned back into text: "1.50" came in as 1.5 and its original spelling is lost.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Secret = Annotated[SecretStr, BeforeValidator(_number_as_text)]
"""A secret string; an integer is accepted as its digits."""


class _Section(BaseModel):
    """Base of every configuration model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(_Section):
    """``database``: where MarketMaestro stores orders, fills, balances and positions."""

    path: Path = Path("marketmaestro.db")
    """The SQLite file; relative paths are relative to the settings file's folder."""


class DataConfig(_Section):
    """``data``: where downloaded market data is kept (``mm data download``, ``mm data list``)."""

    dir: Path = Path("data")
    """The folder of the kline files; relative paths are relative to the settings file's folder."""


class ApiConfig(_Section):
    """``api``: the REST API and web UI server."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    token: Secret | None = None
    """The bearer token clients must send; ``None`` means: read or create ``token_file``."""
    token_file: Path = Path(".mm/api_token")


class LoggingConfig(_Section):
    """``logging``: the log file (JSON lines) and the console output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    file: Path = Path("logs/marketmaestro.log")
    console: bool = True


class PluginsConfig(_Section):
    """``plugins``: which installed plugins to leave out."""

    blocked: list[str] = Field(default_factory=list)
    """Names of plugins that are not loaded even though they are installed."""


class SupervisionConfig(_Section):
    """``supervision``: how services are restarted after a crash and how long shutdown may take."""

    max_restarts: int = Field(5, ge=0)
    """Restarts allowed within ``restart_window``; one more escalates to the service's parent."""
    restart_window: float = Field(60.0, gt=0)
    """Seconds over which restarts are counted."""
    backoff_initial: float = Field(0.5, gt=0)
    """Seconds before the first restart; doubled after every further crash up to ``backoff_max``."""
    backoff_max: float = Field(30.0, gt=0)
    request_timeout: float = Field(5.0, gt=0)
    """Seconds one service waits for another's answer before giving up."""
    shutdown_timeout: float = Field(10.0, gt=0)
    """Seconds a graceful shutdown may take."""

    @model_validator(mode="after")
    def _backoff_max_not_below_initial(self) -> SupervisionConfig:
        if self.backoff_max < self.backoff_initial:
            raise problem(
                f"a number >= backoff_initial ({self.backoff_initial})",
                subkey="backoff_max",
                value=self.backoff_max,
            )
        return self


RiskSections = dict[str, dict[str, Any]]
"""Risk rule name -> its parameters. Set globally (``risk``), per exchange, per pair and per strategy; the
narrower section wins key by key (see docs/risk.md)."""


class PortfolioConfig(_Section):
    """``portfolio``: how accounts and strategies are valued and how often their equity is recorded."""

    valuation_currency: str = Field("USDT", min_length=1)
    """The currency equity, P&L totals and risk limits are expressed in."""
    snapshot_interval: float = Field(60.0, gt=0)
    """Seconds between stored equity snapshots (per account and per strategy)."""

    @field_validator("valuation_currency")
    @classmethod
    def _upper_case_currency(cls, value: str) -> str:
        upper = value.upper()
        if not _SYMBOL.fullmatch(upper):
            raise problem("a currency code of letters and digits only, e.g. USDT")
        return upper


class ReconcileConfig(_Section):
    """``reconcile``: comparing the stored orders, fills, balances and positions with the exchange's
    (docs/orders.md, "Restart and reconciliation")."""

    interval: float = Field(300.0, gt=0)
    """Seconds between reconciliations after the one at start-up."""
    halt_on_unexplained: bool = True
    """Halt every order on the exchange when a difference cannot be explained, until acknowledged."""
    foreign_orders: Literal["report", "cancel"] = "report"
    """Open orders on the account that MarketMaestro did not place: only reported, or cancelled."""
    lookback: float = Field(60.0, ge=0)
    """Seconds before the last reconciliation (or the oldest open order) whose fills are fetched again."""
    timeout: float = Field(120.0, gt=0)
    """Seconds one reconciliation may take before it counts as failed."""


class StrategyConfig(_Section):
    """One strategy running on one pair."""

    name: str = Field(min_length=1)
    """Unique among the pair's strategies; orders and logs are attributed to it."""
    file: Path
    """The Starlark source; relative paths are relative to the settings file's folder."""
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)
    """Handed to the strategy as its ``config``; keys keep their case."""
    memory_mb: int = Field(512, ge=64)
    """MiB of memory the strategy's worker process may use on top of its own start-up footprint."""
    callback_timeout: float = Field(2.0, gt=0)
    """Seconds one callback (or loading the file) may run before its worker is killed."""
    max_consecutive_errors: int = Field(10, ge=1)
    """Runtime errors in a row after which the strategy is paused until its file changes."""
    risk: RiskSections = Field(default_factory=dict)
    """Risk rule parameters for this strategy's orders on this pair (the narrowest section)."""

    @field_validator("config")
    @classmethod
    def _known_interval(cls, value: dict[str, Any]) -> dict[str, Any]:
        interval = value.get("interval")
        if "interval" in value and not (isinstance(interval, str) and interval in INTERVAL_SECONDS):
            raise problem(f"one of {', '.join(INTERVAL_SECONDS)}", subkey="interval", value=interval)
        return value


class PairConfig(_Section):
    """A trading pair of an exchange and the strategies that trade it."""

    symbol: str
    """Upper-case letters and digits (``BTCUSDT``); lower-case input is upper-cased."""
    strategies: list[StrategyConfig] = Field(default_factory=list)
    risk: RiskSections = Field(default_factory=dict)
    """Risk rule parameters for orders on this pair; a strategy's own ``risk`` overrides them."""

    @field_validator("symbol")
    @classmethod
    def _upper_case_symbol(cls, value: str) -> str:
        upper = value.upper()
        if not _SYMBOL.fullmatch(upper):
            raise problem("a symbol of letters and digits only, e.g. BTCUSDT")
        return upper

    @model_validator(mode="after")
    def _unique_strategy_names(self) -> PairConfig:
        seen: set[str] = set()
        for index, strategy in enumerate(self.strategies):
            if strategy.name in seen:
                raise problem(
                    f"a name not already used by another strategy of {self.symbol}",
                    subkey=f"strategies[{index}].name",
                    value=strategy.name,
                )
            seen.add(strategy.name)
        return self


class RebalanceScriptConfig(_Section):
    """One rebalance script running on one exchange's account (see docs/rebalancing.md)."""

    script: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    """The file's name in ``rebalance.directory`` without ``.star``: ``equal_weight``."""
    exchange: str
    """The key under ``exchanges`` of the account it rebalances."""
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)
    """Overrides of what the script's ``settings()`` returns; runtime changes (the API) override these."""
    memory_mb: int = Field(256, ge=64)
    """MiB of memory the script's worker process may use on top of its own start-up footprint."""
    callback_timeout: float = Field(2.0, gt=0)
    """Seconds loading the file or one ``on_rebalance()`` may run before its worker is killed."""


class RebalanceConfig(_Section):
    """``rebalance``: portfolio rebalancing scripts. None runs unless listed in ``scripts``."""

    directory: Path = Path("rebalance")
    """Where the scripts are; relative paths are relative to the settings file's folder."""
    scripts: list[RebalanceScriptConfig] = Field(default_factory=list)

    def file(self, entry: RebalanceScriptConfig) -> Path:
        return self.directory / f"{entry.script}.star"


class ExchangeConfig(_Section):
    """``exchanges.<key>``: one configured exchange account.

    The key is free (``paper``, ``bybit_main``); ``plugin`` says which registered exchange
    implements it and defaults to the key itself. :class:`Config` tells each exchange its key.
    """

    enabled: bool = True
    plugin: str | None = None
    mode: Literal["paper", "testnet", "live"] | None = None
    """None: the exchange plugin's default (its safest environment: paper, or testnet for Bybit)."""
    api_key: Secret | None = None
    api_secret: Secret | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    """Validated at load time by the exchange plugin's options model, when it has one."""
    risk: RiskSections = Field(default_factory=dict)
    """Per-exchange overrides of the top-level ``risk`` rules' parameters."""
    pairs: list[PairConfig] = Field(default_factory=list)

    _key: str = PrivateAttr(default="")

    @property
    def key(self) -> str:
        """The key under ``exchanges`` this configuration was given for ("" when built on its own)."""
        return self._key

    @property
    def plugin_name(self) -> str:
        """The registered exchange plugin that implements this exchange: ``plugin``, else the key."""
        return self.plugin or self._key

    @model_validator(mode="after")
    def _unique_symbols(self) -> ExchangeConfig:
        seen: set[str] = set()
        for index, pair in enumerate(self.pairs):
            if pair.symbol in seen:
                raise problem(
                    "a symbol not already listed for this exchange (put all its strategies in one entry)",
                    subkey=f"pairs[{index}].symbol",
                    value=pair.symbol,
                )
            seen.add(pair.symbol)
        return self


class Config(_Section):
    """The whole configuration, as :func:`~marketmaestro.config.load_config` returns it.

    After validation every relative path (``database.path``, ``api.token_file``, ``logging.file``,
    ``data.dir`` and every strategy's ``file``) is resolved against ``config_dir``, so the rest of the program
    only sees absolute paths.
    """

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    supervision: SupervisionConfig = Field(default_factory=SupervisionConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    risk: RiskSections = Field(default_factory=dict)
    """Risk rule name -> its parameters, for every exchange (see ``exchanges.<key>.risk``)."""
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    rebalance: RebalanceConfig = Field(default_factory=RebalanceConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    exchanges: dict[str, ExchangeConfig] = Field(default_factory=dict)
    config_dir: Path = Field(default_factory=Path.cwd)
    """The folder of the settings file; set by the loader, not by users."""

    _exchange_options: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    def exchange_options(self, key: str) -> BaseModel | None:
        """The validated options of exchange ``key``, or ``None`` when its plugin has no options model
        (the raw ``options`` dict is then all there is) or the configuration was not loaded with the
        registered exchanges."""
        return self._exchange_options.get(key)

    def set_exchange_options(self, key: str, options: BaseModel) -> None:
        """Record the validated options of exchange ``key``; called by the loader."""
        if key not in self.exchanges:
            known = ", ".join(self.exchanges) or "(none)"
            raise KeyError(f"exchange key: got {key!r}; expected one of {known}")
        self._exchange_options[key] = options

    @model_validator(mode="after")
    def _bind_keys_and_resolve_paths(self) -> Config:
        base = Path(os.path.normpath(self.config_dir.expanduser().absolute()))
        self.config_dir = base
        self.database.path = resolve_path(base, self.database.path)
        self.api.token_file = resolve_path(base, self.api.token_file)
        self.logging.file = resolve_path(base, self.logging.file)
        self.data.dir = resolve_path(base, self.data.dir)
        for key, exchange in self.exchanges.items():
            exchange._key = key
            for pair in exchange.pairs:
                for strategy in pair.strategies:
                    strategy.file = resolve_path(base, strategy.file)
        self.rebalance.directory = resolve_path(base, self.rebalance.directory)
        for index, entry in enumerate(self.rebalance.scripts):
            if entry.exchange not in self.exchanges:
                raise problem(
                    f"one of the configured exchanges ({', '.join(self.exchanges) or 'none'})",
                    subkey=f"rebalance.scripts[{index}].exchange",
                    value=entry.exchange,
                )
        return self


def resolve_path(base: Path, path: Path) -> Path:
    """``path`` made absolute against ``base``, with ``~`` expanded and ``..`` collapsed."""
    path = path.expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(base / path))
