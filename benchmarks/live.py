"""Benchmark the live view: from an appended log line to the updated screen, and CPU while idle.

    python benchmarks/live.py --mb 1000

Runs the real `tokentree` in a pseudo-terminal (120×36) on the generated Claude
Code logs of run.py (benchmarks/.data/, made once) plus one live session in a
temporary folder, which this script appends to; the generated logs are never
changed. It times each appended call until its new call count is drawn on the
terminal, measures the process's CPU over 10 s with nothing changing, then
while a busy session appends several calls a second. See README.md.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from run import dataset  # noqa: E402  (the same generated logs as the main benchmark)

from tests.builders import claude_call, claude_prompt, jsonl  # noqa: E402

SIZE = (120, 36)
SESSION = "7e57ab1e-0000-4000-8000-00000000beef"
ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, modes
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks
    rb"|\x1b[()=>][0-9A-Za-z]?"
)
CALLS = re.compile(r"([\d,]+) calls?\b")
DELAY_TARGET = 0.5  # seconds from an appended line to the updated screen
IDLE_TARGET = 1.0  # percent of one core over 10 s with nothing changing


class Terminal:
    """The child's side of a pseudo-terminal: everything it drew, with arrival times."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.raw = bytearray()
        self.chunks: list[tuple[float, int]] = []  # (arrival, len(raw) after it)
        self.changed = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            with self.changed:
                if not data:
                    self.closed = True
                    self.changed.notify_all()
                    return
                self.raw += data
                self.chunks.append((time.perf_counter(), len(self.raw)))
                self.changed.notify_all()

    def mark(self) -> int:
        with self.changed:
            return len(self.chunks)

    def text(self, start: int = 0, end: int | None = None) -> str:
        """What was drawn between two chunk marks, without escape codes."""
        with self.changed:
            begin = self.chunks[start - 1][1] if start > 0 else 0
            stop = self.chunks[end - 1][1] if end else len(self.raw)
            data = bytes(self.raw[begin:stop])
        return ANSI.sub(b"", data).decode("utf-8", "ignore")

    def wait_for(self, needle: str, since: int, timeout: float) -> float | None:
        """When `needle` was first drawn after chunk `since` (perf_counter), or None."""
        deadline = time.perf_counter() + timeout
        checked = since
        while True:
            with self.changed:
                while len(self.chunks) == checked and not self.closed:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        return None
                    self.changed.wait(left)
                if len(self.chunks) == checked:
                    return None
                upto = len(self.chunks)
            for end in range(checked + 1, upto + 1):
                if needle in self.text(since, end):
                    return self.chunks[end - 1][0]
            checked = upto


def settle(pid: int, limit: float = 60.0) -> float:
    """Seconds until the view's CPU use falls under 2 % of a core over one second.

    After the first paint the view still analyses the tree (advice, activity);
    idle is measured only once that is done, as a user would leave it.
    """
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        used = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - used < 0.02:
            break
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environment(scratch: Path, claude_dirs: list[Path]) -> dict[str, str]:
    """Only the generated logs and the live session are visible; never the real home."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(scratch / "home"),
        "CLAUDE_CONFIG_DIR": ",".join(str(d) for d in claude_dirs),
        "CODEX_HOME": str(scratch / "codex"),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "XDG_DATA_HOME": str(scratch / "data"),
        "PYTHONPATH": str(REPO),
        "TERM": "xterm-256color",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TZ": "UTC",
    }
    for sub in ("home", "codex", "cache", "config", "data"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    return env


class LiveSession:
    """A Claude Code session in the temporary folder that this script writes, call by call."""

    def __init__(self, folder: Path, start: datetime) -> None:
        self.path = folder / "projects" / "-home-dev-live" / f"{SESSION}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start = start
        self.calls = 0
        self.path.write_bytes(jsonl(claude_prompt(start, session=SESSION, cwd="/home/dev/live")))

    def append_call(self) -> None:
        self.calls += 1
        line = claude_call(
            f"msg_live_{self.calls:06d}",
            self.start + timedelta(seconds=self.calls),
            model="claude-sonnet-4-5-20250929",
            input=12,
            cache_read=40_000 + 500 * self.calls,
            cache_write=800,
            output=300,
            session=SESSION,
            cwd="/home/dev/live",
        )
        with open(self.path, "ab") as handle:
            handle.write(jsonl(line))


def spawn(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], Terminal]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokentree", "--tz", "UTC"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    return proc, Terminal(master)


def drawn_count(count: int) -> str:
    """How the path bar's totals end when the tree holds `count` calls."""
    return f"· {count:,} call{'s' * (count != 1)}"


def current_calls(term: Terminal) -> int:
    found = CALLS.findall(term.text())
    if not found:
        raise SystemExit("no call count on the screen")
    return int(found[-1].replace(",", ""))


def measure(args: argparse.Namespace) -> dict[str, object]:
    claude_dirs: list[Path] = []
    if args.mb:
        folder, _info = dataset(args.mb, args.seed)
        claude_dirs.append(folder / "claude")
    with tempfile.TemporaryDirectory(prefix="tokentree-live-") as tmp:
        scratch = Path(tmp)
        live = scratch / "live-claude"
        # after the generated month, or now: a live session is the newest thing in the index
        start = max(datetime.now(UTC), datetime(2026, 11, 22, 23, tzinfo=UTC))
        session = LiveSession(live, start)
        env = environment(scratch, [*claude_dirs, live])
        began = time.perf_counter()
        proc, term = spawn(env, scratch)
        results: dict[str, object] = {}
        try:
            if term.wait_for("● live · ", 0, args.startup_timeout) is None:  # the status line
                print(term.text()[-2000:], file=sys.stderr)
                raise SystemExit("the view did not start following the logs")
            results["startup"] = time.perf_counter() - began
            results["settled"] = settle(proc.pid)  # the first analysis runs after the paint
            count = current_calls(term)

            cpu = cpu_seconds(proc.pid)
            time.sleep(args.idle)
            results["idle_cpu"] = 100 * (cpu_seconds(proc.pid) - cpu) / args.idle

            delays = []
            for _ in range(args.appends):
                mark = term.mark()
                appended = time.perf_counter()
                session.append_call()
                count += 1
                seen = term.wait_for(drawn_count(count), mark, 10)
                delays.append(float("inf") if seen is None else seen - appended)
                time.sleep(args.gap)
            results["delays"] = delays

            mark = term.mark()
            cpu = cpu_seconds(proc.pid)
            busy_began = time.perf_counter()
            for _ in range(int(args.busy * args.rate)):
                session.append_call()
                count += 1
                time.sleep(1 / args.rate)
            busy_time = time.perf_counter() - busy_began
            results["busy_cpu"] = 100 * (cpu_seconds(proc.pid) - cpu) / busy_time
            last = term.wait_for(drawn_count(count), mark, 10)
            results["busy_caught_up"] = None if last is None else last - busy_began - busy_time
            drawn = {m for m in CALLS.findall(term.text(mark))}
            results["busy_frames"] = len(drawn)
            results["busy_appends"] = int(args.busy * args.rate)
            results["busy_seconds"] = busy_time
            results["calls"] = count
        finally:
            try:
                os.write(term.fd, b"q")
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        return results


def report(args: argparse.Namespace, results: dict[str, object]) -> int:
    delays = sorted(results["delays"])  # type: ignore[arg-type]
    median = statistics.median(delays)
    idle = float(results["idle_cpu"])  # type: ignore[arg-type]
    size = f"{args.mb:,} MB of generated Claude Code logs" if args.mb else "no other logs"
    print(f"\ntokentree live view, {size} + one live session; {results['calls']:,} calls")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, terminal {SIZE[0]}×{SIZE[1]}")
    print()
    rows = [
        ("start and first index, until '● live'", f"{results['startup']:.1f} s"),
        ("then until the first analysis is done", f"{results['settled']:.1f} s"),
        (
            f"appended call → screen, median of {len(delays)}",
            f"{median * 1000:.0f} ms",
        ),
        ("  fastest / slowest", f"{delays[0] * 1000:.0f} / {delays[-1] * 1000:.0f} ms"),
        (f"CPU while idle, {args.idle:g} s", f"{idle:.2f} % of a core"),
        (
            f"CPU, busy session ({args.rate:g} calls/s for {args.busy:g} s)",
            f"{results['busy_cpu']:.1f} % of a core",
        ),
        (
            "  screens drawn for those calls",
            f"{results['busy_frames']} for {results['busy_appends']} calls",
        ),
    ]
    caught = results["busy_caught_up"]
    rows.append(
        (
            "  last call on screen after the burst",
            "not seen" if caught is None else f"{max(0.0, float(caught)) * 1000:.0f} ms",
        )
    )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
    ok_delay = median < DELAY_TARGET
    ok_idle = idle < IDLE_TARGET
    print()
    print(f"{'PASS' if ok_delay else 'FAIL'}  append → screen under {DELAY_TARGET} s (median)")
    print(f"{'PASS' if ok_idle else 'FAIL'}  idle CPU under {IDLE_TARGET:g} % over {args.idle:g} s")
    return 0 if ok_delay and ok_idle else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="generated logs (0: none; default 200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--appends", type=int, default=10, help="calls timed one by one")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between timed calls")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measured")
    parser.add_argument("--busy", type=float, default=10.0, help="seconds of the busy session")
    parser.add_argument("--rate", type=float, default=5.0, help="calls a second when busy")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        raise SystemExit("the CPU figures read /proc: Linux only")
    if shutil.which("tokentree") is None and not (REPO / "tokentree").is_dir():
        raise SystemExit("run from a tokentree checkout")
    return report(args, measure(args))


if __name__ == "__main__":
    sys.exit(main())
