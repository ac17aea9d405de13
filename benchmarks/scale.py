"""Benchmark the view on a long history: first screen, RSS, opening a session, a live append.

    python benchmarks/scale.py                          # 100 k, 300 k and 1 M calls
    python benchmarks/scale.py --sizes 20000,40000 --month-calls 20000   # a quick try

Builds each history the way a real year accumulates: a month of generated Claude
Code logs is written, indexed (`tokentree report --json`), and deleted, month
after month, so the calls stay only in the index, as when Claude Code deletes
old transcripts. A history is kept in benchmarks/.data/ and reused. Then runs
the real `tokentree` in a pseudo-terminal (120×40) on it plus one live session:
once as the first view of the history (what the index keeps for views is made
then), then `report --overview` twice (every day's advice digested, then
replayed), then the next open, timed from the screen it draws: the complete
first screen, opening a session, and an appended call until its count is
drawn; and reads the view's RSS. See README.md.
"""

from __future__ import annotations

import argparse
import calendar
import codecs
import fcntl
import json
import math
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

from harness import DATA, environment, run  # noqa: E402  (the clean environment, timing)
from live import DELAY_TARGET, LiveSession, drawn_count  # noqa: E402  (the live session)
from rich.cells import cell_len  # noqa: E402

from tokentree.synthetic import generate  # noqa: E402

SIZE = (120, 40)
SIZES = (100_000, 300_000, 1_000_000)
MONTH_CALLS = 100_000  # a heavy user's month: 1 M calls is about ten of them
CALLS_PER_MB = 107  # the generator's first guess (about 107k calls a GB); then measured
FIRST_MONTH = date(2025, 12, 1)  # month k of a history is the k-th calendar month from here
STAGE = DATA / "scale-home"  # the fake home every build and every view runs in (see stage())
TIMEOUT = 120.0  # seconds any one wait may take before a size is reported as slower

FIRST_SCREEN_TARGET = 1.0  # seconds, at every size
RSS_TARGET_MB = 150
RSS_GROWTH_TARGET = 1.3  # the largest size's RSS over the smallest's (100 k → 1 M)
OPEN_TARGET = 0.1  # seconds

REPORT = [sys.executable, "-m", "tokentree", "report", "--json", "--tz", "UTC"]
VIEW = [sys.executable, "-m", "tokentree", "--tz", "UTC"]
OVERVIEW = [*REPORT, "--overview"]

HEADER = re.compile(r"Cost.*Tokens")
LABEL = re.compile(r"(Week|Day|Session|Turn|Call)([▲▼]?)\s*$")
MIX = re.compile(r"(?:Sess|Turns|Calls)[▲▼]?  (\S+)")  # the Mix heading follows the count
CALLS = re.compile(r"([\d,]+) calls?\b")
LIVE_MARKS = ("● live · ", "◌ polling every")  # the status line once the first tree is complete
ENTER, LEFT = "\r", "\x1b[D"


# ------------------------------------------------------------------------------ the screen


CONTROL = re.compile(
    r"\x1b(?:\[([0-?]*)([ -/]*)([@-~])"  # CSI: cursor moves, erases, colours, modes
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, colour queries
    r"|P[^\x1b]*\x1b\\"  # DCS
    r"|[()][0-9A-Za-z]|[=>78DEMNc])"
)
TEXT = re.compile(r"[^\x00-\x1f\x7f]+")
GAP = "\0"  # the cell a wide character's right half takes: keeps string index == column
SYNC = "?2026"  # synchronized output: a frame is shown whole, at its end


class Screen:
    """What a terminal would show: enough of VT100 for what Textual writes.

    The app draws by moving the cursor and writing text (and erasing), so a grid
    of cells fed with its output is the screen, without colours. Like most
    terminals it says it supports synchronized output, so the app wraps each
    frame in a begin and an end mark and `on_frame` is called at each end:
    a check made then never sees half a frame.
    """

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.cells = [[" "] * columns for _ in range(rows)]
        self.x = self.y = 0
        self.held = ""  # an escape sequence cut in two by a read
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.syncing = False  # inside a frame
        self.replies: list[str] = []  # answers to the app's queries, for the terminal to send
        self.on_frame: Callable[[], None] = lambda: None

    def line(self, y: int) -> str:
        """Row `y` (negative: from the bottom) with each cell's character, wide ones once."""
        return "".join(self.cells[y]).replace(GAP, "")

    def cells_of(self, y: int) -> str:
        """Row `y` with one character per cell: a string index is a column."""
        return "".join(self.cells[y])

    def text(self) -> str:
        return "\n".join(self.line(y) for y in range(self.rows))

    def feed(self, data: bytes) -> None:
        text = self.held + self.decoder.decode(data)
        self.held = ""
        pos, end = 0, len(text)
        while pos < end:
            char = text[pos]
            if char == "\x1b":
                found = CONTROL.match(text, pos)
                if found is None:
                    if end - pos < 256:  # cut by the read: wait for the rest
                        self.held = text[pos:]
                        return
                    pos += 1
                    continue
                if found.group(3):
                    self._csi(found.group(1), found.group(2), found.group(3))
                pos = found.end()
            elif char < " " or char == "\x7f":
                self._control(char)
                pos += 1
            else:
                run_ = TEXT.match(text, pos)
                assert run_ is not None
                self._write(run_.group())
                pos = run_.end()

    def _write(self, text: str) -> None:
        if not 0 <= self.y < self.rows:
            return
        row = self.cells[self.y]
        if cell_len(text) == len(text):  # the usual case: one cell a character
            room = max(0, self.columns - self.x)
            row[self.x : self.x + min(len(text), room)] = text[:room]
            self.x = min(self.columns, self.x + len(text))
            return
        for char in text:
            width = cell_len(char)
            if self.x + width > self.columns:
                break
            row[self.x] = char
            if width == 2:
                row[self.x + 1] = GAP
            self.x += width

    def _control(self, char: str) -> None:
        if char == "\r":
            self.x = 0
        elif char == "\n":
            self.y = min(self.rows - 1, self.y + 1)
        elif char == "\b":
            self.x = max(0, self.x - 1)

    def _csi(self, params: str, between: str, final: str) -> None:
        if params == SYNC and between == "$" and final == "p":  # supported? yes (and now off)
            self.replies.append(f"\x1b[{SYNC};2$y")
        elif params == SYNC and not between and final in "hl":
            self.syncing = final == "h"
            if not self.syncing:
                self.on_frame()
        if params.startswith(("?", ">", "<", "=")) or between:
            return  # modes, mouse, keyboard protocol, queries: nothing drawn
        numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []

        def arg(i: int, default: int = 1) -> int:
            return numbers[i] if len(numbers) > i and numbers[i] else default

        if final in "Hf":
            self.y = min(self.rows - 1, arg(0) - 1)
            self.x = min(self.columns - 1, arg(1) - 1)
        elif final == "A":
            self.y = max(0, self.y - arg(0))
        elif final == "B":
            self.y = min(self.rows - 1, self.y + arg(0))
        elif final == "C":
            self.x = min(self.columns - 1, self.x + arg(0))
        elif final == "D":
            self.x = max(0, self.x - arg(0))
        elif final == "G":
            self.x = min(self.columns - 1, arg(0) - 1)
        elif final == "d":
            self.y = min(self.rows - 1, arg(0) - 1)
        elif final == "J":
            self._erase_display(arg(0, 0))
        elif final == "K":
            self._erase_line(self.y, arg(0, 0))
        elif final == "X":
            row = self.cells[self.y]
            for x in range(self.x, min(self.columns, self.x + arg(0))):
                row[x] = " "

    def _erase_line(self, y: int, mode: int) -> None:
        row = self.cells[y]
        start, stop = {0: (self.x, self.columns), 1: (0, self.x + 1)}.get(mode, (0, self.columns))
        row[start:stop] = [" "] * (stop - start)

    def _erase_display(self, mode: int) -> None:
        if mode == 0:
            self._erase_line(self.y, 0)
            rows = range(self.y + 1, self.rows)
        elif mode == 1:
            self._erase_line(self.y, 1)
            rows = range(0, self.y)
        else:
            rows = range(self.rows)
        for y in rows:
            self.cells[y] = [" "] * self.columns


Check = Callable[[Screen], bool]


class Terminal:
    """The master side of a pseudo-terminal: its screen, and when a wanted state was drawn.

    A reader thread feeds every read into the screen and tests the checks waited
    for at the end of each frame (and of each read outside a frame), so the
    time found is the arrival of the read that completed the frame showing the
    wanted state, however long the test itself takes.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.screen = Screen(*SIZE)
        self.lock = threading.Condition()
        self.checks: tuple[Check, ...] = ()
        self.seen: list[float | None] = []
        self.arrived = 0.0
        self.closed = False
        self.screen.on_frame = self._test
        threading.Thread(target=self._read, daemon=True).start()

    def _test(self) -> None:
        for number, check in enumerate(self.checks):
            if self.seen[number] is None and check(self.screen):
                self.seen[number] = self.arrived
                self.lock.notify_all()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            with self.lock:
                self.arrived = time.perf_counter()
                if not data:
                    self.closed = True
                    self.lock.notify_all()
                    return
                self.screen.feed(data)
                if not self.screen.syncing:
                    self._test()
                replies, self.screen.replies = self.screen.replies, []
            for reply in replies:
                os.write(self.fd, reply.encode())

    def when(self, action: Callable[[], object], check: Check, timeout: float) -> float | None:
        """Seconds from `action` until a frame shows what `check` wants; None when none did
        within `timeout` (or the view ended)."""
        return self.each(action, (check,), timeout)[0]

    def each(
        self, action: Callable[[], object], checks: tuple[Check, ...], timeout: float
    ) -> list[float | None]:
        """`when` for several checks at once: the first frame passing each."""
        with self.lock:
            self.checks, self.seen = checks, [None] * len(checks)
        began = time.perf_counter()
        action()
        with self.lock:
            self.lock.wait_for(lambda: None not in self.seen or self.closed, timeout)
            seen, self.checks = self.seen, ()
        return [None if at is None else at - began for at in seen]

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def text(self) -> str:
        with self.lock:
            return self.screen.text()


# --- what the screen shows


def header_row(screen: Screen) -> int | None:
    """The list's column header: the first row that names Cost and Tokens."""
    for y in range(screen.rows):
        if HEADER.search(screen.line(y)):
            return y
    return None


def label(screen: Screen) -> tuple[str, str] | None:
    """The list's label column title (Week, Day, Session, Turn) and its sort arrow, if any."""
    y = header_row(screen)
    found = LABEL.search(screen.line(y)) if y is not None else None
    return (found.group(1), found.group(2)) if found else None


NEWEST_FIRST = ("Week", "Day")
"""Rows listed newest first until sorted otherwise (view.default_sort): their title has ▼."""


def listed(title: str, arrow: str | None = None) -> Check:
    """A check: the list shows rows under the column title `title`, sorted as `arrow` says
    (by default, as the view sorts such rows until told otherwise)."""
    wanted = (title, ("▼" if title in NEWEST_FIRST else "") if arrow is None else arrow)

    def check(s: Screen) -> bool:
        y = header_row(s)
        return label(s) == wanted and y is not None and bool(s.line(y + 1).strip())

    return check


def tree_drawn(screen: Screen) -> bool:
    """The first complete tree is shown, its analysis perhaps not yet: the status line says
    "● live · …" (or "◌ polling every …"), which it does only once the first complete tree
    is shown (before: "reading logs…" or the indexing progress), and week rows are listed."""
    return any(mark in screen.line(-1) for mark in LIVE_MARKS) and listed("Week")(screen)


def first_screen_complete(screen: Screen) -> bool:
    """The week rows are complete: the tree is shown and its analysis drawn.

    The Mix column's heading says "Mix" and every row "…" while the first
    analysis runs; once it is drawn the heading names the activity classes
    (letters such as "rcegpx") and no row shows "…".
    """
    y = header_row(screen)
    if y is None or not tree_drawn(screen):
        return False
    header = screen.cells_of(y)
    mix = MIX.search(header)
    if mix is None or mix.group(1) == "Mix":
        return False
    column = mix.start(1)
    rows = 0
    for row in range(y + 1, screen.rows - 1):
        cells = screen.cells_of(row)
        if not cells.strip():
            break
        if cells[column] == "…":
            return False
        rows += 1
    return rows > 0


def root_calls(screen: Screen) -> int | None:
    """The calls the path bar counts for the node shown (the whole history, at the start)."""
    for y in range(min(4, screen.rows)):
        found = CALLS.findall(screen.line(y))
        if found:
            return int(found[-1].replace(",", ""))
    return None


def count_drawn(count: int) -> Check:
    needle = drawn_count(count)
    return lambda s: any(needle in s.line(y) for y in range(min(4, s.rows)))


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set so far (VmHWM), MB; None once it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def ran_out(seconds: float | None) -> float:
    """A wait's time, infinite when it ran out: told apart from a step never taken (None)."""
    return math.inf if seconds is None else seconds


# ------------------------------------------------------------------------------ histories


def stage(cache: Path) -> dict[str, str]:
    """The clean environment of every build and view: HOME, CLAUDE_CONFIG_DIR and the rest in
    STAGE, the index in `cache`. Never the real home.

    The index scopes its calls by the folders it was started on (every
    assistant's, named by these variables), so a history is only seen again
    from the same folders: STAGE is one fixed place, shared by all sizes, whose
    claude/projects/ holds a month's logs while it is indexed, or the live
    session while a view runs, and nothing in between.
    """
    env = environment(STAGE, STAGE, cache)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    env.setdefault("LANG", "C.UTF-8")
    return env


def clear_stage() -> None:
    """No logs under the fake home (an interrupted run may have left some)."""
    shutil.rmtree(STAGE / "claude" / "projects", ignore_errors=True)


def folder_name(calls: int, seed: int, month_calls: int) -> str:
    suffix = "" if month_calls == MONTH_CALLS else f"-month{month_calls}"
    return f"scale-{calls}-seed{seed}{suffix}"


def cached(seed: int, month_calls: int) -> dict[int, dict[str, Any]]:
    """The complete histories kept for this seed and month size, by the calls they aimed at;
    not those indexed from another STAGE (a moved checkout): the view would not see them."""
    found = {}
    suffix = folder_name(0, seed, month_calls).removeprefix("scale-0")
    pattern = re.compile(r"scale-(\d+)" + re.escape(suffix))
    for folder in DATA.glob("scale-*"):
        name = pattern.fullmatch(folder.name)
        marker = folder / "summary.json"
        if name and marker.is_file():
            info = json.loads(marker.read_text())
            if info.get("stage") == str(STAGE):
                found[int(name.group(1))] = info
    return found


def month_window(number: int) -> tuple[date, int]:
    """The last day and the length in days of a history's month `number` (from 0)."""
    year, month = divmod(FIRST_MONTH.month - 1 + number, 12)
    year += FIRST_MONTH.year
    days = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, days), days


def histories(args: argparse.Namespace) -> dict[int, dict[str, Any]]:
    """Every wanted history, built where not kept (or with --rebuild), by size."""
    have = {} if args.rebuild else cached(args.seed, args.month_calls)
    missing = sorted(size for size in args.sizes if size not in have)
    if missing:
        base = max((size for size in have if size < missing[0]), default=None)
        grow(missing, args.seed, args.month_calls, None if base is None else have[base])
        have = cached(args.seed, args.month_calls)
    return {size: have[size] for size in args.sizes}


def grow(sizes: list[int], seed: int, month_calls: int, base: dict[str, Any] | None) -> None:
    """Add month after month to one index, from `base` (a smaller history) or from nothing,
    and keep a copy of it each time it passes one of `sizes`.

    A month is generated into STAGE, indexed, and deleted: the index keeps
    its calls as history. A month holds `month_calls` calls; the one that
    passes a size, what that takes (up to 10 % more, or fewer).
    """
    work = DATA / f".partial-scale-seed{seed}-month{month_calls}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    calls, months, seconds = 0, 0, 0.0
    if base is not None:
        shutil.copytree(DATA / base["folder"] / "cache", work / "cache")
        calls, months, seconds = base["calls"], base["months"], base["build_seconds"]
        print(f"continuing from {base['folder']} ({calls:,} calls)", file=sys.stderr)
    env = stage(work / "cache")
    rate = CALLS_PER_MB
    try:
        for size in sizes:
            while calls < size:
                left = size - calls  # the last month may be a little longer, never tiny
                want = month_calls if left > month_calls * 1.1 else int(left * 1.02) + 500
                began = time.perf_counter()
                end, days = month_window(months)
                clear_stage()
                made = generate(
                    STAGE,
                    seed=seed * 1000 + months,
                    end=end,
                    days=days,
                    target_bytes=int(want / rate * 1e6),
                    claude_only=True,
                )
                indexed = run(REPORT, env)
                clear_stage()
                if not indexed.ok:
                    raise SystemExit(f"indexing failed:\n{indexed.stderr.decode()[-2000:]}")
                now = int(json.loads(indexed.stdout)["totals"]["calls"])
                if now <= calls:
                    raise SystemExit(f"the index lost its history: {calls:,} calls, then {now:,}")
                rate = (now - calls) / (made.bytes / 1e6)
                took = time.perf_counter() - began
                seconds += took
                months += 1
                print(
                    f"  month {months:2d} ({end:%Y-%m}): {made.bytes / 1e6:,.0f} MB, "
                    f"+{now - calls:,} calls = {now:,}; indexed in {indexed.seconds:.1f} s, "
                    f"{took:.1f} s in all",
                    file=sys.stderr,
                )
                calls = now
            keep(work, size, seed, month_calls, calls, months, seconds)
    finally:
        clear_stage()
        shutil.rmtree(work, ignore_errors=True)


def keep(work: Path, size: int, seed: int, month_calls: int, *numbers: float) -> None:
    """A copy of the index as it is now, as the history of `size` calls; summary.json last."""
    calls, months, seconds = numbers
    target = DATA / folder_name(size, seed, month_calls)
    partial = target.with_name(f".partial-{target.name}")
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(work / "cache", partial / "cache")
    info = {
        "folder": target.name,
        "calls": int(calls),
        "months": int(months),
        "month_calls": month_calls,
        "seed": seed,
        "first_month": FIRST_MONTH.isoformat(),
        "build_seconds": round(seconds, 1),
        "index_bytes": sum(p.stat().st_size for p in (partial / "cache").rglob("*") if p.is_file()),
        "stage": str(STAGE),
    }
    (partial / "summary.json").write_text(json.dumps(info, indent=2) + "\n")
    partial.rename(target)
    kept = f"{int(calls):,} calls, {plural(int(months), 'month')}"
    print(f"kept {target.name}: {kept}", file=sys.stderr)


# ------------------------------------------------------------------------------ the view


@dataclass
class Result:
    """One view run on one history: None where a step was not taken, inf where it timed out."""

    calls: int | None = None
    tree: float | None = None  # the weeks drawn, before their Mix column
    first_screen: float | None = None
    rss_mb: float | None = None
    open_session: float | None = None
    append: float | None = None
    end_rss_mb: float | None = None
    note: str = ""
    cold_first_screen: float | None = None  # the first open, nothing kept by a view before
    overview_cold: float | None = None  # `report --overview`, no advice kept before
    overview_warm: float | None = None  # the same again: every day's advice kept


def live_start(history: dict[str, Any]) -> datetime:
    """Now, or the day after the history if that is later: the live session is the newest,
    as in real use, so a refresh regrows only its day (an older day regrows all after it)."""
    last_day, _ = month_window(history["months"] - 1)
    day = last_day + timedelta(days=1)
    after = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return max(datetime.now(UTC), after)


def view(history: dict[str, Any], timeout: float) -> Result:
    """Start the view on a copy of the history's index, plus one live session, and time it:
    the first open (nothing kept by a view yet), `report --overview` twice (the advice of
    every day digested, then replayed), and the next open, timed step by step."""
    with tempfile.TemporaryDirectory(prefix="tokentree-scale-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(DATA / history["folder"] / "cache", scratch / "cache")
        env = stage(scratch / "cache")
        try:
            clear_stage()
            session = LiveSession(STAGE / "claude", live_start(history))
            cold = drive(env, scratch, session, timeout, first_screen_only=True)
            overviews = [run(OVERVIEW, env) for _ in range(2)]
            clear_stage()
            session = LiveSession(STAGE / "claude", live_start(history))
            result = drive(env, scratch, session, timeout)
        finally:
            clear_stage()
    result.cold_first_screen = cold.first_screen
    result.overview_cold, result.overview_warm = (
        overview.seconds if overview.ok else math.inf for overview in overviews
    )
    return result


def drive(
    env: dict[str, str],
    cwd: Path,
    session: LiveSession,
    timeout: float,
    *,
    first_screen_only: bool = False,
) -> Result:
    """The steps, each timed from the screen: see README.md, "Scale"."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    term = Terminal(master)
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(
            subprocess.Popen(
                VIEW,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        )
        os.close(slave)

    result = Result()
    try:
        tree, first = term.each(start, (tree_drawn, first_screen_complete), timeout)
        result.tree, result.first_screen = ran_out(tree), ran_out(first)
        proc = procs[0]
        result.rss_mb = peak_rss_mb(proc.pid)
        with term.lock:
            result.calls = root_calls(term.screen)
        if first is None:
            shown = [line.strip() for line in term.text().splitlines() if line.strip()]
            result.note = "first screen not complete; the screen ends: " + " | ".join(shown[-3:])
            return result
        if first_screen_only:
            return result

        # the costliest week (the cursor starts on it), its costliest day (untimed), and that
        # day's costliest session; not the newest week: the live session may be alone in it
        for title in ("Day", "Session"):
            if term.when(lambda: term.send(ENTER), listed(title), timeout) is None:
                result.note = f"no {title.lower()} rows drawn"
                return result
        opened = term.when(lambda: term.send(ENTER), listed("Turn"), timeout)
        result.open_session = ran_out(opened)
        if opened is None:
            return result

        # back to the weeks, where the path bar counts every call, and one call appended
        back = term.when(lambda: term.send(LEFT * 3), listed("Week"), timeout)
        if back is None or result.calls is None:
            result.note = "not back at the weeks"
            return result
        appended = term.when(session.append_call, count_drawn(result.calls + 1), timeout)
        result.append = ran_out(appended)
        result.end_rss_mb = peak_rss_mb(proc.pid)
        return result
    finally:
        stop(procs, term)


def stop(procs: list[subprocess.Popen[bytes]], term: Terminal) -> None:
    """Quit the view (q), or kill it after 10 s; the terminal closes with it."""
    for proc in procs:
        try:
            term.send("q")
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
    os.close(term.fd)


# ------------------------------------------------------------------------------ the report


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'s' * (count != 1)}"


def known(values: list[float | None]) -> list[float] | None:
    """All the values, or None when a step was not taken in some run."""
    found = [v for v in values if v is not None]
    return found if found and len(found) == len(values) else None


def shown(value: float | None, timeout: float, digits: int) -> str:
    if value is None:
        return "–"
    return f"> {timeout:g}" if math.isinf(value) else f"{value:.{digits}f}"


def seconds(values: list[float | None], timeout: float, digits: int = 2) -> str:
    """The median, "> timeout" when it ran out, "–" when not measured in every run."""
    found = known(values)
    return shown(None if found is None else statistics.median(found), timeout, digits)


def largest(values: list[float | None]) -> float | None:
    found = known(values)
    return None if found is None else max(found)


def within(values: list[float | None], limit: float) -> bool:
    found = known(values)
    return found is not None and statistics.median(found) <= limit


def report(
    args: argparse.Namespace, built: dict[int, dict[str, Any]], results: dict[int, list[Result]]
) -> int:
    print(
        f"\ntokentree on a long history, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"terminal {SIZE[0]}×{SIZE[1]}; {plural(args.repeat, 'run')} a size "
        "(times: median, RSS: largest)\n"
    )
    print(
        "| size (calls) | build (s) | first open (s) | first screen (s) | RSS (MB) "
        "| open a session (s) | append → screen (s) | overview, first (s) | overview (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    checks: list[tuple[str, bool]] = []
    rss_by_size: dict[int, float | None] = {}
    for size in args.sizes:
        info, runs = built[size], results[size]
        rss = largest([r.rss_mb for r in runs])
        rss_by_size[size] = rss
        build = f"{info['build_seconds']:,.0f}" + (" (kept)" if info.get("reused") else "")
        print(
            f"| {info['calls']:,} | {build} "
            f"| {seconds([r.cold_first_screen for r in runs], args.timeout)} "
            f"| {seconds([r.first_screen for r in runs], args.timeout)} "
            f"| {'–' if rss is None else f'{rss:.0f}'} "
            f"| {seconds([r.open_session for r in runs], args.timeout, 3)} "
            f"| {seconds([r.append for r in runs], args.timeout)} "
            f"| {seconds([r.overview_cold for r in runs], args.timeout)} "
            f"| {seconds([r.overview_warm for r in runs], args.timeout)} |"
        )
        at = f"at {info['calls']:,} calls"
        checks += [
            (
                f"complete first screen ≤ {FIRST_SCREEN_TARGET:g} s {at}",
                within([r.first_screen for r in runs], FIRST_SCREEN_TARGET),
            ),
            (f"RSS ≤ {RSS_TARGET_MB} MB {at}", rss is not None and rss <= RSS_TARGET_MB),
            (
                f"open a session ≤ {OPEN_TARGET * 1000:.0f} ms {at}",
                within([r.open_session for r in runs], OPEN_TARGET),
            ),
            (
                f"append → screen ≤ {DELAY_TARGET:g} s {at} (live.py's target)",
                within([r.append for r in runs], DELAY_TARGET),
            ),
        ]
    print()
    for size in args.sizes:
        info, runs = built[size], results[size]
        calls = ", ".join(sorted({f"{r.calls:,}" for r in runs if r.calls is not None})) or "–"
        end = largest([r.end_rss_mb for r in runs])
        print(
            f"{info['calls']:,} calls: {plural(info['months'], 'month')} of logs, index "
            f"{info['index_bytes'] / 1e6:,.0f} MB; calls on screen {calls}; "
            f"peak RSS at the end {'–' if end is None else f'{end:.0f} MB'}"
        )
        for name, values in (
            ("weeks drawn, Mix column not yet", [r.tree for r in runs]),
            ("complete first screen", [r.first_screen for r in runs]),
            ("open a session", [r.open_session for r in runs]),
            ("append → screen", [r.append for r in runs]),
        ):
            each = ", ".join(shown(value, args.timeout, 3) for value in values)
            print(f"  {name}: {each} s")
        for r in runs:
            if r.note:
                print(f"  {r.note}")
        if any(r.calls is not None and r.calls < info["calls"] for r in runs):
            print("  the view shows fewer calls than were indexed: history lost? (--rebuild)")
    smallest, biggest = min(args.sizes), max(args.sizes)
    if smallest != biggest:
        low, high = rss_by_size[smallest], rss_by_size[biggest]
        growth = None if not low or high is None else high / low
        checks.append(
            (
                f"RSS growth from {smallest:,} to {biggest:,} calls ≤ {RSS_GROWTH_TARGET:g}× "
                f"({'–' if growth is None else f'{growth:.2f}×'})",
                growth is not None and growth <= RSS_GROWTH_TARGET,
            )
        )
    print()
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in checks) else 1


def dry_run(args: argparse.Namespace) -> int:
    """What would be built and run; nothing is written."""
    have = {} if args.rebuild else cached(args.seed, args.month_calls)
    print(f"histories in {DATA} (months of {args.month_calls:,} calls, seed {args.seed}):")
    missing = sorted(size for size in args.sizes if size not in have)
    base = max((size for size in have if missing and size < missing[0]), default=None)
    calls = 0 if base is None else have[base]["calls"]
    for size in args.sizes:
        name = folder_name(size, args.seed, args.month_calls)
        if size in have:
            info = have[size]
            print(f"  {name}: kept, {info['calls']:,} calls, built in {info['build_seconds']} s")
            continue
        months = max(1, round((size - calls) / args.month_calls))
        after = f" on the kept {calls:,} calls" if calls and size == missing[0] else ""
        print(f"  {name}: to build, {plural(months, 'month')} more{after}")
        calls = size
    mb = args.month_calls / CALLS_PER_MB
    print(f"  (a month: about {mb:,.0f} MB of logs, written, indexed, deleted)")
    print(f"\nfake home (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME, XDG_*): {STAGE}")
    print(f"each month: python {' '.join(REPORT[1:])}  (XDG_CACHE_HOME: the history's cache)")
    print(f"each view:  python {' '.join(VIEW[1:])}  in a {SIZE[0]}×{SIZE[1]} pseudo-terminal,")
    runs = plural(args.repeat, "run")
    print(f"  on a copy of the index, {runs} a size, at most {args.timeout:g} s a wait")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted({int(s.replace("_", "")) for s in text.split(",")}),
        default=list(SIZES),
        help="calls in each history (default 100000,300000,1000000)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--month-calls", type=int, default=MONTH_CALLS, help="calls a month (default 100000)"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the histories again")
    parser.add_argument("--repeat", type=int, default=1, help="view runs a size (default 1)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds a wait may take")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        raise SystemExit("the pseudo-terminal and the RSS read /proc: Linux only")
    if args.dry_run:
        return dry_run(args)
    kept = {} if args.rebuild else cached(args.seed, args.month_calls)
    began = time.perf_counter()
    built = histories(args)
    for size, info in built.items():
        info["reused"] = size in kept
    print(f"histories ready in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    results: dict[int, list[Result]] = {}
    for size in args.sizes:
        results[size] = []
        for number in range(args.repeat):
            results[size].append(view(built[size], args.timeout))
            print(f"{size:,} calls: run {number + 1}/{args.repeat} done", file=sys.stderr)
    return report(args, built, results)


if __name__ == "__main__":
    sys.exit(main())
