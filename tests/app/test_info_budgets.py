"""Budgets in the info panel: the root's, a period row's own, a project's on its sessions."""

from __future__ import annotations

from pathlib import Path

from tests.app.conftest import SIZE, make_app, ready, settle, text_of
from tokentree.core.tree import Kind

BUDGETS = """
[[budget]]
period = "week"
usd = 1000

[[budget]]
period = "month"
tokens = 100_000
project = "atlas"
"""


async def test_the_panel_shows_the_budgets_a_row_is_under(usage_logs: Path) -> None:
    config = usage_logs / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(BUDGETS, encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        week, atlas = app.snapshot.budgets
        await pilot.press("i")  # the newest week: this week, under the week's budget
        await settle(app)
        assert app.info.node.kind is Kind.WEEK
        text = text_of(app.info.content)
        assert f"week · $1,000: {week.used_amount} ({week.share:.0%}), forecast $" in text
        assert "atlas" not in text.split("budgets", 1)[1]  # a week holds other projects too
        await pilot.press("enter", "enter")  # the week's newest day, its first session
        await settle(app)
        session = app.info.node
        assert session.kind is Kind.SESSION and session.project.endswith("atlas")
        text = text_of(app.info.content)
        assert f"month · atlas · 100,000 tokens: {atlas.used_amount} ({atlas.share:.0%})" in text
        assert f"this session: {session.totals.total / 100_000:.0%} of the limit" in text
        assert "week · $1,000" not in text
