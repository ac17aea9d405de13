"""What run.py needs besides its report: the generated data sets, the clean environment, and
timing a child process (wall time, peak RSS and CPU from `os.wait4`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
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
SINGLE_SESSION = "5e551011-be9c-4000-8000-000000000001"


@dataclass(frozen=True)
class Run:
    """One child process: wall time, peak RSS and CPU (its own and its reaped children's),
    and what it printed."""

    seconds: float
    rss_kb: int
    cpu: float  # user + system seconds
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(cmd: Sequence[str], env: dict[str, str]) -> Run:
    """Time one command; `os.wait4` gives the child's peak RSS (ru_maxrss, KB on Linux) and CPU."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Run(seconds, usage.ru_maxrss, cpu, proc.returncode, out.read(), err.read())


# ---------------------------------------------------------------------- data


def dataset(mb: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The generated logs for (mb, seed), made once and reused; a partial one is never reused."""
    folder = DATA / f"claude-{mb}mb-seed{seed}"
    restore_appends(folder)

    def make(partial: Path) -> dict[str, Any]:
        summary = generate(partial, seed=seed, target_bytes=mb * 1_000_000, claude_only=True)
        return {k: str(v) if not isinstance(v, int) else v for k, v in vars(summary).items()}

    return _made_once(folder, f"generating {mb} MB of Claude Code logs", make)


def single_file_set(mb: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """One Claude Code transcript of about `mb` MB, made once and reused.

    Every file of the (mb, seed) set (main sessions, sub-agents, resumed sessions) is
    copied line for line into one session file, in order of each file's first timestamp,
    with every `sessionId` set to one id. Message and request ids are left as generated,
    so the calls stay distinct and a resumed session's repeats stay repeats: the token
    totals are the generator's.
    """
    source, info = dataset(mb, seed)
    first_time = re.compile(rb'"timestamp":"([^"]+)"')

    def first_timestamp(path: Path) -> bytes:
        with open(path, "rb") as f:
            found = first_time.search(f.read(64 * 1024))
        return found.group(1) if found else b""

    def make(partial: Path) -> dict[str, Any]:
        files = sorted((source / "claude" / "projects").rglob("*.jsonl"))
        files.sort(key=first_timestamp)  # stable: ties stay in path order
        session_id = re.compile(rb'"sessionId":"[^"]*"')
        one_id = b'"sessionId":"' + SINGLE_SESSION.encode() + b'"'
        projects = partial / "claude" / "projects"
        target = projects / "-home-dev-src-atlas" / f"{SINGLE_SESSION}.jsonl"
        target.parent.mkdir(parents=True)
        with open(target, "wb") as out:
            for path in files:
                data = path.read_bytes()
                if data and not data.endswith(b"\n"):
                    data += b"\n"
                out.write(session_id.sub(one_id, data))
        stats = {"files": 1, "bytes": target.stat().st_size, "claude_sessions": 1}
        return {**info, **stats, "made_from": str(source.relative_to(REPO))}

    folder = DATA / f"claude-single-{mb}mb-seed{seed}"
    return _made_once(folder, f"writing one {mb} MB transcript", make)


def _made_once(
    folder: Path, doing: str, make: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any]]:
    """A data set made once into a partial folder, renamed when complete, then reused; its
    summary.json (what `make` returns, with the time it took) marks it complete."""
    marker = folder / "summary.json"
    if marker.is_file():
        return folder, json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    partial = folder.with_name(f".partial-{folder.name}")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"{doing} into {folder} ...", file=sys.stderr)
    started = time.perf_counter()
    info = make(partial)
    took = time.perf_counter() - started
    info["generate_seconds"] = round(took, 1)
    (partial / "summary.json").write_text(json.dumps(info, indent=2) + "\n")
    partial.rename(folder)
    print(f"done in {took:.1f} s", file=sys.stderr)
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


def expected_totals(info: dict[str, Any]) -> dict[str, int]:
    """The generator's token totals (from summary.json), named as run.py compares them."""
    totals = {
        "calls": int(info["claude_calls"]),
        "input": int(info["claude_input_tokens"]),
        "output": int(info["claude_output_tokens"]),
        "cache_write": int(info["claude_cache_creation_tokens"]),
        "cache_read": int(info["claude_cache_read_tokens"]),
    }
    totals["total"] = sum(totals[k] for k in ("input", "output", "cache_write", "cache_read"))
    return totals


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


def ccusage_version(ccusage: str, env: dict[str, str]) -> str:
    probe = run([ccusage, "--version"], env)
    words = probe.stdout.decode().split() if probe.ok else []
    return words[-1] if words else "?"


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
