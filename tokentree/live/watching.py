"""What to watch for new log lines, and how: decisions only; watcher.py does the watching.

Roots that exist are watched recursively, except OpenCode's data dir: it also
holds git snapshots of whole projects, so only its own files (the databases)
are watched, and its `storage/message` folder recursively. A root that does
not exist yet (no Claude Code run on this machine so far) is watched for from
its nearest existing parent, and not recursively: a recursive watch of a home
directory would spend the user's inotify watches on every folder in it. Roots
on a network filesystem are polled, since inotify does not see writes made by
another machine; so is everything when the system cannot watch (out of
inotify watches).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tokentree.core.sources import SOURCES, Root, declared

POLL_SECONDS = 2.0  # without change notifications, look this often (a refresh stats every log)
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "davfs",
        "drvfs",  # WSL's view of Windows drives
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.gcsfuse",
    }
)


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """The folders to watch: existing roots (recursively), folders whose own files are logs
    (not recursively), and the parents of absent roots (not recursively)."""

    logs: tuple[str, ...]
    parents: tuple[str, ...]
    absent: tuple[str, ...] = ()
    network: str = ""  # why polling is needed ("nfs4 at /mnt/home"), or ""
    flat: tuple[str, ...] = ()  # OpenCode data dirs: their databases, not their snapshots

    def announces(self, path: str) -> bool:
        """Is a change at `path` (below a watched parent) a step towards an absent root?"""
        return any(_below(root, path) for root in self.absent)

    def flat_log(self, path: str) -> bool:
        """Is `path` a database (or its write-ahead log) in a folder watched flat?

        Not its `-shm` file: a reader (this one) changes it too.
        """
        folder = path.rpartition(os.sep)[0]
        database = path.removesuffix("-wal")
        return (
            folder in self.flat
            and database.endswith(".db")
            and any(source.accepts(database) for source in SOURCES.values() if source.watched_below)
        )


def plan_watch(roots: Iterable[Root | Path], mountinfo: str | None = None) -> WatchPlan:
    """Decide what to watch for these roots (or plain folders) as the disk is now."""
    logs: list[str] = []
    parents: list[str] = []
    absent: list[str] = []
    flat: list[str] = []

    def watch(path: Path) -> None:
        if path.exists():
            logs.append(str(path))
            return
        parent = nearest_existing(path)
        if parent is not None:
            parents.append(str(parent))
            absent.append(str(path))

    for root in roots:
        path, source = (root.path, root.source) if isinstance(root, Root) else (root, None)
        below = declared(source).watched_below if source else None
        if below and path.is_dir():
            flat.append(str(path))
            watch(path / below)
        else:
            watch(path)
    network = network_filesystem(
        [*logs, *flat, *parents], _mountinfo() if mountinfo is None else mountinfo
    )
    unique = [tuple(dict.fromkeys(items)) for items in (logs, parents, absent)]
    return WatchPlan(*unique, network=network, flat=tuple(dict.fromkeys(flat)))


def polling_requested(env: Mapping[str, str]) -> bool:
    """watchfiles' own switch (also set on WSL by some setups): honoured, with our polling."""
    value = env.get("WATCHFILES_FORCE_POLLING", "")
    return bool(value) and value.lower() not in ("false", "disable", "disabled")


def nearest_existing(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.is_dir():
            return parent
    return None


def network_filesystem(paths: Iterable[str], mountinfo: str) -> str:
    """The first path on a network filesystem, as "type at mount point"; "" if none is."""
    mounts = _mounts(mountinfo)
    for path in paths:
        real = os.path.realpath(path)
        found = max(
            (item for item in mounts if _below(real, item[0])),
            key=lambda item: len(item[0]),
            default=None,
        )
        if found is not None and found[1] in NETWORK_FILESYSTEMS:
            return f"{found[1]} at {found[0]}"
    return ""


def _mountinfo() -> str:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:  # not Linux: assume local disks
        return ""


def _mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) from /proc/self/mountinfo's format."""
    mounts = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        if after:
            mounts.append((point, after[0]))
    return mounts


def _below(path: str, point: str) -> bool:
    return path == point or path.startswith(point.rstrip("/") + "/")
