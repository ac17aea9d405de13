"""Dated prices (genai-prices, plus the user's own) turned into a cost per call.

`calc_price` costs about 130 µs a call, so a (model, day) is looked up once and
the arithmetic is done here. Anthropic's long-context tier applies per request:
when the whole prompt crosses the threshold, every token of it is billed at the
tier's rate.

A model id the data does not know is tried in normalised spellings, and a token
kind it lists no price for is charged at the nearest price it lists: both are
estimates, and the rates' origin says so. The origin is all the index stores
of that, so the flags are read back from it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import IntEnum
from itertools import product
from typing import Any

import orjson

from tokentree.core import price_data
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.sources import provider_of

PER_MILLION = 1_000_000
PRICING_RULES = 3
"""Goes up when the way rates are found changes, so stored lookups and costs are redone."""

PRICED_AS = "priced as "
"""Begins the origin's note on a model found only under a normalised id."""
_STAND_IN_NOTES = (
    ("cache_read", "cache reads at "),
    ("cache_write_5m", "cache writes at "),
    ("cache_write_1h", "1 h cache writes at "),
)
"""The token kinds that may have no listed price, and how the origin's note on each begins."""
NOTE_SEPARATOR = "; "
BILLED_AS_INPUT = "cache writes billed as input (no write fee listed)"
"""The origin's note on a model whose provider charges cache writes as plain input."""


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind, and the tier a large prompt moves to; a web search
    the model ran on the server is billed apart, per search."""

    input: float
    output: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float
    origin: str  # where the numbers came from, shown in the info panel
    tier_start: int | None = None  # prompt size above which `tier` prices the whole request
    tier: Rates | None = None
    web_search: float = 0.0  # USD per search, whatever the prompt's size
    # read from the origin, never stored apart: see estimates_in()
    estimated: bool = False  # a normalised model id, or a tier's rates from before they were listed
    stand_ins: frozenset[str] = frozenset()  # kinds with no listed price, at the nearest one

    def estimated_for(self, tokens: Tokens) -> bool:
        """Whether a call of `tokens` is priced by estimate: at a normalised model id, or with
        tokens of a kind that has no price of its own."""
        return self.estimated or any(getattr(tokens, kind) for kind in self.stand_ins)

    def for_prompt(self, prompt_tokens: int) -> Rates:
        if (
            self.tier is not None
            and self.tier_start is not None
            and prompt_tokens > self.tier_start
        ):
            return self.tier
        return self

    def cost(self, tokens: Tokens) -> float:
        return self.cost_of(*tokens[:5])

    def cost_of(
        self,
        fresh: int,
        write_5m: int,
        write_1h: int,
        cache_read: int,
        output: int,
        web_searches: int = 0,
    ) -> float:
        """The cost of one request; every indexed call is priced here, so no Tokens is built."""
        rates = self
        if self.tier is not None:  # for_prompt(), in line
            rates = self.for_prompt(fresh + write_5m + write_1h + cache_read)
        return (
            fresh * rates.input
            + write_5m * rates.cache_write_5m
            + write_1h * rates.cache_write_1h
            + cache_read * rates.cache_read
            + output * rates.output
        ) / PER_MILLION + web_searches * self.web_search


class Pricing(IntEnum):
    """How a call's cost was found, as the index stores it (the `pricing` column)."""

    LISTED = 0
    UNPRICED = 1  # no price known: the cost shown is a lower bound, never $0
    ESTIMATED = 2  # at a normalised model id or a stand-in rate: flagged ~


RateKey = tuple[str, str, int, str]
"""(model, source, UTC day number, speed): the unit prices are looked up and remembered in."""
SECONDS_PER_DAY = 86_400
_UNKNOWN: Any = object()
"""A RateKey not looked up yet (None is one looked up that has no price)."""


class PriceBook:
    """Finds the rates for a model on a day; the user's price file wins over genai-prices.

    Every lookup is remembered (the index stores them), so pricing the calls of
    a known model and day never imports genai-prices again.
    """

    def __init__(self, user_prices: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.user_prices = user_prices
        self._user = {name.lower(): _user_rates(name, p) for name, p in (user_prices or {}).items()}
        self._known: dict[RateKey, Rates | None] = {}
        self._stored: Callable[[], Mapping[RateKey, Rates | None]] | None = None
        self.learned: dict[RateKey, Rates | None] = {}
        self.fingerprint = price_fingerprint(user_prices)

    def rates(self, model: str, source: str, day: date, speed: str = "") -> Rates | None:
        """None when no price is known: the call is unpriced, never free."""
        return self.rates_on((model, source, day.toordinal() - _EPOCH_ORDINAL, speed))

    def rates_for(self, model: str, source: str, timestamp: float, speed: str = "") -> Rates | None:
        """The rates of a call made at `timestamp`: looked up once per model and UTC day."""
        key = (model, source, int(timestamp // SECONDS_PER_DAY), speed)
        found = self._known.get(key, _UNKNOWN)
        return self.rates_on(key) if found is _UNKNOWN else found

    def rates_on(self, key: RateKey) -> Rates | None:
        """The rates of (model, source, UTC day number, speed), remembered."""
        self.resolve()  # the index's lookups, read at the first need
        if key in self._known:
            return self._known[key]
        model, source, day_number, speed = key
        day = date.fromordinal(day_number + _EPOCH_ORDINAL)
        # the user's price file names a fast mode as its own model: "claude-opus-4-6-fast"
        found = self._user.get(f"{model}-{speed}".lower() if speed else model.lower())
        if found is None:
            found = _library_rates(model, provider_of(source), day, speed)
        self._known[key] = self.learned[key] = found
        return found

    def price(self, call: ApiCall) -> tuple[float, Pricing]:
        """(cost in USD, how it was found) of one call at the price of its day.

        A call with no tokens at all lost its usage (Gemini logs some so): its
        cost is unknown, not zero.
        """
        return self.price_of(
            call.model, call.source, call.timestamp, call.speed, call.tokens, call.web_searches
        )

    def price_of(
        self,
        model: str,
        source: str,
        timestamp: float,
        speed: str,
        tokens: Tokens,
        web_searches: int,
    ) -> tuple[float, Pricing]:
        """price() for a call already taken apart: the index prices every row with it."""
        if not any(tokens):
            return 0.0, Pricing.UNPRICED
        rates = self.rates_for(model, source, timestamp, speed)
        if rates is None:
            return 0.0, Pricing.UNPRICED
        guessed = (rates.estimated or rates.stand_ins) and rates.estimated_for(tokens)
        found = Pricing.ESTIMATED if guessed else Pricing.LISTED
        return rates.cost_of(*tokens[:5], web_searches), found

    @staticmethod
    def preload() -> None:
        """Import the price data now: forked workers then share it instead of each loading it."""
        price_data.snapshot()
        price_data.version()

    def remember(self, known: Mapping[RateKey, Rates | None]) -> None:
        self._known.update(known)

    def remember_later(self, stored: Callable[[], Mapping[RateKey, Rates | None]]) -> None:
        """Lookups the index stored, read only when a call needs pricing: a warm start with
        nothing new to price never reads them."""
        self._stored = stored

    def resolve(self) -> None:
        """Read the stored lookups now (before forking readers, which cannot read them)."""
        if self._stored is not None:
            stored, self._stored = self._stored, None
            self._known = {**stored(), **self._known}

    def take_learned(self) -> dict[RateKey, Rates | None]:
        """The lookups made since the last call, for the index to store."""
        learned, self.learned = self.learned, {}
        return learned


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def rates_to_json(rates: Rates | None) -> bytes:
    return orjson.dumps(None if rates is None else _rates_list(rates))


def rates_from_json(blob: bytes | str) -> Rates | None:
    values = orjson.loads(blob)
    return None if values is None else _rates_from_list(values)


def _rates_list(rates: Rates) -> list[Any]:
    return [
        rates.input,
        rates.output,
        rates.cache_read,
        rates.cache_write_5m,
        rates.cache_write_1h,
        rates.origin,
        rates.tier_start,
        _rates_list(rates.tier) if rates.tier else None,
        rates.web_search,
    ]


def _rates_from_list(values: list[Any]) -> Rates:
    *prices, origin, tier_start, tier, web_search = values
    tier_rates = _rates_from_list(tier) if tier else None
    return Rates(*prices, origin, tier_start, tier_rates, web_search, *estimates_in(origin))


def estimates_in(origin: str) -> tuple[bool, frozenset[str]]:
    """(priced at a normalised model id?, the kinds at a stand-in rate), as the notes of a
    genai-prices origin say: a user's price file estimates nothing."""
    if not origin.startswith("genai-prices "):
        return False, frozenset()
    notes = origin.split(NOTE_SEPARATOR)[1:]
    kinds = {kind for kind, start in _STAND_IN_NOTES for note in notes if note.startswith(start)}
    guessed = any(note.startswith((PRICED_AS, TIER_LISTED_FROM)) for note in notes)
    return guessed, frozenset(kinds)


def shown_origin(origin: str, used: Collection[str]) -> tuple[str, bool]:
    """The origin for calls that used the token kinds `used` (Rates field names), with the notes
    on kinds they did not use left out; and whether their price is an estimate."""
    guessed, stand_ins = estimates_in(origin)
    head, *notes = origin.split(NOTE_SEPARATOR)
    unused = {start for kind, start in _STAND_IN_NOTES if kind in stand_ins and kind not in used}
    if not {"cache_write_5m", "cache_write_1h"} & set(used):
        unused.add(BILLED_AS_INPUT)
    kept = [note for note in notes if not any(note.startswith(start) for start in unused)]
    return NOTE_SEPARATOR.join((head, *kept)), guessed or bool(stand_ins & set(used))


def price_fingerprint(user_prices: Mapping[str, Mapping[str, float]] | None) -> str:
    """Changes when the price data or the user's prices change, so stored costs are recomputed.

    The installed data file's size and mtime stand for its version: reading the
    package metadata costs a warm start 20 ms.
    """
    try:
        info = os.stat(price_data.data_file())
        stamp = f"{info.st_size}-{info.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    blob = orjson.dumps(user_prices or {}, option=orjson.OPT_SORT_KEYS)
    return f"genai-prices {stamp} rules {PRICING_RULES} {hashlib.sha1(blob).hexdigest()[:12]}"


def _user_rates(model: str, prices: Mapping[str, float]) -> Rates:
    base = float(prices.get("input", 0.0))
    write_5m = float(prices.get("cache_write", base * 1.25))
    return Rates(
        input=base,
        output=float(prices.get("output", 0.0)),
        cache_read=float(prices.get("cache_read", base * 0.1)),
        cache_write_5m=write_5m,
        cache_write_1h=float(prices.get("cache_write_1h", base * 2)),
        origin=f"user price file ({model})",
        web_search=float(prices.get("web_search_per_1k", 0.0)) / 1000,
    )


def _library_rates(model: str, provider: str | None, day: date, speed: str) -> Rates | None:
    """genai-prices' rates for the model on that day; a fast mode only where it lists one.

    A model it does not know under its own id is looked up under normalised ones:
    the first it knows is priced, as an estimate the origin names.
    """
    snapshot = price_data.snapshot()  # 0.1 s to import: only when pricing new calls
    # a router's model id names the maker first (OpenCode: "anthropic/claude-sonnet-4.5")
    names = (model, model.rsplit("/", 1)[1]) if "/" in model else (model,)
    guesses = [guess for name in names for guess in normalised_ids(name) if guess not in names]
    for name, hint in product((*names, *guesses), (provider, None) if provider else (None,)):
        try:
            provider_info, model_info = snapshot.find_provider_model(name, None, hint, None)
        except LookupError:
            continue
        break
    else:
        return None
    when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    mode = f", {speed} mode" if speed else ""
    origin = f"genai-prices {price_data.version()}, {provider_info.id}/{model_info.id}{mode}, {day}"
    if name not in names:
        origin += f"{NOTE_SEPARATOR}{PRICED_AS}{name} (estimated)"
    if not speed:
        return _rates_from_library(
            model_info.get_prices(when), origin, provider_info.id == "anthropic"
        )
    tier = _tier_prices(model_info, speed, when)
    if tier is None:
        return None  # standard rates would misstate it: unpriced, and said so
    prices, listed_from = tier
    if listed_from is not None:
        origin += f"{NOTE_SEPARATOR}{TIER_LISTED_FROM}{listed_from} (estimated)"
    return _rates_from_library(prices, origin, provider_info.id == "anthropic")


_TIER_CONTEXTS = {
    "fast": ({"speed": "fast"}, {"service_tier": "priority"}, {"service_tier": "fast"}),
    "flex": ({"service_tier": "flex"},),
}
"""How the price data names each speed: Anthropic's fast mode, OpenAI's Fast (once "priority")
and Flex tiers."""
TIER_LISTED_FROM = "tier rates as listed from "
"""Begins the origin's note on a call made before its tier's rates were first listed."""


def _tier_prices(model_info: Any, speed: str, when: datetime) -> tuple[Any, date | None] | None:
    """The model's prices at `speed` on `when`, and the day they are listed from when that is
    later (the nearest rates, an estimate); None when it lists no such tier."""
    variants = [
        variant
        for variant in model_info.price_variants or ()
        if variant.when in _TIER_CONTEXTS.get(speed, ())
    ]
    if not variants:
        return None
    active = [v for v in variants if v.constraint is None or v.constraint.active(when)]
    if active:
        return model_info.get_prices(when, active[0].when), None
    dated = [v for v in variants if getattr(v.constraint, "start_date", None) is not None]
    if not dated:
        return None
    first = min(dated, key=lambda variant: variant.constraint.start_date)
    start = first.constraint.start_date
    opening = datetime(start.year, start.month, start.day, 12, tzinfo=UTC)
    return model_info.get_prices(opening, first.when), start


_DATED = re.compile(r"(?:[-@]\d{8}|-\d{4}-\d{2}-\d{2}|(?:(?<=-preview)|(?<=-exp))-\d{2}-\d{2})$")
"""A date at the end of a model id: -20250929, @20250929 (Vertex), -2025-11-13, -preview-05-06."""
_VERSION_DASH = re.compile(r"(?<![\d.])(\d)-(\d)(?!\d)")
"""A one-digit version written with a dash, as in gpt-5-1 or claude-3-5; not a date's digits."""
_CHANNELS = ("-preview", "-latest")


def normalised_ids(model: str) -> Iterator[str]:
    """Other spellings of a model id, likeliest first: without its date, with version dashes as
    dots (gpt-5-1-codex → gpt-5.1-codex), with a -preview or -latest suffix added or dropped."""
    undated = _DATED.sub("", model.lower())
    stems = dict.fromkeys((_VERSION_DASH.sub(r"\1.\2", undated), undated))
    seen = {model.lower()}
    for stem in stems:
        bare = next((stem.removesuffix(c) for c in _CHANNELS if stem.endswith(c)), stem)
        for name in (stem, bare, *(bare + channel for channel in _CHANNELS)):
            if name not in seen:
                seen.add(name)
                yield name


def _rates_from_library(prices: Any, origin: str, anthropic: bool) -> Rates | None:
    """genai-prices' per-million prices (flat or tiered) as a Rates pair.

    A kind it lists no price for is charged at the nearest price it does list, as an
    estimate the origin notes: cache reads at the input rate; Anthropic's cache writes
    at its own multiples of it (1.25 × for 5 minutes, 2 × for an hour); 1-hour writes
    elsewhere at the 5-minute rate. OpenAI and Google charge no write fee where they list
    none (before GPT-5.6 writes are plain input): billed as input, noted, no estimate.
    """
    raw = {
        kind: getattr(prices, f"{kind}_mtok", None)
        for kind in ("input", "output", "cache_read", "cache_write", "cache_write_1h")
    }
    if raw["input"] is None or raw["output"] is None:
        return None
    tier_start = next(
        (value.tiers[0].start for value in raw.values() if getattr(value, "tiers", None)), None
    )
    stand_in = {  # each kind's listed price, and the rate charged where there is none
        "cache_read": (raw["cache_read"], "the input rate"),
        "cache_write_5m": (raw["cache_write"], "1.25 × input" if anthropic else "the input rate"),
        "cache_write_1h": (raw["cache_write_1h"], "2 × input" if anthropic else "the 5 min rate"),
    }
    for kind, start in _STAND_IN_NOTES:
        listed, rate = stand_in[kind]
        billed_as_input = not anthropic and raw["cache_write"] is None and kind != "cache_read"
        if listed is None and not billed_as_input:
            origin += f"{NOTE_SEPARATOR}{start}{rate} (no price listed)"
    if not anthropic and raw["cache_write"] is None:
        origin += f"{NOTE_SEPARATOR}{BILLED_AS_INPUT}"
    estimated, stand_ins = estimates_in(origin)

    def level(pick: Any) -> Rates:
        values = {kind: None if price is None else pick(price) for kind, price in raw.items()}
        base = values["input"]
        write_5m = values["cache_write"]
        if write_5m is None:
            write_5m = base * 1.25 if anthropic else base
        write_1h = values["cache_write_1h"]
        if write_1h is None:
            write_1h = base * 2 if anthropic else write_5m
        return Rates(
            input=base,
            output=values["output"],
            cache_read=values["cache_read"] if values["cache_read"] is not None else base,
            cache_write_5m=write_5m,
            cache_write_1h=write_1h,
            origin=origin,
            estimated=estimated,
            stand_ins=stand_ins,
        )

    def base_price(price: Any) -> float:
        return float(getattr(price, "base", price))

    def tier_price(price: Any) -> float:
        tiers = getattr(price, "tiers", None)
        return float(tiers[0].price) if tiers else float(price)

    per_1k = getattr(prices, "web_searches_kcount", None)
    standard = replace(level(base_price), web_search=float(per_1k or 0) / 1000)
    if tier_start is None:
        return standard
    return replace(standard, tier_start=tier_start, tier=level(tier_price))
