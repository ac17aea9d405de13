"""Settings from the config file, and where tokentree keeps its own files (platformdirs).

Settings are plain dataclasses, checked by their type hints (validation.py) rather than
by pydantic, which would cost the status line 60 ms; the `[advice]` tables are checked only
when advice is asked for (`Settings.advice_settings`), so the status line and `report` do
not load the advice package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from tokentree.core.budgets import Budget
from tokentree.validation import Invalid, validate

if TYPE_CHECKING:  # imported when advice is asked for: the package costs a warm report 10 ms
    from tokentree.core.advice import AdviceSettings
    from tokentree.core.live import Thresholds

APP = "tokentree"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens for a model genai-prices does not know (or prices wrongly)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    web_search_per_1k: float | None = None
    """USD per 1,000 server-side web searches (Anthropic's web search tool)."""


@dataclass(frozen=True)
class Plan:
    """The subscription the usage is paid by, to show what it would have cost at API prices."""

    name: str
    usd_per_month: float


@dataclass(frozen=True)
class AdviceTables:
    """`[advice]` and `[advice.<rule>]` as the config file writes them, checked into
    AdviceSettings only by what gives advice (the view, `report --overview`, export, handoff)."""

    tables: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    """The file they were read from, for the error a bad value gives."""

    def settings(self) -> AdviceSettings:
        """The advice thresholds; raises ConfigError, naming the key, for a bad value."""
        from tokentree.core.advice import AdviceSettings

        try:
            return validate(AdviceSettings, self.tables, ("advice",))
        except Invalid as error:
            raise ConfigError(f"{self.path}: {error}") from error


@dataclass(frozen=True)
class Settings:
    """What `config.toml` in the config dir may set; the command line wins over it."""

    timezone: str | None = None
    """IANA zone for days and weeks, e.g. "Europe/Berlin"; unset means the machine's zone."""
    week_start: Weekday = "monday"
    """The day weeks start on."""
    workers: int | None = None
    """Processes for a big first index; unset means one per core."""
    prices: dict[str, ModelPrice] = field(default_factory=dict)
    """Per-model prices that override or add to genai-prices, keyed by the model name in logs."""
    advice: AdviceTables = field(default_factory=AdviceTables)
    """Thresholds of the advice rules (`[advice]` and `[advice.<rule>]`); unset: the defaults."""
    context_warn: int = 100_000
    """Tokens of context per call from which a live session's dot turns yellow."""
    context_high: int = 160_000
    """Tokens of context per call from which a live session's dot turns red."""
    plan: Plan | None = None
    """`[plan]`: `name` and `usd_per_month`; `report --by month` says each month's usage at API
    prices against it."""
    alert_command: str | None = None
    """A shell command that takes each alert (JSON on stdin) instead of a desktop notification."""
    budget: list[Budget] = field(default_factory=list)
    """`[[budget]]` tables: a limit in `usd` or `tokens` per `period` (day, week, month), for
    all usage or one `project` or `source`."""
    machine: str | None = None
    """The label this machine's call ledger is stamped with (`export --calls`); unset: the
    host name."""
    machines: list[str] = field(default_factory=list)
    """Folders of other machines' call ledgers (e.g. "~/Sync/tokentree"), merged into reports
    and deduplicated by call key."""
    share_ledger: str | None = None
    """A synced folder (e.g. "~/Sync/tokentree") that this machine's call ledger is written
    into, in a folder named after the machine, while the view or `tokentree watch` runs."""
    share_minutes: float = 10.0
    """Minutes between two writes of the shared ledger (only changed months are rewritten)."""

    def advice_settings(self) -> AdviceSettings:
        """The advice thresholds, checked now; raises ConfigError for a bad `[advice]` value."""
        return self.advice.settings()

    def context_thresholds(self) -> Thresholds:
        """The live sessions' colour and alert thresholds (red never before yellow)."""
        from tokentree.core.live import Thresholds

        return Thresholds(self.context_warn, max(self.context_high, self.context_warn))

    def user_prices(self) -> dict[str, dict[str, float]]:
        return {
            model: {k: v for k, v in vars(price).items() if v is not None}
            for model, price in self.prices.items()
        }


class ConfigError(Exception):
    """The config file exists but cannot be used; the message says why."""


def config_path() -> Path:
    return platformdirs.user_config_path(APP) / "config.toml"


def index_path() -> Path:
    return platformdirs.user_cache_path(APP) / "index.sqlite"


def alerts_path() -> Path:
    """What `tokentree watch` already alerted on, so a restart does not alert again."""
    return platformdirs.user_cache_path(APP) / "alerts.json"


def demo_logs_path() -> Path:
    return platformdirs.user_cache_path(APP) / "demo-logs"


def estimates_path() -> Path:
    """The chat apps' imported counts (`tokentree import`): in the data dir, not the cache,
    since the export they were estimated from may be gone; `TOKENTREE_ESTIMATES_DIR` moves it."""
    from tokentree.core.sources.estimated import counts_folder

    return counts_folder(os.environ)


def state_path() -> Path:
    """What the view remembers across runs (theme, sort, bar, graph): state, not config."""
    return platformdirs.user_state_path(APP) / "view.json"


def load_settings(path: Path | None = None) -> Settings:
    """The settings in `path` (default: the config dir's config.toml), or the defaults."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    advice = raw.pop("advice", {})  # checked when advice is asked for: AdviceTables.settings
    try:
        settings = validate(Settings, raw)
        advice = validate(dict[str, Any], advice, ("advice",))
    except Invalid as error:
        raise ConfigError(f"{path}: {error}") from error
    return replace(settings, advice=AdviceTables(advice, path))


def settings_schema() -> dict:
    """The config file's JSON schema (pydantic's, from the same dataclasses)."""
    from pydantic import TypeAdapter

    from tokentree.core.advice import AdviceSettings

    schema = TypeAdapter(Settings).json_schema()
    advice = TypeAdapter(AdviceSettings).json_schema(ref_template="#/$defs/{model}")
    schema.setdefault("$defs", {}).update(advice.pop("$defs", {}))
    schema["$defs"].pop("AdviceTables", None)
    schema["properties"]["advice"] = advice
    return schema


def resolve_zone(name: str | None) -> tuple[tzinfo, str]:
    """The zone to bucket days in, and its name; the machine's own zone by default."""
    if name and name.lower() not in ("local", "localtime"):
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigError(f"unknown time zone {name!r}") from error
    configured = os.environ.get("TZ", "").lstrip(":")
    if configured:
        try:
            return ZoneInfo(configured), configured
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        key = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else None
        if key:
            return ZoneInfo(key), key
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime"), "localtime"
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC"), "UTC"
