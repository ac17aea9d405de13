"""Time `tokentree statusline` on the long histories scale.py keeps, as Claude Code runs it after
each message: a fresh process, the status JSON on stdin, the index already up to date.

    python benchmarks/statusline.py              # every kept history (scale.py builds them)
    python benchmarks/statusline.py --repeat 20

Each history's index is copied first (the copy is brought to this version's format once,
untimed), so the kept one is left as it is. Target: a warm line in under 100 ms, without a
config file and with one that sets a budget (reading a config file loads its validation).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import DATA  # noqa: E402
from scale import MONTH_CALLS, cached, folder_name, stage  # noqa: E402

TARGET_MS = 100.0
COMMAND = [sys.executable, "-m", "tokentree", "statusline"]
BUDGET = '[[budget]]\nperiod = "month"\nusd = 200\n'


def status_json(index: Path) -> bytes:
    """Claude Code's status JSON for the newest session in the index."""
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
        (session,) = db.execute("SELECT session FROM rollup ORDER BY last DESC LIMIT 1").fetchone()
    status = {
        "session_id": session,
        "cwd": "/home/dev/atlas",
        "model": {"id": "claude-opus-4-8"},
        "context_window": {
            "context_window_size": 200_000,
            "current_usage": {
                "input_tokens": 9,
                "cache_creation_input_tokens": 900,
                "cache_read_input_tokens": 80_000,
            },
        },
    }
    return json.dumps(status).encode()


def timed(env: dict[str, str], status: bytes) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(COMMAND, input=status, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    return seconds, done.stdout.decode().strip() or done.stderr.decode().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    histories = cached(args.seed, MONTH_CALLS)
    if not histories:
        print("no kept history: run benchmarks/scale.py first", file=sys.stderr)
        return 1
    rows = []
    for size in sorted(histories):
        kept = DATA / folder_name(size, args.seed, MONTH_CALLS) / "cache"
        with tempfile.TemporaryDirectory() as scratch:
            cache = Path(scratch) / "cache"
            shutil.copytree(kept, cache)
            env = stage(cache) | {"NO_COLOR": "1"}
            status = status_json(cache / "tokentree" / "index.sqlite")
            first, line = timed(env, status)  # the copy's format and prices brought up to date
            runs = [timed(env, status)[0] * 1000 for _ in range(args.repeat)]
            config = Path(scratch) / "config"
            (config / "tokentree").mkdir(parents=True)
            (config / "tokentree" / "config.toml").write_text(BUDGET, encoding="utf-8")
            budgeted = env | {"XDG_CONFIG_HOME": str(config)}
            with_budget = [timed(budgeted, status)[0] * 1000 for _ in range(args.repeat)]
        rows.append((size, first, runs, with_budget, line))
    print(
        f"{'calls':>9}  {'first':>7}  {'median':>7}  {'min':>7}  {'max':>7}"
        f"  {'budget':>7}  {'b. min':>7}  target"
    )
    for size, first, runs, with_budget, _ in rows:
        median, budgeted_median = statistics.median(runs), statistics.median(with_budget)
        verdict = "PASS" if max(median, budgeted_median) <= TARGET_MS else "over"
        print(
            f"{size:>9,}  {first:>6.2f}s  {median:>5.0f}ms  {min(runs):>5.0f}ms"
            f"  {max(runs):>5.0f}ms  {budgeted_median:>5.0f}ms  {min(with_budget):>5.0f}ms"
            f"  ≤{TARGET_MS:.0f} ms {verdict}"
        )
    print("budget, b. min: the median and the fastest with a config file that sets one budget")
    print(f"line: {rows[-1][4]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
