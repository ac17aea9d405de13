"""The fixtures several core test modules share."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tokentree.core.index import Index, Scope
from tokentree.core.sources import SOURCES, explicit_roots, find_files
from tokentree.core.tree import Calendar

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"
DEMO_ZONE = "America/Los_Angeles"


@pytest.fixture(scope="module")
def demo() -> tuple[Index, Scope, Calendar]:
    """The bundled sample logs indexed in memory, their scope, and a calendar with DST."""
    roots = explicit_roots([SAMPLE])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))
    return index, scope, Calendar(ZoneInfo(DEMO_ZONE))
