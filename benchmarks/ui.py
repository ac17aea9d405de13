"""Benchmark the list view on a node with 10,000 children: open it, page through it, re-sort it.

    python benchmarks/ui.py                 # 10,000 calls in one turn, 5 runs
    python benchmarks/ui.py --children 50000 --repeat 3

Writes one Claude Code session whose single turn made N calls into a temporary
HOME (every home and XDG folder points there: nothing of the real home is read),
runs the app headless at 120×36 through Textual's test pilot, and times each key
from the press until the app is idle again (the screen redrawn); a key bound to
nothing shows what the pilot itself costs. Prints a table of medians, fastest
and slowest over the runs. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from tests.builders import claude_call, claude_prompt, write  # noqa: E402

SIZE = (120, 36)
START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
PAGES = 10
PILOT = "a key that does nothing (pilot)"
TARGETS = {  # seconds, median less the pilot's own time
    "open the turn": 0.5,
    "page down": 0.05,
    "re-sort by tokens": 0.25,
    "re-sort by time": 0.25,
}


def isolate(home: Path) -> None:
    from tokentree.synthetic import isolated_environment

    os.environ.update(isolated_environment(home))


def write_logs(home: Path, children: int) -> None:
    """One session, one prompt, then `children` calls: a turn with that many call rows."""
    lines = [claude_prompt(START)] + [
        claude_call(
            f"msg_{i}",
            START + timedelta(seconds=1 + i),
            input=10 + i % 97,
            output=50 + i % 13,
            tools=(("Read", {"file_path": f"/src/f{i}.py"}),),
        )
        for i in range(children)
    ]
    write(home / ".claude" / "projects" / "-home-dev-atlas" / "big.jsonl", *lines)


async def timed(step: Callable[[], Awaitable[object]], times: int = 1) -> float:
    began = time.perf_counter()
    for _ in range(times):
        await step()
    return (time.perf_counter() - began) / times


async def one_run(children: int) -> dict[str, float]:
    from tokentree.app.app import create_app
    from tokentree.workspace import Choices

    app = create_app(Choices(timezone="UTC"), live=False)
    found: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        while app.snapshot is None or not app.snapshot.complete or app.analysis is None:
            await asyncio.sleep(0.01)
        found["analysis of the tree"] = app.analysis.seconds
        await pilot.press("enter", "enter", "enter")  # the week › the day › the session

        async def press(*keys: str) -> None:
            await pilot.press(*keys)
            await pilot.pause()

        found["a key that does nothing (pilot)"] = await timed(lambda: press("x"), PAGES)
        found[f"open the turn ({children:,} rows)"] = await timed(lambda: press("enter"))
        assert len(app.table.rows) == children
        found["page down (mean of 10)"] = await timed(lambda: press("pagedown"), PAGES)
        found["jump to the end"] = await timed(lambda: press("end"))
        found["re-sort by tokens"] = await timed(lambda: press("t"))
        found["re-sort by time"] = await timed(lambda: press("n"))
        found["back and open again"] = await timed(lambda: press("left", "enter"))
        await pilot.press("q")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=10_000, help="calls in the big turn")
    parser.add_argument("--repeat", type=int, default=5, help="runs (a fresh app each)")
    options = parser.parse_args()
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="tokentree-ui-") as folder:
        home = Path(folder)
        isolate(home)
        began = time.perf_counter()
        write_logs(home, options.children)
        print(f"wrote {options.children:,} calls in {time.perf_counter() - began:.1f} s")
        for number in range(options.repeat):
            runs.append(asyncio.run(one_run(options.children)))
            print(f"run {number + 1}/{options.repeat} done", file=sys.stderr)
    print()
    print(f"{'step':<34} {'median':>9} {'fastest':>9} {'slowest':>9}")
    medians = {}
    for step in runs[0]:
        values = [run[step] * 1000 for run in runs]
        medians[step] = statistics.median(values) / 1000
        print(
            f"{step:<34} {statistics.median(values):>7.0f}ms "
            f"{min(values):>7.0f}ms {max(values):>7.0f}ms"
        )
    print()
    failed = False
    for name, target in TARGETS.items():
        step = next(step for step in medians if step.startswith(name))
        spent = medians[step] - medians[PILOT]
        verdict = "PASS" if spent <= target else "FAIL"
        failed |= verdict == "FAIL"
        shown = f"{spent * 1000:.0f} ms (the pilot's time excluded), target {target * 1000:.0f}"
        print(f"{verdict}  {name}: {shown}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
