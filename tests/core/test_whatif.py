"""What if: a node's calls priced on the cheaper model of their family, or at standard speed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.builders import claude_call, write
from tokentree.cli import main
from tokentree.core.advice import ModelChoice
from tokentree.core.pricing import PriceBook
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.schemas import ReportDocument
from tokentree.core.whatif import what_ifs

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
