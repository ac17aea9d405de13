"""SVG snapshots of the screens users see (pytest --snapshot-update after a deliberate change)."""

from __future__ import annotations

import pytest

from tests.app.conftest import after, make_app


def test_root_weeks(snap_compare, usage_logs) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=after())


def test_root_weeks_at_80_columns(snap_compare, usage_logs) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=after())


def test_inside_a_session(snap_compare, usage_logs) -> None:
    """W47 › 17 Nov › atlas: its turns, with the source badge on the parent's rows."""
    keys = ("enter", "enter", "enter")
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=after(*keys))


def test_info_panel_on_a_call(snap_compare, usage_logs) -> None:
    keys = ("enter", "enter", "enter", "enter", "i")
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=after(*keys))


def test_help(snap_compare, usage_logs) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=after("question_mark"))


THEMES = {"dark": (), "light": ("T",)}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("theme", list(THEMES))
def test_muted_text_reads_in_both_themes(snap_compare, usage_logs, theme, size) -> None:
    """W47 › 17 Nov: headers, %, counts, the live line and the key hints in muted text."""
    keys = (*THEMES[theme], "enter", "enter")
    assert snap_compare(make_app(), terminal_size=size, run_before=after(*keys))
