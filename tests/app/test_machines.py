"""Another machine's call ledger in the view: `b` reaches machine, the root counts machines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.app.conftest import ALL_CALLS, SIZE, make_app, ready, settle
from tests.builders import claude_call, claude_prompt, write
from tokentree.app.widgets.bars import totals_parts
from tokentree.core.ledger import write_ledger
from tokentree.core.tree import Grouping, Kind
from tokentree.workspace import Choices, open_workspace

DESK = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


def desk_ledger(tmp_path: Path, home: Path) -> Path:
    """A synced folder with the NDJSON ledger of a desk that made two calls; this machine's
    config calls it the laptop."""
    sid = "dddd0000-0000-4000-8000-000000000001"
    write(
        tmp_path / "desk" / "-src-desk" / "d.jsonl",
        claude_prompt(DESK, session=sid),
        claude_call("msg_desk_1", DESK, input=20, output=200, session=sid),
        claude_call("msg_desk_2", DESK.replace(minute=5), input=30, output=300, session=sid),
    )
    desk = open_workspace(Choices(paths=[str(tmp_path / "desk")], use_cache=False))
    write_ledger(desk.index, desk.scope, tmp_path / "sync" / "desk", "desk", "ndjson")
    config = home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('machine = "laptop"\n')
    return tmp_path / "sync"


async def test_b_reaches_machine_with_other_machines_ledgers(usage_logs, tmp_path) -> None:
    sync = desk_ledger(tmp_path, usage_logs)
    app = make_app(machines=True, ledgers=[str(sync)])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        assert app.view.root.totals.calls == ALL_CALLS + 2
        assert "2 machines" in totals_parts(app.view.root)
        for _ in range(6):  # month, day, project, model, source, machine
            await pilot.press("b")
            await settle(app)
        assert app.grouping is Grouping.MACHINE
        assert app.table.listing.child_kind is Kind.MACHINE
        rows = {row.label: row.totals.calls for row in app.table.rows}
        assert rows == {"laptop": ALL_CALLS, "desk": 2}
        assert "2 machines" in totals_parts(app.view.root)
        await pilot.press("b")
        await settle(app)
        assert app.grouping is Grouping.WEEK


async def test_b_passes_machine_by_without_other_machines(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        app.grouping = Grouping.SOURCE
        await pilot.press("b")
        await settle(app)
        assert app.grouping is Grouping.WEEK
        assert not any("machine" in part for part in totals_parts(app.view.root))
