"""Prices: dated, per request, with 5m/1h cache writes apart; unknown models are unpriced."""

from __future__ import annotations

from datetime import date, datetime

import orjson
import pytest

from tokentree.core.pricing import (
    PRICING_RULES,
    PriceBook,
    Pricing,
    normalised_ids,
    rates_from_json,
    rates_to_json,
    shown_origin,
)
from tokentree.core.records import ApiCall, Tokens


def _call(model: str, tokens: Tokens, day: str = "2026-02-01", source: str = "claude-code"):
    when = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()
    return ApiCall(source, "k", "s", "", when, model, tokens)


def test_sonnet_prices_each_token_kind() -> None:
    tokens = Tokens(
        input=1_000_000,
        cache_write_5m=1_000_000,
        cache_write_1h=1_000_000,
        cache_read=1_000_000,
        output=1_000_000,
    )
    # a request this large crosses the long-context tier, so price a small one too
    small = Tokens(
        input=1000, cache_write_5m=1000, cache_write_1h=1000, cache_read=1000, output=1000
    )
    book = PriceBook()
    cost, unpriced = book.price(_call("claude-sonnet-4-5-20250929", small))
    assert not unpriced
    assert cost == pytest.approx((3 + 3.75 + 6 + 0.3 + 15) / 1000)
    tiered, _ = book.price(_call("claude-sonnet-4-5-20250929", tokens))
    assert tiered == pytest.approx(6 + 7.5 + 12 + 0.6 + 22.5)


def test_the_long_context_tier_applies_to_the_whole_request() -> None:
    book = PriceBook()
    below = book.price(_call("claude-sonnet-4-5", Tokens(input=200_000, output=1000)))[0]
    above = book.price(_call("claude-sonnet-4-5", Tokens(input=200_001, output=1000)))[0]
    assert below == pytest.approx(0.6 + 0.015)
    assert above == pytest.approx(200_001 * 6 / 1e6 + 1000 * 22.5 / 1e6)


def test_prices_are_taken_at_the_day_of_the_call() -> None:
    """genai-prices dates Opus 4.6's flat long-context price from 2026-03-13."""
    big = Tokens(input=300_000, output=0)
    book = PriceBook()
    before = book.price(_call("claude-opus-4-6", big, day="2026-03-01"))[0]
    after = book.price(_call("claude-opus-4-6", big, day="2026-04-01"))[0]
    assert before == pytest.approx(3.0) and after == pytest.approx(1.5)


def test_codex_cached_input_is_priced_at_the_cache_rate() -> None:
    cost, unpriced = PriceBook().price(
        _call(
            "gpt-5-codex",
            Tokens(input=1_000_000, cache_read=1_000_000, output=100_000),
            source="codex",
        )
    )
    assert not unpriced and cost == pytest.approx(1.25 + 0.125 + 1.0)


def test_unknown_models_are_unpriced_not_free() -> None:
    assert PriceBook().price(_call("gpt-oss-120b-local", Tokens(input=5), source="codex")) == (
        0.0,
        True,
    )


def test_a_model_with_no_price_is_looked_up_once_and_stays_unpriced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lookup that found no price is remembered (as None) like one that found rates."""
    from tokentree.core import pricing

    looked_up = []
    library_rates = pricing._library_rates
    monkeypatch.setattr(
        pricing, "_library_rates", lambda *key: looked_up.append(key) or library_rates(*key)
    )
    book = PriceBook()
    call = _call("gpt-oss-120b-local", Tokens(input=5), source="codex")
    for _ in range(3):
        assert book.price_of(call.model, "codex", call.timestamp, "", call.tokens, 0) == (
            0.0,
            Pricing.UNPRICED,
        )
    assert book.rates_for(call.model, "codex", call.timestamp) is None
    assert len(looked_up) == 1 and list(book.take_learned().values()) == [None]


def test_user_prices_override_and_add_models() -> None:
    book = PriceBook(
        {
            "gpt-oss-120b-local": {"input": 1.0, "output": 2.0},
            "claude-sonnet-4-5-20250929": {"input": 10, "output": 10},
        }
    )
    assert book.price(
        _call("gpt-oss-120b-local", Tokens(input=1_000_000, output=1_000_000), source="codex")
    ) == (pytest.approx(3.0), False)
    assert book.price(_call("claude-sonnet-4-5-20250929", Tokens(output=1_000_000)))[0] == 10
    assert book.fingerprint != PriceBook().fingerprint
    assert book.rates("gpt-oss-120b-local", "codex", date(2026, 1, 1)).origin.startswith("user")


def _fast(call: ApiCall) -> ApiCall:
    return call._replace(speed="fast")


def test_fast_mode_is_priced_at_the_listed_fast_rates() -> None:
    """genai-prices lists Opus 4.8's fast mode at twice its standard rates."""
    tokens = Tokens(input=1000, cache_write_5m=1000, cache_read=1000, output=1000)
    book = PriceBook()
    standard, _ = book.price(_call("claude-opus-4-8", tokens, day="2026-11-01"))
    fast, unpriced = book.price(_fast(_call("claude-opus-4-8", tokens, day="2026-11-01")))
    assert standard == pytest.approx((5 + 6.25 + 0.5 + 25) / 1000)
    assert not unpriced and fast == pytest.approx((10 + 12.5 + 1 + 50) / 1000)
    rates = book.rates("claude-opus-4-8", "claude-code", date(2026, 11, 1), "fast")
    assert rates is not None and "fast mode" in rates.origin


def test_fast_mode_without_a_listed_price_is_unpriced_not_standard() -> None:
    """Opus 4.6 has no fast-mode price in the table: standard rates would understate it."""
    call = _fast(_call("claude-opus-4-6", Tokens(input=1000, output=1000), day="2026-11-01"))
    assert PriceBook().price(call) == (0.0, Pricing.UNPRICED)
    user = PriceBook({"claude-opus-4-6-fast": {"input": 30, "output": 150}})
    assert user.price(call) == (pytest.approx((30 + 150) / 1000), Pricing.LISTED)


def test_web_searches_are_billed_per_search_whatever_the_prompt_size() -> None:
    """Anthropic's web search costs $10 per 1,000 searches, apart from the tokens."""
    book = PriceBook()
    small = _call("claude-sonnet-4-5", Tokens(input=1000))
    searched = small._replace(web_searches=3)
    assert book.price(searched)[0] - book.price(small)[0] == pytest.approx(0.03)
    big = _call("claude-sonnet-4-5", Tokens(input=300_000))  # in the long-context tier
    assert book.price(big._replace(web_searches=2))[0] - book.price(big)[0] == pytest.approx(0.02)
    user = PriceBook({"my-model": {"input": 1, "output": 1, "web_search_per_1k": 5}})
    assert user.price(_call("my-model", Tokens(input=1), source="codex")._replace(web_searches=2))[
        0
    ] == pytest.approx(1e-6 + 0.01)


def test_indexed_rows_are_priced_as_the_price_book_prices_a_call() -> None:
    """The index prices rows in one pass (rows.call_rows); it must agree with price()."""
    from tokentree.core.rows import NAMES, call_rows

    book = PriceBook()
    calls = [
        _call("claude-sonnet-4-5", Tokens(input=1000, cache_write_1h=500, output=70)),
        _call("claude-sonnet-4-5", Tokens(input=250_000, cache_read=9000)),  # long context
        _fast(_call("claude-opus-4-8", Tokens(input=10, output=10), day="2026-11-01")),
        _fast(_call("claude-opus-4-6", Tokens(input=10, output=10), day="2026-11-01")),
        _call("claude-sonnet-4-5", Tokens(input=10))._replace(web_searches=4),
        _call("no-such-model", Tokens(input=5), source="codex"),
        _call("gemini-2.5-pro", Tokens(), source="gemini-cli"),  # usage lost: unknown cost
    ]
    cost, pricing = NAMES.index("cost"), NAMES.index("pricing")
    rows = call_rows(calls, [0] * len(calls), book)
    for call, row in zip(calls, rows, strict=True):
        expected_cost, expected_pricing = book.price(call)
        assert row[cost] == pytest.approx(expected_cost) and row[pricing] == expected_pricing
    assert [row[pricing] for row in rows] == [0, 0, 0, 1, 0, 1, 1]


# --- estimates: a model id or a token kind the price data does not list ----------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-5-1-codex-2025-11-13", ["gpt-5.1-codex", "gpt-5.1-codex-preview"]),
        ("gemini-3-pro", ["gemini-3-pro-preview", "gemini-3-pro-latest"]),
        ("gemini-2.5-flash-preview-05-20", ["gemini-2.5-flash-preview", "gemini-2.5-flash"]),
        ("claude-sonnet-4-5@20250929", ["claude-sonnet-4.5", "claude-sonnet-4.5-preview"]),
    ],
)
def test_an_unknown_id_is_tried_in_normalised_spellings(model: str, expected: list[str]) -> None:
    assert list(normalised_ids(model))[:2] == expected
    assert model.lower() not in normalised_ids(model)


def test_a_dated_codex_id_is_priced_as_its_undated_dotted_form_and_flagged() -> None:
    """gpt-5.1 (which genai-prices also matches gpt-5.1-codex to): $1.25 in, $0.125 cached,
    $10 out."""
    book = PriceBook()
    tokens = Tokens(input=1_000_000, cache_read=1_000_000, output=100_000)
    call = _call("gpt-5-1-codex-2025-11-13", tokens, source="codex")
    cost, pricing = book.price(call)
    assert pricing is Pricing.ESTIMATED and cost == pytest.approx(1.25 + 0.125 + 1.0)
    rates = book.rates(call.model, "codex", date(2026, 2, 1))
    assert rates is not None and rates.estimated and rates.estimated_for(tokens)
    assert (
        "openai/gpt-5.1" in rates.origin and "priced as gpt-5.1-codex (estimated)" in rates.origin
    )


def test_a_preview_suffix_is_added_for_a_model_listed_only_as_a_preview() -> None:
    """gemini-3-pro-preview, prompts under 200k: $2 in, $0.20 cached, $12 out."""
    book = PriceBook()
    tokens = Tokens(input=100_000, cache_read=50_000, output=10_000)
    cost, pricing = book.price(_call("gemini-3-pro", tokens, source="gemini-cli"))
    assert pricing is Pricing.ESTIMATED
    assert cost == pytest.approx((100_000 * 2 + 50_000 * 0.2 + 10_000 * 12) / 1e6)
    rates = book.rates("gemini-3-pro", "gemini-cli", date(2026, 2, 1))
    assert rates.estimated and "priced as gemini-3-pro-preview (estimated)" in rates.origin
    # a router's id too: OpenCode names the maker first
    routed = book.rates("google/gemini-3-pro", "opencode", date(2026, 2, 1))
    assert routed.estimated and routed.input == 2.0


def test_a_model_the_data_knows_is_not_an_estimate() -> None:
    rates = PriceBook().rates("claude-sonnet-4-5-20250929", "claude-code", date(2026, 2, 1))
    assert not rates.estimated and not rates.stand_ins
    assert rates.origin.endswith("anthropic/claude-sonnet-4-5, 2026-02-01")


def test_a_missing_cache_read_price_is_the_input_rate_said_so_and_estimated() -> None:
    """gemini-3-pro-image-preview lists $2 in and $12 out, and no cache-read price."""
    book = PriceBook()
    rates = book.rates("gemini-3-pro-image-preview", "gemini-cli", date(2026, 2, 1))
    assert rates.cache_read == rates.input == 2.0 and not rates.estimated
    assert "cache reads at the input rate (no price listed)" in rates.origin
    cached = Tokens(input=1000, cache_read=1_000_000, output=1000)
    assert rates.estimated_for(cached) and not rates.estimated_for(Tokens(input=10, output=10))
    call = _call("gemini-3-pro-image-preview", cached, source="gemini-cli")
    assert book.price(call) == (
        pytest.approx((1000 * 2 + 1_000_000 * 2 + 1000 * 12) / 1e6),
        Pricing.ESTIMATED,
    )
    uncached = _call("gemini-3-pro-image-preview", Tokens(input=10, output=10), source="gemini-cli")
    assert book.price(uncached)[1] is Pricing.LISTED


def test_a_missing_cache_write_price_is_the_input_rate_outside_anthropic() -> None:
    """OpenAI bills no write fee before GPT-5.6 and genai-prices lists none for gpt-5: a Codex
    cache write is plain input at the $1.25 rate (not 1.25 ×), noted but no estimate; GPT-5.6
    lists one."""
    book = PriceBook()
    rates = book.rates("gpt-5-codex", "codex", date(2026, 2, 1))
    assert (rates.cache_write_5m, rates.cache_write_1h) == (1.25, 1.25)
    assert not rates.stand_ins and not rates.estimated
    assert rates.origin.endswith("; cache writes billed as input (no write fee listed)")
    written = Tokens(input=1_000_000, cache_write_5m=1_000_000)
    assert book.price(_call("gpt-5-codex", written, source="codex")) == (
        pytest.approx(2.5),
        Pricing.LISTED,
    )
    listed = book.rates("gpt-5.6-sol", "codex", date(2026, 11, 1))
    assert "cache_write_5m" not in listed.stand_ins


def test_estimates_survive_the_index_storing_the_rates() -> None:
    """The index stores rates as JSON, its format unchanged: the flags come back from the origin."""
    book = PriceBook()
    for model, source in (
        ("gpt-5-1-codex-2025-11-13", "codex"),
        ("gemini-3-pro-image-preview", "gemini-cli"),
        ("gemini-3-pro", "gemini-cli"),  # tiered: the tier keeps the flags too
        ("claude-sonnet-4-5", "claude-code"),
    ):
        rates = book.rates(model, source, date(2026, 2, 1))
        stored = rates_to_json(rates)
        assert len(orjson.loads(stored)) == 9
        assert rates_from_json(stored) == rates
    tiered = book.rates("gemini-3-pro", "gemini-cli", date(2026, 2, 1))
    assert tiered.tier is not None and tiered.tier.estimated
    user = PriceBook({"x; priced as y": {"input": 1, "output": 1}})
    assert not user.rates("x; priced as y", "codex", date(2026, 1, 1)).estimated


def test_the_shown_origin_keeps_notes_only_for_kinds_in_use() -> None:
    origin = PriceBook().rates("gemini-3-pro-image-preview", "gemini-cli", date(2026, 2, 1)).origin
    head = "genai-prices"
    shown, estimated = shown_origin(origin, ["input", "output"])
    assert shown.startswith(head) and "cache" not in shown and not estimated
    shown, estimated = shown_origin(origin, ["input", "cache_read"])
    assert shown.endswith("; cache reads at the input rate (no price listed)") and estimated


def test_a_change_of_pricing_rules_reprices_stored_costs() -> None:
    assert f"rules {PRICING_RULES} " in PriceBook().fingerprint


# --- Codex service tiers (FORMATS.md §9.2) ----------------------------------------------------


def test_codex_fast_and_flex_calls_are_priced_at_their_tier() -> None:
    """gpt-5.1 lists $1.25 / $10 standard, Fast (priority) at 2×, Flex at half, from 2026-10-12."""
    book = PriceBook()
    tokens = Tokens(input=1_000_000, output=100_000)
    standard = _call("gpt-5.1", tokens, source="codex", day="2026-11-01")
    assert book.price(standard) == (pytest.approx(2.25), Pricing.LISTED)
    assert book.price(standard._replace(speed="fast")) == (pytest.approx(4.5), Pricing.LISTED)
    assert book.price(standard._replace(speed="flex")) == (pytest.approx(1.125), Pricing.LISTED)


def test_a_tier_used_before_its_rates_were_listed_is_priced_at_them_and_estimated() -> None:
    book = PriceBook()
    early = _call("gpt-5.1", Tokens(input=1_000_000), source="codex", day="2026-09-01")
    assert book.price(early._replace(speed="fast")) == (pytest.approx(2.5), Pricing.ESTIMATED)
    rates = book.rates("gpt-5.1", "codex", date(2026, 9, 1), "fast")
    assert "tier rates as listed from 2026-10-12 (estimated)" in rates.origin
    assert rates_from_json(rates_to_json(rates)).estimated


def test_a_tier_the_price_data_does_not_list_for_the_model_is_unpriced() -> None:
    book = PriceBook()
    call = _call("gpt-5-nano", Tokens(input=1000), source="codex", day="2026-11-01")
    assert book.price(call._replace(speed="fast")) == (0.0, Pricing.UNPRICED)
