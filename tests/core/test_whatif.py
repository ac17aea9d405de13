"""What if: a node's calls priced on the cheaper model of their family, or at standard speed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from tests.builders import claude_call, write
from tokentree.cli import main
from tokentree.core.advice import ModelChoice
from tokentree.core.pricing import PriceBook
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.schemas import ExportDocument, ReportDocument
from tokentree.core.whatif import Repricing, what_ifs

PRICES = PriceBook(
    {
        "big-model": {"input": 10.0, "output": 50.0},
        "big-model-fast": {"input": 20.0, "output": 100.0},
        "small-model": {"input": 1.0, "output": 5.0},
    }
)
ALTERNATIVES = ModelChoice(alternatives={"big": "small-model"})
WHEN = datetime(2026, 11, 20, 9, tzinfo=UTC).timestamp()


def call(model: str, speed: str = "", unpriced: bool = False) -> ApiCall:
    draft = ApiCall("claude-code", "k", "s", "", WHEN, model, Tokens(input=1_000_000), speed=speed)
    return draft._replace(cost=PRICES.price(draft)[0], unpriced=unpriced)


def test_the_calls_are_priced_on_the_cheaper_model_and_at_standard_speed() -> None:
    calls = [call("big-model"), call("big-model", speed="fast"), call("small-model")]
    cheaper, standard = what_ifs(calls, PRICES, ALTERNATIVES)
    assert (cheaper.way, cheaper.cost, cheaper.actual) == ("on small-model", 3.0, 31.0)
    assert (standard.way, standard.cost, standard.actual) == ("at standard speed", 21.0, 31.0)
    assert cheaper.text == "on small-model: $3.00 instead of $31.00"


def test_nothing_to_say_where_no_call_changes() -> None:
    assert what_ifs([call("small-model")], PRICES, ALTERNATIVES) == []
    assert what_ifs([call("big-model", unpriced=True)], PRICES, ALTERNATIVES) == []


def test_a_call_the_other_way_cannot_price_keeps_its_cost_and_says_so() -> None:
    (cheaper,) = what_ifs(
        [call("big-model")], PRICES, ModelChoice(alternatives={"big": "no-such-model"})
    )
    assert (cheaper.cost, cheaper.kept) == (10.0, 1)
    assert cheaper.text.endswith("(1 calls as they were)")


def test_report_by_month_weighs_each_month_against_the_plan(isolated_home: Path, capsys) -> None:
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[plan]\nname = "Max"\nusd_per_month = 100\n[prices."big-model"]\ninput = 10\noutput = 0\n',
        encoding="utf-8",
    )
    logs = isolated_home / "logs" / "projects" / "-p"
    when = datetime(2026, 11, 20, 9, tzinfo=UTC)
    write(logs / "s.jsonl", claude_call("m1", when, model="big-model", input=25_000_000, output=0))
    assert main(["report", "--json", "--by", "month", "--tz", "UTC", str(logs.parent.parent)]) == 0
    document = json.loads(capsys.readouterr().out)
    ReportDocument.model_validate(document)
    assert document["plan"] == {"name": "Max", "usd_per_month": 100.0}
    assert [(row["key"], row["plan_multiple"]) for row in document["rows"]] == [("2026-11", 2.5)]
    assert main(["report", "--by", "month", "--tz", "UTC", str(logs.parent.parent)]) == 0
    expected = "2026-11: $250 of usage on the Max plan ($100/month): 2.5×"
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize("by", ["day", "source"])
def test_the_plan_is_only_weighed_by_month(isolated_home: Path, capsys, by: str) -> None:
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[plan]\nname = "Max"\nusd_per_month = 100\n', encoding="utf-8")
    assert main(["report", "--json", "--by", by, "--demo"]) == 0
    assert "plan" not in json.loads(capsys.readouterr().out)


def test_repricing_in_parts_adds_up_to_repricing_the_whole() -> None:
    calls = [call("big-model"), call("big-model", speed="fast"), call("small-model")]
    cheaper = cache(ALTERNATIVES.cheaper)
    whole = Repricing(PRICES, cheaper).add(calls)
    parts = Repricing(PRICES, cheaper).add(calls[:1])
    parts += Repricing(PRICES, cheaper).add(calls[1:])
    assert parts.results() == whole.results() == what_ifs(calls, PRICES, ALTERNATIVES)
    assert [item.as_dict() for item in whole.results()] == [
        {"way": "on small-model", "cost_usd": 3.0, "actual_usd": 31.0, "saving_usd": 28.0,
         "kept_calls": 0},
        {"way": "at standard speed", "cost_usd": 21.0, "actual_usd": 31.0, "saving_usd": 10.0,
         "kept_calls": 0},
    ]  # fmt: skip


EXPORT_CONFIG = """
[plan]
name = "Pro"
usd_per_month = 10
[prices."big-model"]
input = 10
output = 0
[prices."small-model"]
input = 1
output = 0
[advice.model_choice.alternatives]
big = "small-model"
"""


def test_the_export_reprices_each_session_and_the_root_and_weighs_months_on_the_plan(
    isolated_home: Path, capsys
) -> None:
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(EXPORT_CONFIG, encoding="utf-8")
    logs = isolated_home / "logs" / "projects" / "-p"
    october, november = datetime(2026, 10, 30, 9, tzinfo=UTC), datetime(2026, 11, 20, 9, tzinfo=UTC)
    big, small = {"model": "big-model", "output": 0}, {"model": "small-model", "output": 0}
    write(logs / "a.jsonl", claude_call("a1", october, session="a", input=1_000_000, **big))
    write(
        logs / "b.jsonl",
        claude_call("b1", november, session="b", input=2_000_000, **big),
        claude_call("b2", november, session="b", input=1_000_000, **small),
    )
    assert main(["export", "--tz", "UTC", str(logs.parent.parent)]) == 0
    document = json.loads(capsys.readouterr().out)
    ExportDocument.model_validate(document)

    def what_if(node: dict) -> list[tuple[str, float, float, float]]:
        items = node["what_if"]
        return [(i["way"], i["cost_usd"], i["actual_usd"], i["saving_usd"]) for i in items]

    root = document["root"]
    assert what_if(root) == [("on small-model", 4.0, 31.0, 27.0)]  # $1 + $2 + $1 vs $10 + $21
    sessions = {
        node["session_id"]: what_if(node) for node in _walk(root) if node["kind"] == "session"
    }
    assert sessions == {
        "a": [("on small-model", 1.0, 10.0, 9.0)],
        "b": [("on small-model", 3.0, 21.0, 18.0)],
    }
    assert not any("what_if" in node for node in _walk(root) if node["kind"] in ("week", "day"))
    assert document["plan"] == {
        "name": "Pro",
        "usd_per_month": 10.0,
        "months": [
            {"month": "2026-10", "cost_usd": 10.0, "plan_multiple": 1.0},
            {"month": "2026-11", "cost_usd": 21.0, "plan_multiple": 2.1},
        ],
    }
    day_path = "2026-W47/2026-11-20"
    assert main(["export", "--tz", "UTC", "--node", day_path, str(logs.parent.parent)]) == 0
    day = json.loads(capsys.readouterr().out)
    assert what_if(day["root"]) == [("on small-model", 3.0, 21.0, 18.0)]
    assert day["plan"]["months"] == [{"month": "2026-11", "cost_usd": 21.0, "plan_multiple": 2.1}]


def _walk(node: dict) -> list[dict]:
    return [node, *(below for child in node["children"] for below in _walk(child))]
