"""Take the README's screenshots: `tokentree --demo` at 120×36, on a throwaway HOME.

    python screenshots/capture.py          # writes screenshots/*.svg

Every path tokentree reads or writes points into a temporary folder (a new one
per shot, so no shot inherits another's remembered sort or grouping), and the
real home directory (its logs, cache and config) is never touched. The clock is
the demo's (workspace.DEMO_NOW, what `tokentree --demo` opens on), held still, so
the live line's "today", 5-hour block and busy session come out the same on
every run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (120, 36)
SHOTS = {
    "weeks": (),
    # W47 › Fri 20 Nov › mobile-app: a turn marked ◆, the advice for the session below
    "session": ("enter", "j", "j", "enter", "j", "enter"),
    # the same session's row, with its activity, context curve and advice
    "info": ("enter", "j", "j", "enter", "j", "i"),
    "overview": ("o",),
    "help": ("question_mark",),
    # b b b: one row per project; then atlas's sessions, whole
    "projects": ("b", "b", "b"),
    # /opus: only Opus calls, at every level; inside W47, its days summed again
    "filtered": ("slash", *"opus", "enter", "enter"),
}


def _isolate(home: Path) -> None:
    from tokentree.synthetic import isolated_environment

    os.environ.update(isolated_environment(home))


async def _shoot(name: str, keys: tuple[str, ...]) -> Path:
    from tokentree.app.app import create_app
    from tokentree.workspace import DEMO_NOW, Choices

    app = create_app(Choices(demo=True, timezone="UTC"), live=False, clock=lambda: DEMO_NOW)
    async with app.run_test(size=SIZE) as pilot:
        while app.snapshot is None or not app.snapshot.complete or app.analysis is None:
            await asyncio.sleep(0.02)
        await pilot.press(*keys)
        for _ in range(3):
            others = [w for w in app.workers if w.group != "index"]
            if others:  # an empty list would wait for every worker, the index's too
                await app.workers.wait_for_complete(others)
            await pilot.pause(0.05)
        target = HERE / f"{name}.svg"
        app.save_screenshot(target.name, str(HERE))
    return target


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    for name, keys in SHOTS.items():
        with tempfile.TemporaryDirectory(prefix="tokentree-shots-") as home:
            _isolate(Path(home))
            print(f"wrote {asyncio.run(_shoot(name, keys)).relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
