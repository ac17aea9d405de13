"""What the view says, and how it fits: narrow terminals, plurals, the root's range, aligned
costs, split activity, advice on the row it marks, one meaning per symbol."""

from __future__ import annotations

from datetime import date

from textual.color import Color

from tests.app.conftest import SESSION, make_app, open_key, ready, settle, text_of
from tokentree import format as fmt
from tokentree.app.screens.help import help_text
from tokentree.app.widgets.table_layout import COST_WIDTH, fit_mark, layout
from tokentree.core.attribution import activity_split
from tokentree.core.view import FLAGS, Graph


def lines(app) -> list[str]:
    return [app.table.render_line(y).text for y in range(len(app.table.rows) + 1)]


# --- narrow terminals -----------------------------------------------------------------------------


def test_columns_give_way_to_the_label_mix_first_the_bar_last() -> None:
    def shown(width: int, label: int) -> tuple[bool, bool, bool, bool]:
        lay = layout(width, Graph.BOTH, 0, True, label=label)
        return bool(lay.mix), bool(lay.cache), bool(lay.percent), bool(lay.bar)

    # 35 fixed cells (cost, tokens, count, badge) + 44 of label; Mix 8, Cache 7, % 7, bar 7+
    assert shown(108, 44) == (True, True, True, True)
    assert shown(107, 44) == (False, True, True, True)
    assert shown(99, 44) == (False, False, True, True)
    assert shown(92, 44) == (False, False, False, True)
    assert shown(85, 44) == (False, False, False, False)
    assert layout(92, Graph.BOTH, 0, True, label=44).label == 44
    assert shown(200, 90) == (True, True, True, True), "a label wants LABEL_WANT cells at most"


async def test_at_90_columns_session_labels_are_whole(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(90, 30)) as pilot:
        await ready(app)
        await open_key(app, pilot, "2026-W47")
        await open_key(app, pilot, "2026-11-17")  # two sessions, one with a 44-cell label
        header, *rows = lines(app)
        assert "Bar" in header and "Cache" not in header and "%" not in header
        label = "atlas · 14:02–15:35 · sonnet-4.5 + haiku-4.5"
        assert any(row.rstrip().endswith(label) for row in rows)


async def test_advice_marks_shrink_to_their_glyph_when_narrow(advice_logs) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app)
        await open_key(app, pilot, "2026-W47")
        await open_key(app, pilot, "2026-11-18")
        await open_key(app, pilot, SESSION)  # its turns: #2 rebuilt the cache
        row = lines(app)[1 + app.table.listing.index_of("2")].rstrip()
        assert row.endswith("#2 09:25 · Read×1 Edit×1 ◆") and "cache rebuilt" not in row
    assert fit_mark("◆ cache rebuilt after 24 min idle ≈ $0.29 · ▲ 44% in one session", 12) == (
        "◆▲".ljust(12)
    )


async def test_the_info_panel_scrolls_at_80_by_24(advice_logs) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app)
        await open_key(app, pilot, "2026-W47")
        await open_key(app, pilot, "2026-11-18")
        await pilot.press("i")  # on the session: activity, advice and its arithmetic
        await settle(app)
        info = app.info
        assert info.max_scroll_y > 0 and info.scroll_y == 0
        assert info.region.bottom <= app.status.region.y, "nothing under the status line"
        await pilot.press("J", "J", "J", "J", "J", "J")
        assert info.scroll_y == info.max_scroll_y
        await pilot.press("K")
        assert info.scroll_y < info.max_scroll_y
        assert "formula:" in text_of(info.content, 76)


def test_the_help_keeps_the_config_table_names() -> None:
    text = text_of(help_text(), 120)
    assert "[advice.<rule>]" in text and "[advice.cache_rebuilt]" in text
    assert "gg first row, G last row" in text


# --- say it right -------------------------------------------------------------------------------


async def test_counts_of_one_are_singular(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app)
        await open_key(app, pilot, "2026-W47")
        app.table.move_to(app.table.listing.index_of("2026-11-20"))  # one Codex call that day
        await pilot.press("i")
        await settle(app)
        text = text_of(app.info.content)
        assert "1 session · 1 turn · 1 call" in text and "1 calls" not in text
        await pilot.press("escape", "enter")
        assert "1 session · 1 call" in app.path_bar.render().plain


async def test_the_root_is_named_by_the_range_asked_for(usage_logs) -> None:
    for choices, name in (
        ({}, "All time"),
        ({"since": date(2026, 11, 17)}, "Since 2026-11-17"),
        ({"until": date(2026, 11, 17)}, "Until 2026-11-17"),
        ({"since": date(2026, 11, 12), "until": date(2026, 11, 17)}, "2026-11-12 – 2026-11-17"),
    ):
        app = make_app(**choices)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(app)
            assert app.snapshot.tree.label == name
            assert app.path_bar.crumbs(100) == name
            await pilot.press("i")
            await settle(app)
            assert app.table.current is not None  # the panel is of the row, the root is the list
            assert "All time" not in app.path_bar.render().plain or name == "All time"


async def test_costs_line_up_on_the_decimal_point(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app)
        weeks = [line[1 : 1 + COST_WIDTH] for line in lines(app)[1:]]
        assert len(weeks) == 2 and len({cell.index(".") for cell in weeks}) == 1
        await open_key(app, pilot, "2026-W47")
        days = [line[1 : 1 + COST_WIDTH] for line in lines(app)[1:]]
        assert "unpriced" in [cell.strip() for cell in days]  # no digits: right-aligned


async def test_a_call_split_between_classes_says_so(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter", "enter")  # a turn's calls
        call = app.table.current.call
        assert activity_split(call) in {"reading", "editing", "commands", "testing"}
        both = call._replace(tools=("Read app.py", "Edit app.py"))
        assert activity_split(both) == "reading 50% · editing 50%"
        three = call._replace(tools=("Edit a.py", "Read a.py", "Edit b.py"))
        assert activity_split(three) == "editing 67% · reading 33%"


async def test_i_on_a_marked_turn_shows_the_advice_that_marks_it(advice_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await open_key(app, pilot, "2026-W47")
        await open_key(app, pilot, "2026-11-18")
        await open_key(app, pilot, SESSION)
        app.table.move_to(app.table.listing.index_of("2"))  # "◆ cache rebuilt after 24 min idle"
        await pilot.press("i")
        await settle(app)
        text = text_of(app.info.content)
        assert "Cache rebuilt after idle" in text and "formula:" in text
        await pilot.press("k")  # turn 1 has no advice
        await settle(app)
        assert "Cache rebuilt after idle" not in text_of(app.info.content)


def test_a_cost_is_placed_by_its_decimal_point() -> None:
    costs = ["$12.34", "$0.0012", "≥$1.20", "$123", "unpriced"]
    shape = fmt.decimal_shape(costs)
    assert shape == (4, 5)
    cells = [fmt.on_decimal(cost, shape, COST_WIDTH) for cost in costs]
    assert cells == [" $12.34  ", "  $0.0012", " ≥$1.20  ", "$123     ", " unpriced"]
    assert fmt.on_decimal("$12,345", (7, 5), COST_WIDTH) == "  $12,345"  # too wide: right


def test_each_glyph_means_one_thing() -> None:
    glyphs = [flag.glyph for flag in FLAGS]
    assert len(set(glyphs)) == len(glyphs)
    assert "≥" not in glyphs, "≥ marks a cost with unpriced calls in it"


def contrast(one: Color, other: Color) -> float:
    """WCAG's contrast ratio of two colours."""

    def luminance(colour: Color) -> float:
        parts = [c / 255 for c in colour.rgb]
        linear = [p / 12.92 if p <= 0.03928 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def test_muted_text_is_dimmer_than_text_and_readable_in_both_themes(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(app)
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            for widget, name in (
                (app.table, "usage-table--dim"),
                (app.status, "status-bar--action"),
            ):
                base = widget.rich_style
                muted = widget.get_component_rich_style(name, partial=True).color
                text, background = (Color.from_rich_color(c) for c in (base.color, base.bgcolor))
                muted = Color.from_rich_color(muted)
                assert contrast(muted, background) >= 4.5, (theme, name)
                assert contrast(muted, background) < contrast(text, background), (theme, name)
