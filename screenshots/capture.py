"""Take the README's screenshots: `tokentree --demo` at 120×36, on a throwaway HOME.

    python screenshots/capture.py          # writes screenshots/*.svg

Every path tokentree reads or writes points into a temporary folder, so the
real home directory (its logs, cache and config) is never touched. The clock is
fixed (a quarter of an hour after the demo's newest call), so the live line's
"today", 5-hour block and busy session come out the same on every run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (120, 36)
NOW = datetime(2026, 11, 22, 20, 20, tzinfo=UTC).timestamp()  # the demo's last call: 20:06
SHOTS = {
    "weeks": (),
    # W47 › Fri 20 Nov › mobile-app: a turn marked ◆, the advice for the session below
    "session": ("enter", "j", "j", "enter", "j", "enter"),
    # the same session's row, with its activity, context curve and advice
    "info": ("enter", "j", "j", "enter", "j", "i"),
    "overview": ("o",),
    "help": ("question_mark",),
}


def _isolate(home: Path) -> None:
    from tokentree.synthetic import isolated_environment

    os.environ.update(isolated_environment(home))


async def _shoot(name: str, keys: tuple[str, ...]) -> Path:
    from tokentree.app.app import create_app
    from tokentree.workspace import Choices

    app = create_app(Choices(demo=True, timezone="UTC"), live=False, clock=lambda: NOW)
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
    with tempfile.TemporaryDirectory(prefix="tokentree-shots-") as home:
        _isolate(Path(home))
        for name, keys in SHOTS.items():
            print(f"wrote {asyncio.run(_shoot(name, keys)).relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
