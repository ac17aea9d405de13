"""Follows the logs on the app's event loop: tells the index of changes, polls where it must.

`Watcher.run()` plans what to watch (watching.py) and runs a task per watched
set: existing roots recursively, and OpenCode's data dir and the parents of
missing roots without what is below them. When a missing root appears or a
watched one goes away, the watch that saw it ends and the loop plans again;
where the system cannot tell about changes (a network filesystem, no inotify
watches left), it polls instead. It reports how it follows the logs as events
(`WatchChanged`, `WatchFailed`) and needs no Textual: the app runs `run()` as
one async worker, which ends it by cancelling.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from tokentree.core.sources import Root
from tokentree.live.events import Event, WatchChanged, WatchFailed
from tokentree.live.watching import POLL_SECONDS, WatchPlan, plan_watch, polling_requested

DEBOUNCE_MS = 300  # watchfiles groups a burst of changes for at most this long
STEP_MS = 20  # … and yields once nothing changed for this long (a live call waits for it)


class Watcher:
    """Calls `on_change` whenever a log may have changed; posts how it follows the logs."""

    def __init__(
        self,
        roots: Sequence[Root],
        on_change: Callable[[], object],
        post: Callable[[Event], object],
    ) -> None:
        self.roots = roots
        self.on_change = on_change  # thread-safe and cheap: called for every burst of changes
        self.post = post  # called on the event loop, as the state changes
        # how the logs are followed: starting, live, or polling (and why, in `note`)
        self.state = "starting"
        self.note = ""
        self.plan: WatchPlan | None = None
        self._polling_reason = ""  # set once a watch failed: poll from then on
        self._replan = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def running(self) -> frozenset[str]:
        """The watches now running: `logs` and `folders`, or `poll`."""
        return frozenset(name for name, task in self._tasks.items() if not task.done())

    async def run(self) -> None:
        """Watch until cancelled; plan again whenever a watch finds the plan out of date.

        After a new plan a log may be new (a root appeared): the index is told to look.
        """
        try:
            self._start()
            while True:
                await self._replan.wait()
                self._replan.clear()
                self._start()
                self.on_change()
        finally:
            self._cancel()

    def _start(self) -> None:
        """Plan as the disk is now, and replace the watches by the plan's."""
        self._cancel()
        plan = plan_watch(self.roots)
        self.plan = plan
        reason = (
            self._polling_reason
            or (plan.network and f"network filesystem: {plan.network}")
            or (polling_requested(os.environ) and "WATCHFILES_FORCE_POLLING is set")
        )
        watches: dict[str, Coroutine[Any, Any, None]]
        if reason:
            self._set_state("polling", reason)
            watches = {"poll": self._poll()}
        else:
            self._set_state("live")
            watches = {"logs": self._watch_logs(plan), "folders": self._watch_folders(plan)}
        self._tasks = {
            name: asyncio.create_task(watch, name=f"tokentree-watch-{name}")
            for name, watch in watches.items()
        }

    def _cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()  # a watch that asked for a new plan has returned already
        self._tasks = {}

    async def _watch_logs(self, plan: WatchPlan) -> None:
        """Tell the index whenever anything below an existing root changes."""
        if not plan.logs:
            return
        from watchfiles import Change, awatch  # imported late: only the live view needs it

        try:
            async for changes in awatch(
                *plan.logs,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                recursive=True,
                watch_filter=None,
                force_polling=False,  # polling is ours (see _poll), not watchfiles'
            ):
                self.on_change()
                if any(change is Change.deleted for change, _ in changes) and self._outdated(plan):
                    self._replan.set()  # a root went: this watch is replaced
                    return
        except FileNotFoundError:  # a root went away between planning and watching
            self._replan.set()
        except (OSError, RuntimeError) as error:  # out of inotify watches, an unwatchable disk
            self._failed(error)

    async def _watch_folders(self, plan: WatchPlan) -> None:
        """Watch folders without what is below them: OpenCode's data dir for its databases,
        and the parent of a missing root, for it to appear (an assistant's first run)."""
        folders = tuple(dict.fromkeys((*plan.flat, *plan.parents)))
        if not folders:
            return
        from watchfiles import awatch

        def replans(path: str) -> bool:  # a root appeared, or a data dir itself went
            return plan.announces(path) or path in plan.flat

        def wanted(path: str) -> bool:
            return plan.flat_log(path) or replans(path)

        try:
            async for changes in awatch(
                *folders,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                recursive=False,
                watch_filter=lambda _change, path: wanted(path),
                force_polling=False,
            ):
                if any(plan.flat_log(path) for _, path in changes):
                    self.on_change()
                if any(replans(path) for _, path in changes) and self._outdated(plan):
                    self._replan.set()
                    return
        except FileNotFoundError:
            self._replan.set()
        except (OSError, RuntimeError) as error:
            self._failed(error)

    async def _poll(self) -> None:
        """Without change notifications: a refresh every few seconds (it stats, reads only news).

        A refresh compares each file's size and nanosecond mtime, which a
        polling watcher (whole seconds) cannot; and it finds new roots itself.
        """
        while True:
            await asyncio.sleep(POLL_SECONDS)
            self.on_change()

    def _outdated(self, plan: WatchPlan) -> bool:
        return plan_watch(self.roots) != plan

    def _failed(self, error: Exception) -> None:
        """Fall back to polling when the system cannot watch, and say so."""
        if self._polling_reason:
            return  # the other watch failed first
        text = str(error).strip()
        self._polling_reason = text.splitlines()[0] if text else type(error).__name__
        self.post(WatchFailed(self._polling_reason))
        self._replan.set()

    def _set_state(self, state: str, note: str = "") -> None:
        self.state, self.note = state, note
        self.post(WatchChanged(state, note))
