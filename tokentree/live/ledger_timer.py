"""This machine's call ledger, written into a shared folder on a timer while the view or
`tokentree watch` runs, so a file-sync tool (Syncthing, Dropbox, a git repository) carries it
to the other machines, whose `machines` setting reads it.

Config `share_ledger = "~/Sync/tokentree"` names the shared folder: the ledger goes to a
folder named after this machine inside it, every `share_minutes` (default 10), on a daemon
thread of its own with its own read-only connection to the index, so a write never holds up
the view, the indexer or quitting. Only the months whose calls changed are rewritten
(core/ledger.py). A failure is reported once, until it changes or a write succeeds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

from tokentree.core.index import Index, Scope
from tokentree.core.index.reader import ScopeNotIndexed
from tokentree.core.ledger import LedgerError, LedgerWrite, machine_label, write_ledger
from tokentree.workspace import Workspace

POLL = 5.0  # seconds between looks at the clock and the stop flag


class LedgerTimer:
    """Writes the ledger when due: at the first tick, then every `every` seconds."""

    def __init__(
        self,
        index: Index,
        scope: Scope,
        target: Path,
        machine: str,
        *,
        every: float,
        report: Callable[[str], object],
        clock: Callable[[], float] = time.monotonic,
        format: str | None = None,
    ) -> None:
        self.index = index
        self.scope = scope
        self.target = target
        self.machine = machine
        self.every = every
        self.report = report
        self.clock = clock
        self.format = format or ("parquet" if find_spec("duckdb") else "ndjson")
        self.writes: list[LedgerWrite] = []  # what each write did (tests, diagnostics)
        self._due: float | None = None  # None: at once
        self._said = ""
        self._stop = threading.Event()

    def tick(self) -> LedgerWrite | None:
        """Write the ledger if it is due; what the write did, or None."""
        now = self.clock()
        if self._due is not None and now < self._due:
            return None
        self._due = now + self.every
        reader = self.index.reader()
        try:
            done = write_ledger(reader, self.scope, self.target, self.machine, self.format)
        except ScopeNotIndexed:
            self._due = now  # the first index is not done: try again at the next tick
            return None
        except (LedgerError, OSError, sqlite3.Error) as error:
            said = f"cannot share the ledger in {self.target}: {error}"
            if said != self._said:
                self._said = said
                self.report(said)
            return None
        finally:
            reader.close()
        self._said = ""
        self.writes.append(done)
        return done

    def run(self) -> None:
        """Tick until stopped (the thread `start` makes runs this)."""
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(min(POLL, self.every))

    def start(self) -> None:
        threading.Thread(target=self.run, name="tokentree-ledger", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def ledger_timer(workspace: Workspace, report: Callable[[str], object]) -> LedgerTimer | None:
    """The timer the config asks for (`share_ledger`), or None when it asks for none."""
    settings = workspace.settings
    if not settings.share_ledger:
        return None
    machine = machine_label(settings.machine)
    return LedgerTimer(
        workspace.index,
        workspace.own_scope,  # never the calls of other machines' ledgers in the view
        Path(settings.share_ledger).expanduser() / machine,
        machine,
        every=max(settings.share_minutes, 1.0) * 60,
        report=report,
    )
