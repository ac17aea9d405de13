"""Benchmark tokentree against ccusage on N MB of generated Claude Code logs.

    python benchmarks/run.py --mb 1000

Generates (or reuses) Claude-only logs in benchmarks/.data/, then times
`tokentree report --json` and `ccusage claude daily --json` as child processes:
cold index, warm start, one appended call, and the peak RSS of each. See README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from tokentree.synthetic import generate  # noqa: E402

DATA = HERE / ".data"
TOTAL_KEYS = ("input", "output", "cache_write", "cache_read", "total")
CCUSAGE_KEYS = {
    "input": "inputTokens",
    "output": "outputTokens",
    "cache_write": "cacheCreationTokens",
    "cache_read": "cacheReadTokens",
    "total": "totalTokens",
}


@dataclass(frozen=True)
class Run:
    """One child process: wall time, its peak RSS (and its children's), and what it printed."""

    seconds: float
    rss_kb: int
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Results:
    cold: list[Run] = dataclasses.field(default_factory=list)
    warm: list[Run] = dataclasses.field(default_factory=list)
    append: list[Run] = dataclasses.field(default_factory=list)

    def all(self) -> list[Run]:
        return [*self.cold, *self.warm, *self.append]


def run(cmd: Sequence[str], env: dict[str, str]) -> Run:
    """Time one command; `os.wait4` gives the child's own peak RSS (ru_maxrss, KB on Linux)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss, proc.returncode, out.read(), err.read())


# ---------------------------------------------------------------------- data


def dataset(mb: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The generated logs for (mb, seed), made once and reused; a partial one is never reused."""
    folder = DATA / f"claude-{mb}mb-seed{seed}"
    marker = folder / "summary.json"
    restore_appends(folder)
    if marker.is_file():
        return folder, json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    partial = DATA / f".partial-{mb}mb-seed{seed}"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"generating {mb} MB of Claude Code logs into {folder} ...", file=sys.stderr)
    started = time.perf_counter()
    summary = generate(partial, seed=seed, target_bytes=mb * 1_000_000, claude_only=True)
    took = time.perf_counter() - started
    info = {k: str(v) if not isinstance(v, int) else v for k, v in vars(summary).items()}
    info["generate_seconds"] = round(took, 1)
    (partial / "summary.json").write_text(json.dumps(info, indent=2) + "\n")
    partial.rename(folder)
    print(f"generated in {took:.1f} s", file=sys.stderr)
    return folder, info


def restore_appends(folder: Path) -> None:
    """Undo the calls a previous (interrupted) run appended, so the data set stays as generated."""
    state = folder / "appended.json"
    if not state.is_file():
        return
    for path, size in json.loads(state.read_text()).items():
        if Path(path).is_file():
            os.truncate(path, size)
    state.unlink()


def append_target(folder: Path) -> Path:
    """The largest main-session transcript: the worst case for an incremental re-read."""
    files = [
        p for p in (folder / "claude" / "projects").glob("*/*.jsonl") if "agent-" not in p.name
    ]
    return max(files, key=lambda p: (p.stat().st_size, p.name))


def append_call(path: Path, n: int) -> dict[str, int]:
    """Append one new assistant call (a copy of the file's last one, new ids); returns its usage."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 512 * 1024))
        tail = f.read().splitlines()
    last = next(
        orjson.loads(line)
        for line in reversed(tail)
        if b'"type":"assistant"' in line and b'"requestId"' in line
    )
    usage = {
        "input_tokens": 7,
        "cache_creation_input_tokens": 1_234 + n,
        "cache_read_input_tokens": 50_000 + n,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_234 + n},
        "output_tokens": 321,
        "service_tier": "standard",
    }
    last["parentUuid"] = last["uuid"]
    last["uuid"] = f"00000000-0000-4000-8000-{n:012d}"
    last["requestId"] = f"req_011CBENCHMARKAPPEND{n:06d}"
    last["message"] = {
        **last["message"],
        "id": f"msg_01BENCHMARKAPPEND{n:09d}",
        "content": [{"type": "text", "text": "Appended by benchmarks/run.py."}],
        "stop_reason": "end_turn",
        "usage": usage,
    }
    with open(path, "ab") as f:
        f.write(orjson.dumps(last, option=orjson.OPT_APPEND_NEWLINE))
    return {
        "input": 7,
        "output": 321,
        "cache_write": 1_234 + n,
        "cache_read": 50_000 + n,
    }


# ------------------------------------------------------------------ commands


def find_ccusage(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    local = HERE / "node_modules" / ".bin" / "ccusage"
    return shutil.which("ccusage") or (str(local) if local.exists() else None)


def environment(folder: Path, scratch: Path, cache: Path) -> dict[str, str]:
    """A clean environment: only the generated logs are visible, never the real home."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch / "home"),
        "CLAUDE_CONFIG_DIR": str(folder / "claude"),
        "CODEX_HOME": str(scratch / "codex"),
        "XDG_CACHE_HOME": str(cache),
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "XDG_DATA_HOME": str(scratch / "data"),
        "PYTHONPATH": str(REPO),
        "NO_COLOR": "1",
        "TZ": "UTC",
    }
    for key in ("LANG", "LC_ALL", "SYSTEMROOT"):
        if key in os.environ:
            env[key] = os.environ[key]
    for sub in ("home", "codex", "config", "data"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    return env


def tokentree_totals(r: Run) -> dict[str, int] | None:
    try:
        totals = json.loads(r.stdout)["totals"]
        return {k: int(totals[k]) for k in (*TOTAL_KEYS, "calls") if k in totals}
    except (ValueError, KeyError, TypeError):
        return None


def ccusage_totals(r: Run) -> dict[str, int] | None:
    try:
        totals = json.loads(r.stdout)["totals"]
        return {k: int(totals[v]) for k, v in CCUSAGE_KEYS.items()}
    except (ValueError, KeyError, TypeError):
        return None


# ------------------------------------------------------------------- report


def seconds(runs: list[Run]) -> str:
    if not runs:
        return "–"
    if not all(r.ok for r in runs):
        return "failed"
    return f"{statistics.median(r.seconds for r in runs):.2f} s"


def megabytes(runs: list[Run]) -> str:
    if not runs:
        return "–"
    return f"{max(r.rss_kb for r in runs) / 1024:,.0f} MB"


def ratio(a: list[Run], b: list[Run]) -> str:
    if not a or not b or not all(r.ok for r in a + b):
        return ""
    return (
        f"{statistics.median(r.seconds for r in a) / statistics.median(r.seconds for r in b):.2f}×"
    )


def rss_ratio(a: list[Run], b: list[Run]) -> str:
    if not a or not b:
        return ""
    return f"{max(r.rss_kb for r in a) / max(r.rss_kb for r in b):.2f}×"


def print_report(
    info: dict[str, Any],
    folder: Path,
    tt: Results,
    cc: Results,
    expected: dict[str, int],
    cc_version: str,
    repeat: int,
) -> None:
    mb = int(info["bytes"]) / 1e6
    print(
        f"\nData: {folder.relative_to(REPO)}: {int(info['files']):,} files, {mb:,.0f} MB, "
        f"{int(info['claude_calls']):,} API calls in {int(info['claude_sessions']):,} sessions "
        f"(generated in {info.get('generate_seconds', '?')} s)"
    )
    print(
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, ccusage {cc_version or 'not found'}\n"
    )
    print("| | tokentree | ccusage | tokentree / ccusage |")
    print("|---|---:|---:|---:|")
    print(
        f"| cold index (empty cache, median of {len(tt.cold or cc.cold)}) | {seconds(tt.cold)} | "
        f"{seconds(cc.cold)} | "
        f"{ratio(tt.cold, cc.cold)} |"
    )
    print(
        f"| warm start, nothing changed (median of {repeat}) | {seconds(tt.warm)} | "
        f"{seconds(cc.warm)} | {ratio(tt.warm, cc.warm)} |"
    )
    print(
        f"| one appended call (median of {repeat}) | {seconds(tt.append)} | "
        f"{seconds(cc.append)} | {ratio(tt.append, cc.append)} |"
    )
    print(
        f"| peak RSS (max over all runs) | {megabytes(tt.all())} | {megabytes(cc.all())} | "
        f"{rss_ratio(tt.all(), cc.all())} |"
    )

    rows: list[tuple[str, dict[str, int] | None]] = [("expected (generator)", expected)]
    if tt.all():
        rows.append(("tokentree", tokentree_totals(tt.all()[-1])))
    if cc.all():
        rows.append(("ccusage", ccusage_totals(cc.all()[-1])))
    print(
        "\n| totals after the appends | calls | input | output | cache write | cache read | total |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, totals in rows:
        if totals is None:
            print(f"| {name} | (no JSON totals) | | | | | |")
            continue
        cells = [f"{totals[k]:,}" if k in totals else "" for k in ("calls", *TOTAL_KEYS)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    found = [t for _, t in rows[1:] if t is not None]
    if found:
        same = all(all(t.get(k) == expected[k] for k in TOTAL_KEYS) for t in found)
        print(f"\nToken totals agree with the generator: {'yes' if same else 'NO'}")

    if tt.all() and cc.all() and all(r.ok for r in tt.all() + cc.all()):
        med = statistics.median
        checks = [
            (
                "cold index no slower than ccusage",
                med(r.seconds for r in tt.cold) <= med(r.seconds for r in cc.cold),
            ),
            (
                "warm start under 1/10 of ccusage",
                med(r.seconds for r in tt.warm) < med(r.seconds for r in cc.warm) / 10,
            ),
            (
                "peak RSS below ccusage",
                max(r.rss_kb for r in tt.all()) < max(r.rss_kb for r in cc.all()),
            ),
        ]
        print("\nTargets:")
        for name, passed in checks:
            print(f"- {name}: {'PASS' if passed else 'FAIL'}")
    for name, res in (("tokentree", tt), ("ccusage", cc)):
        for r in res.all():
            if not r.ok:
                tail = r.stderr.decode(errors="replace").strip().splitlines()[-5:]
                print(f"\n{name} exited {r.returncode}:\n  " + "\n  ".join(tail))
                break


# --------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the log set (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="warm and append runs (median)")
    parser.add_argument(
        "--cold-repeat",
        type=int,
        default=3,
        help="cold runs of each tool, taken in turn so both meet the same machine (median)",
    )
    parser.add_argument("--ccusage", help="ccusage executable (default: PATH, then node_modules)")
    parser.add_argument("--skip-tokentree", action="store_true")
    parser.add_argument("--skip-ccusage", action="store_true")
    parser.add_argument(
        "--dry-run", action="store_true", help="make the data set, print the commands, run nothing"
    )
    args = parser.parse_args(argv)

    folder, info = dataset(args.mb, args.seed)
    expected = {
        "calls": int(info["claude_calls"]),
        "input": int(info["claude_input_tokens"]),
        "output": int(info["claude_output_tokens"]),
        "cache_write": int(info["claude_cache_creation_tokens"]),
        "cache_read": int(info["claude_cache_read_tokens"]),
    }
    ccusage = None if args.skip_ccusage else find_ccusage(args.ccusage)
    tokentree_cmd = [sys.executable, "-m", "tokentree", "report", "--json", "--tz", "UTC"]
    ccusage_cmd = [ccusage or "ccusage", "claude", "daily", "--json", "--offline", "-z", "UTC"]
    target = append_target(folder)

    with tempfile.TemporaryDirectory(prefix="tokentree-bench-") as tmp:
        scratch = Path(tmp)
        if args.dry_run:
            env = environment(folder, scratch, scratch / "cache-cold")
            print("environment:")
            for k, v in env.items():
                print(f"  {k}={v}")
            if not args.skip_tokentree:
                print("tokentree:", " ".join(tokentree_cmd))
            print("ccusage:  ", " ".join(ccusage_cmd) if ccusage else "not found")
            print(f"appends to: {target.relative_to(folder)} ({target.stat().st_size:,} bytes)")
            print(f"expected totals: {expected}")
            return 0

        tt, cc = Results(), Results()
        cc_version = ""
        if ccusage:
            probe = run([ccusage, "--version"], environment(folder, scratch, scratch / "cache-v"))
            words = probe.stdout.decode().split() if probe.ok else []
            cc_version = words[-1] if words else "?"
        env_cc = environment(folder, scratch, scratch / "cache-ccusage")
        for n in range(max(args.cold_repeat, 1)):  # each tool in turn: the same machine state
            env_tt = environment(folder, scratch, scratch / f"cache-tokentree-{n}")  # empty
            if not args.skip_tokentree:
                print(f"tokentree: cold {n + 1} ...", file=sys.stderr)
                tt.cold.append(run(tokentree_cmd, env_tt))
            if ccusage:
                print(f"ccusage: cold {n + 1} ...", file=sys.stderr)
                cc.cold.append(run(ccusage_cmd, env_cc))
        if not args.skip_tokentree:
            for _ in range(args.repeat):
                tt.warm.append(run(tokentree_cmd, env_tt))
        if ccusage:
            for _ in range(args.repeat):
                cc.warm.append(run(ccusage_cmd, env_cc))

        state = folder / "appended.json"
        state.write_text(json.dumps({str(target): target.stat().st_size}))
        try:
            for n in range(1, args.repeat + 1):
                added = append_call(target, n)
                for k, v in added.items():
                    expected[k] += v
                expected["calls"] += 1
                if not args.skip_tokentree:
                    tt.append.append(run(tokentree_cmd, env_tt))
                if ccusage:
                    cc.append.append(run(ccusage_cmd, env_cc))
        finally:
            restore_appends(folder)
        expected["total"] = sum(
            expected[k] for k in ("input", "output", "cache_write", "cache_read")
        )
        print_report(info, folder, tt, cc, expected, cc_version, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
