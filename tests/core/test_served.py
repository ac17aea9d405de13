"""A tree served by the index equals the tree built from every call, node for node.

Weeks and days come from the index's sums grouped by local day in SQL; a day's
sessions are read and built when it is opened. Whatever the zone (whole-hour,
half-hour and DST offsets), week start, scope or copies of a call in two
folders, every figure of every node must be what the full build gives,
including the activity sums that feed the Mix column, and the advice and overview an
analysis of it gives (read from kept day digests too).
"""

from __future__ import annotations

import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import claude_call, claude_prompt, jsonl
from tokentree.core.advice import AdviceSettings
from tokentree.core.advice.digest import KeptDigests
from tokentree.core.advice.report import advice_dicts
from tokentree.core.analysis import Analysis, analyse, analyse_served
from tokentree.core.attribution import Attribution
from tokentree.core.index import Index, Scope
from tokentree.core.overview import splits_of
from tokentree.core.pricing import PriceBook
from tokentree.core.served import ServedTree, served_tree, view_of
from tokentree.core.sources import SOURCES, explicit_roots, find_files
from tokentree.core.tree import Calendar, Node, Totals, build_tree, days_below
from tokentree.synthetic import generate

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham")


def _index(folders: list[Path]) -> tuple[Index, Scope]:
    roots = explicit_roots(folders)
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))
    return index, scope


def _same_totals(a: Totals, b: Totals) -> None:
    for name in a.__slots__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, float) or isinstance(y, float):
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), name
        else:
            assert x == y, name


def _same_node(built: Node, served: Node, depth: int) -> None:
    """The same row: key, label, figures, span, counts, models; `depth` levels of children."""
    assert (served.kind, served.key, served.label) == (built.kind, built.key, built.label)
    _same_totals(built.totals, served.totals)
    assert (served.start, served.end) == (built.start, built.end)
    assert (served.sessions, served.turns) == (built.sessions, built.turns)
    assert +served.models == +built.models
    if depth:
        built_children = sorted(built.children, key=lambda node: node.key)
        served_children = sorted(served.children, key=lambda node: node.key)
        assert [node.key for node in served_children] == [node.key for node in built_children]
        for one, other in zip(built_children, served_children, strict=True):
            _same_node(one, other, depth - 1)


def _same_activity(built: Attribution, served: Attribution, a: Node, b: Node) -> None:
    one, other = built[a].classes(), served[b].classes()
    assert one.keys() == other.keys()
    for name, (tokens, cost) in one.items():
        assert other[name][0] == tokens, name
        assert math.isclose(other[name][1], cost, rel_tol=1e-9, abs_tol=1e-9), name


def _compare(index: Index, scope: Scope, calendar: Calendar) -> None:
    """Served (its days then kept in the index) and served again from the kept days: both
    equal the built tree."""
    built = build_tree(index.calls(scope), index.prompts(scope), calendar)
    assert {call.source for call in index.calls(scope)} >= {"claude-code"}
    served = served_tree(index.reader(), scope, calendar, keep=index.keep_days)
    again = served_tree(index.reader(), scope, calendar, keep=index.keep_days)
    assert index.reader().kept_days(scope, view_of(scope, calendar))[0] == again.generation
    for tree in (served, again):
        _same_served(built, tree)
    _same_advice(built, served, again, index.prices)


def _same_served(built: Node, served: ServedTree) -> None:
    _same_node(built, served.root, depth=5)  # down to every call
    built_activity = Attribution(built)
    served_activity = Attribution(served.root, served.activity)
    pairs = [(built, served.root)]
    for week, other_week in zip(built.children, served.root.children, strict=True):
        pairs.append((week, other_week))
        pairs += list(zip(week.children, other_week.children, strict=True))
        for day, other_day in zip(week.children, other_week.children, strict=True):
            by_key = {session.key: session for session in other_day.children}
            pairs += [(session, by_key[session.key]) for session in day.children]
    for one, other in pairs:
        _same_activity(built_activity, served_activity, one, other)
    for wanted, found in zip(splits_of(built), served.splits(), strict=True):
        assert wanted.keys() == found.keys()
        assert all(math.isclose(wanted[k], found[k], abs_tol=1e-9) for k in wanted)


def _same_advice(built: Node, served: ServedTree, again: ServedTree, prices: PriceBook) -> None:
    """The advice and overview of the built tree, of the served one (each day's advice then
    digested and kept in the index) and of the one served again (every day replayed)."""
    settings = AdviceSettings()
    wanted = analyse(built, prices, settings, 0)
    assert wanted.advice.items  # the rules found something to say
    kept: dict[str, tuple[str, bytes]] = {}

    def keep(view: str, fresh: dict[str, tuple[str, bytes]], _paths: list[str]) -> None:
        kept.update(fresh)

    first = analyse_served(served, prices, settings, 0, KeptDigests(), keep)
    digests = KeptDigests()
    digests.load(dict(kept))
    replayed = analyse_served(again, prices, settings, 0, digests, keep)
    assert len(kept) == len(list(days_below(served.root)))
    for found in (first, replayed):
        _same_analysis(wanted, found)


def _same_analysis(wanted: Analysis, found: Analysis) -> None:
    """The same advice, word for word, its evidence's sums to the micro-dollar (summed in
    another order they may round either way: seed 1334 found one), and the same overview."""
    _close(advice_dicts(found.advice.items), advice_dicts(wanted.advice.items))
    _close(found.overview, wanted.overview)


def _close(found: object, wanted: object, where: str = "") -> None:
    """Equal, floats to the last place the overview keeps: 1e-6, which a sum taken in another
    order may round either way (the trees' own sums agree to 1e-9, see _same_node)."""
    if isinstance(wanted, float):
        assert isinstance(found, int | float), where
        assert math.isclose(found, wanted, abs_tol=1.01e-6), where
    elif isinstance(wanted, dict):
        assert isinstance(found, dict) and found.keys() == wanted.keys()
        for key in wanted:
            _close(found[key], wanted[key], f"{where}/{key}")
    elif isinstance(wanted, list | tuple):
        assert isinstance(found, list | tuple) and len(found) == len(wanted)
        for one, other in zip(found, wanted, strict=True):
            _close(one, other, where)
    else:
        assert found == wanted


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("week_start", [0, 6])
def test_the_sample_logs_served_equal_built(zone: str, week_start: int) -> None:
    index, scope = _index([SAMPLE])
    _compare(index, scope, Calendar(ZoneInfo(zone), week_start))


def test_a_day_is_read_only_when_opened() -> None:
    index, scope = _index([SAMPLE])
    served = served_tree(index.reader(), scope, Calendar(ZoneInfo("UTC")))
    days = [day for week in served.root.children for day in week.children]
    assert days and not any(day.loaded for day in days)
    assert days[0].children and days[0].loaded
    assert not any(day.loaded for day in days[1:])


def test_copies_in_two_folders_and_a_span(tmp_path: Path) -> None:
    """A backup of some logs: calls in both count once in the pair, each in its own."""
    first, backup = tmp_path / "a", tmp_path / "b"
    shutil.copytree(SAMPLE / "claude", first)
    projects = sorted((first / "projects").iterdir())
    for project in projects[::2]:
        shutil.copytree(project, backup / "projects" / project.name)
    index, both = _index([first, backup])
    calendar = Calendar(ZoneInfo("Europe/Berlin"))
    for roots in (both.roots, both.roots[:1], both.roots[1:]):
        _compare(index, Scope(roots, both.sources), calendar)
    span = Scope(
        both.roots,
        both.sources,
        since=calendar.day_start(date(2026, 11, 3)),
        until=calendar.day_start(date(2026, 11, 12)),
    )
    _compare(index, span, calendar)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    days=st.integers(1, 20),
    zone=st.sampled_from(ZONES),
    week_start=st.integers(0, 6),
)
def test_random_histories_served_equal_built(
    tmp_path_factory: pytest.TempPathFactory, seed: int, days: int, zone: str, week_start: int
) -> None:
    folder = tmp_path_factory.mktemp("history")
    generate(folder, seed=seed, days=days, end=date(2026, 3, 30))  # across a DST change
    index, scope = _index([folder / "claude", folder / "codex"])
    _compare(index, scope, Calendar(ZoneInfo(zone), week_start))


def test_a_live_append_regrows_only_the_days_it_changed(tmp_path: Path) -> None:
    """Calls appended to an old session and to today's: `grown` from the first change equals
    serving everything again; the days before it are the same objects."""
    folder = tmp_path / "logs"
    shutil.copytree(SAMPLE / "claude", folder)
    index, scope = _index([folder])
    calendar = Calendar(ZoneInfo("Europe/Paris"))
    served = served_tree(index.reader(), scope, calendar)
    days = list(days_below(served.root))
    old_day = days[len(days) // 2]
    when = datetime.fromtimestamp(old_day.start + 60, UTC)
    session_file = next((folder / "projects").rglob("*.jsonl"))
    with session_file.open("ab") as out:
        out.write(jsonl(claude_prompt(when, session="live-1")))
        out.write(jsonl(claude_call("msg_live_1", when + timedelta(seconds=5), session="live-1")))
        out.write(jsonl(claude_call("msg_live_2", when + timedelta(days=3), session="live-1")))
    roots = explicit_roots([folder])
    index.update(find_files(roots).files, roots, workers=1)
    changed = served.reads.changed(scope, served.generation)
    assert changed == (served.generation + 1, (when + timedelta(seconds=5)).timestamp())
    grown = served.grown()
    assert grown.generation == served.generation + 1
    again = served_tree(index.reader(), scope, calendar)
    _same_node(again.root, grown.root, depth=3)
    before = [day for day in days_below(grown.root) if day.key < old_day.key]
    assert before and all(any(day is old for old in days) for day in before)
    _compare(index, scope, calendar)
