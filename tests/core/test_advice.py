"""Advice: each rule fires on a fixture built to trigger it, with the right evidence and saving;
a clean, well-cached short session triggers none."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.builders import claude_call, claude_prompt
from tests.builders import write as write_lines
from tokentree.cli import main
from tokentree.core.advice import (
    RULES,
    AdviceSettings,
    ContextCompounding,
    ModelChoice,
    advise,
    rule_help,
)
from tokentree.core.attribution import Attribution
from tokentree.core.export import export_document
from tokentree.core.overview import build_overview, scale, sparkline
from tokentree.core.overview_text import render_overview
from tokentree.core.pricing import PriceBook, Pricing
from tokentree.core.records import ApiCall, Prompt, Tokens
from tokentree.core.schemas import ExportDocument, ReportDocument
from tokentree.core.tree import Calendar, Kind, build_tree

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC).timestamp()
OPUS = {"input": 5, "output": 25, "cache_read": 0.5, "cache_write": 6.25, "cache_write_1h": 10}
SONNET = {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75, "cache_write_1h": 6}
PRICES = PriceBook({"test-opus": OPUS, "test-sonnet": SONNET})
SETTINGS = AdviceSettings(model_choice=ModelChoice(alternatives={"opus": "test-sonnet"}))
M = 1_000_000


def call(
    seconds: float,
    *,
    session: str = "s1",
    fresh: int = 0,
    write: int = 0,
    write_1h: int = 0,
    read: int = 0,
    output: int = 200,
    tools: tuple[str, ...] = (),
    subagent: bool = False,
    file: str = "/logs/s.jsonl",
    model: str = "test-opus",
    project: str = "/home/dev/atlas",
) -> ApiCall:
    draft = ApiCall(
        source="claude-code",
        key=f"{session}:{seconds}",
        session_id=session,
        project=project,
        timestamp=T0 + seconds,
        model=model,
        tokens=Tokens(fresh, write, write_1h, read, output),
        tools=tools,
        subagent=subagent,
        file=file,
    )
    cost, pricing = PRICES.price(draft)
    return draft._replace(cost=cost, unpriced=pricing is Pricing.UNPRICED)


def prompt(seconds: float, session: str = "s1") -> Prompt:
    return Prompt("claude-code", session, T0 + seconds)


def run(calls: list[ApiCall], prompts: list[Prompt] = (), settings: AdviceSettings = SETTINGS):
    tree = build_tree(calls, list(prompts), Calendar(ZoneInfo("UTC")))
    return tree, advise(tree, PRICES, settings, Attribution(tree))


def only(report, rule: str):
    found = [item for item in report.items if item.rule == rule]
    assert len(found) == 1, [(item.rule, item.message) for item in report.items]
    return found[0]


def growing_session(
    session: str = "s1", start: float = 0, calls: int = 12, context: int = 20_000
) -> list[ApiCall]:
    """A healthy session: the context grows 1k a call, almost all of it read from the cache."""
    return [
        call(
            start + 30 * i,
            session=session,
            fresh=5,
            write=1_000,
            read=context + 1_000 * i,
            tools=(f"Read f{i}.py",) if i % 3 == 0 else ("Edit f.py",),
        )
        for i in range(calls)
    ]


def test_a_clean_well_cached_short_session_triggers_nothing() -> None:
    calls = [call(0, fresh=5, write=20_000, output=300)] + growing_session(start=30, calls=8)
    _, report = run(calls, [prompt(-1), prompt(100)])
    assert report.items == []


def test_context_compounding_names_the_split_and_its_saving() -> None:
    ramp = [call(30 * i, write=30_000, read=20_000 + 30_000 * i) for i in range(4)]  # → 140k
    later = [call(200 + 30 * i, write=2_000, read=140_000 + 2_000 * i, fresh=10) for i in range(30)]
    tree, report = run(ramp + later, [prompt(-1), prompt(150)])
    item = only(report, "context_compounding")
    session = tree.children[0].children[0].children[0]
    assert item.node is session and item.path == f"2026-W47/2026-11-19/{session.key}"
    assert item.evidence["split_after_turn"] == "1"
    at_split = 30_000 + 20_000 + 90_000  # the largest prompt up to the split
    assert item.evidence["context_at_split"] == at_split
    assert item.evidence["calls_after_split"] == 30
    avoided = 30 * (at_split - 4_000)  # every later call carried more than that
    assert item.evidence["avoidable_tokens"] == avoided
    assert item.saving_usd == pytest.approx(avoided * 0.5 / M - 4_000 * 6.25 / M)
    assert "after turn #1" in item.message and f"${item.saving_usd:,.2f}" in item.message
    assert "0.50/M" in item.evidence["formula"]
    assert report.marks(session) == {"1": "◆ split here: context 140.0 k"}
    assert report.marks(tree.children[0].children[0]) == {
        session.key: f"◆ context compounding ≈ ${item.saving_usd:,.2f}"
    }


def test_context_compounding_threshold_comes_from_the_settings() -> None:
    ramp = [call(30 * i, write=30_000, read=20_000 + 30_000 * i) for i in range(4)]
    later = [call(200 + 30 * i, write=2_000, read=140_000 + 2_000 * i) for i in range(30)]
    strict = dataclasses.replace(
        SETTINGS, context_compounding=ContextCompounding(min_context=300_000)
    )
    _, report = run(ramp + later, [prompt(-1), prompt(150)], strict)
    assert not [item for item in report.items if item.rule == "context_compounding"]


def test_cache_rebuilt_after_idle_costs_the_rewrite() -> None:
    calls = [
        call(0, fresh=5, write=30_000),
        call(30, fresh=5, write=1_000, read=30_000),
        call(30 + 20 * 60, fresh=7, write=32_000, read=0),  # 20 minutes later: the cache expired
        call(30 + 20 * 60 + 30, fresh=5, write=500, read=32_000),
    ]
    _, report = run(calls, [prompt(-1), prompt(1_000)])
    item = only(report, "cache_rebuilt")
    rebuilt = 31_005  # min(7 + 32,000 written, the previous prompt 31,005)
    assert item.evidence["rebuilds"] == [
        {"turn": "2", "gap_minutes": 20.0, "cache_lifetime_minutes": 5, "tokens": rebuilt}
    ]
    rate = (7 * 5 + 32_000 * 6.25) / 32_007  # uncached input and 5-minute writes, blended
    assert item.saving_usd == pytest.approx(rebuilt * (rate - 0.5) / M)
    assert "> 5 min (20 min)" in item.message and "1-hour caching" in item.message
    assert report.marks(item.node) == {"2": "◆ cache rebuilt after 20 min idle"}


def test_a_cache_miss_claude_logged_a_cause_for_costs_the_rewrite() -> None:
    calls = [
        call(0, fresh=5, write=30_000),
        call(30, fresh=5, write=1_000, read=30_000),
        call(60, fresh=5, write=31_000)._replace(cache_miss="tools_changed 30500"),
        call(90, fresh=5, write=400, read=31_005),
        call(120, fresh=5, write=400)._replace(cache_miss="unavailable"),  # no cause: not counted
        call(150 + 20 * 60, fresh=5, write=32_000)._replace(cache_miss="system_changed 100"),
    ]
    _, report = run(calls, [prompt(-1), prompt(80)])
    item = only(report, "cache_missed")  # the miss after 20 idle minutes is cache_rebuilt's
    rewritten = 31_005  # min(5 + 31,000 written, the previous prompt 31,005)
    assert item.evidence["misses"] == [
        {"turn": "1", "reason": "tools_changed", "tokens": rewritten, "logged_missed_tokens": 30500}
    ]
    rate = (5 * 5 + 31_000 * 6.25) / 31_005
    assert item.saving_usd == pytest.approx(rewritten * (rate - 0.5) / M)
    assert "because tools changed (as Claude logged it)" in item.message
    assert report.marks(item.node)["1"] == "◆ cache missed: tools changed"


def test_one_hour_cache_survives_a_twenty_minute_gap_but_not_two_hours() -> None:
    warm = [
        call(0, write_1h=30_000),
        call(30, write_1h=1_000, read=30_000),
        call(30 + 20 * 60, write_1h=500, read=31_000),  # still cached after 20 minutes
    ]
    _, report = run(warm)
    assert report.items == []
    cold = warm + [call(30 + 20 * 60 + 2 * 3600, write_1h=32_000)]
    _, report = run(cold)
    item = only(report, "cache_rebuilt")
    assert item.evidence["rebuilds"][0]["cache_lifetime_minutes"] == 60
    assert item.saving_usd == pytest.approx(31_500 * (10 - 0.5) / M)
    assert "> 1 h" in item.message


def test_low_cache_hit_against_the_users_own_median() -> None:
    calls = []
    for number in range(6):
        hit = number < 5  # five sessions hit 90 %, the sixth 30 %
        for i in range(12):
            calls.append(
                call(
                    number * 7200 + 30 * i,
                    session=f"s{number}",
                    write=1_000 if hit else 7_000,
                    read=9_000 if hit else 3_000,
                )
            )
    _, report = run(calls)
    item = only(report, "low_cache_hit")
    assert item.node.session_id == "s5"
    assert item.evidence["median_cache_hit"] == pytest.approx(0.9)
    assert item.evidence["cache_hit"] == pytest.approx(0.3)
    assert item.evidence["sessions_in_median"] == 6
    shift = 0.6 * 120_000
    assert item.saving_usd == pytest.approx(shift * (6.25 - 0.5) / M)


def test_repeated_reads_in_a_session() -> None:
    calls = [call(30 * i, read=50_000, write=500, tools=("Read app.py",)) for i in range(6)]
    calls.append(call(200, read=53_000, write=500, tools=("Read other.py", "Grep")))
    _, report = run(calls)
    item = only(report, "repeated_reads")
    assert item.evidence["files"] == {"app.py": 6}
    assert item.evidence["rereads"] == 5
    assert item.saving_usd == pytest.approx(sum(c.cost for c in calls[1:6]))
    assert "app.py 6×" in item.message


def test_repeated_reads_across_sessions_of_one_project() -> None:
    calls = []
    for number in range(5):
        start = number * 86_400 / 2
        calls += [
            call(start, session=f"s{number}", read=20_000 + number, tools=("Read schema.py",)),
            call(start + 30, session=f"s{number}", read=21_000, tools=("Edit api.py",)),
        ]
    tree, report = run(calls)
    item = only(report, "repeated_reads")
    assert item.node is tree and item.evidence["scope"] == "project"
    assert item.evidence["files"] == {"schema.py": 5}
    reads = sorted((c.cost for c in calls[::2]), reverse=True)
    assert item.saving_usd == pytest.approx(sum(reads[1:]))


def test_oversized_turns_say_what_dominated_them() -> None:
    calls, prompts = [], []
    for number in range(24):
        prompts.append(prompt(number * 120 - 1))
        calls.append(call(number * 120, read=10_000, write=200, tools=("Edit a.py",)))
    prompts.append(prompt(24 * 120 - 1))
    for i in range(15):
        calls.append(call(24 * 120 + 5 * i, read=12_000, write=400, tools=(f"Read r{i}.py",)))
    tree, report = run(calls, prompts)
    item = only(report, "oversized_turns")
    assert item.node.kind is Kind.TURN and item.node.key == "25"
    assert item.saving_usd == 0 and item.evidence["calls"] == 15
    assert item.evidence["dominant_activity"] == "reading"
    assert item.evidence["factor"] >= 10
    assert "turn #25" in item.message and "reading 100%" in item.message
    marks = report.marks(tree.children[0].children[0].children[0])
    assert marks["25"].startswith("◆ ") and marks["25"].endswith("× the median turn")


def test_concentration_names_the_outsized_session() -> None:
    calls = []
    for number in range(6):
        count = 30 if number == 2 else 5
        calls += growing_session(f"s{number}", number * 7200, calls=count, context=10_000)
    tree, report = run(calls)
    item = only(report, "concentration")
    assert item.node is tree and item.saving_usd == 0
    assert item.evidence["share"] > 0.3 and item.evidence["sessions_in_period"] == 6
    assert item.evidence["session"].endswith("claude-code:s2")


def test_model_choice_prices_the_same_tokens_on_the_cheaper_model() -> None:
    loop = [
        call(
            30 * i,
            fresh=50,
            write=1_000,
            read=5_000 + 1_000 * i,
            output=2_000,
            tools=("Bash pytest",) if i % 2 else (f"Read t{i}.py",),
        )
        for i in range(12)
    ]
    _, report = run(loop)
    item = only(report, "model_choice")
    cheaper = PriceBook({"test-sonnet": SONNET})
    alternative = sum(cheaper.price(c._replace(model="test-sonnet"))[0] for c in loop)
    switch = 6_050 * (3.75 - 0.3) / M  # the first prompt, written to the other cache
    assert item.evidence["loops"] == 1 and item.evidence["calls"] == 12
    assert item.evidence["alternative"] == "test-sonnet"
    assert item.saving_usd == pytest.approx(sum(c.cost for c in loop) - alternative - switch)


def test_subagent_and_compaction_shares() -> None:
    calls = [call(30 * i, read=20_000, write=1_000, tools=("Edit a.py",)) for i in range(4)]
    calls += [
        call(200 + 10 * i, write=3_000, read=8_000, output=1_500, subagent=True) for i in range(6)
    ]
    compaction = "/p/s1/subagents/agent-acompact-9f.jsonl"
    calls.append(call(400, read=30_000, output=3_000, subagent=True, file=compaction))
    _, report = run(calls)
    share = only(report, "subagent_share")
    subagent_calls = calls[4:10]
    cheaper = PriceBook({"test-sonnet": SONNET})
    expected = sum(
        c.cost - cheaper.price(c._replace(model="test-sonnet"))[0] for c in subagent_calls
    )
    assert share.saving_usd == pytest.approx(expected)
    assert share.evidence["calls"] == 6
    compacted = only(report, "compaction_share")
    assert compacted.evidence["compactions"] == 1 and compacted.saving_usd == 0


def test_fast_mode_prices_the_same_tokens_at_the_standard_speed() -> None:
    fast_opus = {kind: 2 * rate for kind, rate in OPUS.items()}
    book = PriceBook({"test-opus": OPUS, "test-opus-fast": fast_opus})
    calls = [call(30 * i, fresh=1_000, read=20_000, output=2_000) for i in range(5)]
    calls[3:] = [
        c._replace(speed="fast", cost=book.price(c._replace(speed="fast"))[0]) for c in calls[3:]
    ]
    tree = build_tree(calls, [], Calendar(ZoneInfo("UTC")))
    item = only(advise(tree, book, SETTINGS, Attribution(tree)), "fast_mode")
    standard = sum(book.price(c._replace(speed=""))[0] for c in calls[3:])
    assert item.evidence["calls"] == 2
    assert item.saving_usd == pytest.approx(sum(c.cost for c in calls[3:]) - standard)
    assert item.saving_usd == pytest.approx(standard)  # twice the rates: half of it is saved
    _, none = run(calls[:3])
    assert not [found for found in none.items if found.rule == "fast_mode"]


def test_every_rule_has_settings_and_an_explanation() -> None:
    fields = {field.name for field in dataclasses.fields(AdviceSettings)}
    assert set(RULES) <= fields
    for rule_id, title, explanation in rule_help():
        assert title and len(explanation) > 80, rule_id


def test_export_carries_activity_and_advice_on_every_node() -> None:
    calls = [call(0, fresh=5, write=30_000), call(30, write=1_000, read=30_000)]
    calls.append(call(30 + 20 * 60, fresh=7, write=32_000))
    tree = build_tree(calls, [prompt(-1)], Calendar(ZoneInfo("UTC")))
    document = export_document(tree, "", "UTC", prices=PRICES, advice_settings=SETTINGS)
    ExportDocument.model_validate(document)

    def nodes(data: dict):
        yield data
        for child in data["children"]:
            yield from nodes(child)

    found = list(nodes(document["root"]))
    assert {data["kind"] for data in found} == {"all", "week", "day", "session", "turn", "call"}
    for data in found:
        parts = data["activity"].values()
        assert sum(part["tokens"] for part in parts) == data["total"]
        assert sum(part["cost_usd"] for part in parts) == pytest.approx(data["cost_usd"], abs=1e-5)
    advised = [data for data in found if data["advice"]]
    assert [data["kind"] for data in advised] == ["session"]
    assert advised[0]["advice"][0]["rule"] == "cache_rebuilt"


def test_overview_data_and_text() -> None:
    calls = [call(0, fresh=5, write=30_000), call(30, write=1_000, read=30_000)]
    calls.append(call(30 + 20 * 60, fresh=7, write=32_000))
    calls.append(call(9 * 86_400, session="s2", write=2_000, tools=("Bash pytest",)))
    tree, report = run(calls)
    data = build_overview(tree, Attribution(tree), report)
    assert [week["week"] for week in data["weeks"]] == ["2026-W47", "2026-W48"]
    assert data["peak_week"] == "2026-W47"
    assert data["by_source"][0]["name"] == "claude-code"
    assert data["top_advice"][0]["rule"] == "cache_rebuilt"
    text = "\n".join(render_overview(data))
    assert "▼ peak 2026-W47" in text and "Top advice" in text and "formula:" in text
    assert "novels" in text
    assert sparkline([0, 1, 4, 8]) == " ▂▅█"
    assert scale(1_200_000)["novels"] == pytest.approx(10.0)


def _logs(home) -> None:
    project = home / ".claude" / "projects" / "-home-dev-atlas"
    t0 = datetime(2026, 11, 19, 9, tzinfo=UTC)
    write_lines(
        project / "s1.jsonl",
        claude_prompt(t0),
        claude_call("m1", t0 + timedelta(seconds=5), cache_write=40_000),
        claude_call("m2", t0 + timedelta(seconds=35), cache_write=500, cache_read=40_000),
        claude_call("m3", t0 + timedelta(minutes=40), cache_write=41_000, input=20),
    )


def test_report_overview_in_text_and_json(isolated_home, capsys) -> None:
    _logs(isolated_home)
    assert main(["report", "--tz", "UTC", "--overview"]) == 0
    out = capsys.readouterr().out
    assert "Overview  2026-11-19 – 2026-11-19" in out and "Cache rebuilt after idle" in out
    assert main(["report", "--json", "--overview"]) == 0
    document = json.loads(capsys.readouterr().out)
    ReportDocument.model_validate(document)
    assert document["overview"]["top_advice"][0]["rule"] == "cache_rebuilt"
    assert main(["report", "--json"]) == 0
    assert "overview" not in json.loads(capsys.readouterr().out)  # the plain shape is unchanged


def test_advice_thresholds_come_from_the_config_file(isolated_home, capsys) -> None:
    _logs(isolated_home)
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[advice.cache_rebuilt]\nenabled = false\n")
    assert main(["report", "--json", "--overview"]) == 0
    assert json.loads(capsys.readouterr().out)["overview"]["top_advice"] == []


def test_a_turn_or_a_call_can_be_exported_and_advised() -> None:
    calls = [call(0, fresh=5, write=30_000, tools=("Read a.py",)), call(30, read=30_000)]
    tree = build_tree(calls, [prompt(-1)], Calendar(ZoneInfo("UTC")))
    turn = tree.children[0].children[0].children[0].children[0]
    for node in (turn, turn.children[0]):
        document = export_document(node, "x", "UTC", prices=PRICES, advice_settings=SETTINGS)
        ExportDocument.model_validate(document)
        assert document["root"]["advice"] == []


def test_the_new_core_modules_never_import_the_ui_or_pydantic() -> None:
    code = (
        "import sys, tokentree.core.attribution, tokentree.core.advice, tokentree.core.overview;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'textual', 'pydantic', 'genai_prices'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_rule_is_registered_once_with_its_settings_table_and_a_finder() -> None:
    """The engine, the marks and the help iterate the registry: nothing else lists rules."""
    tables = {f.name for f in dataclasses.fields(AdviceSettings)} - {
        "min_saving_usd",
        "min_saving_share",
    }
    assert tables == set(RULES)
    for rule in RULES.values():
        assert isinstance(getattr(AdviceSettings(), rule.id), rule.settings)
        assert rule.session is not None or rule.period is not None
    assert list(RULES)[-1] == "concentration"  # it counts the advice of the sessions it names
