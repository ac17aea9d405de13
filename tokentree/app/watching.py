"""What to watch for new log lines, and how: decisions only, the app's workers do the watching.

Roots that exist are watched recursively. A root that does not exist yet (no
Claude Code run on this machine so far) is watched for from its nearest
existing parent, and not recursively: a recursive watch of a home directory
would spend the user's inotify watches on every folder in it. Roots on a
network filesystem are polled, since inotify does not see writes made by
another machine; so is everything when the system cannot watch (out of
inotify watches).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

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
    """The folders to watch: existing roots (recursively) and the parents of absent ones."""

    logs: tuple[str, ...]
    parents: tuple[str, ...]
    absent: tuple[str, ...] = ()
    network: str = ""  # why polling is needed ("nfs4 at /mnt/home"), or ""

    def announces(self, path: str) -> bool:
        """Is a change at `path` (below a watched parent) a step towards an absent root?"""
        return any(_below(root, path) for root in self.absent)


def plan_watch(roots: Iterable[Path], mountinfo: str | None = None) -> WatchPlan:
    """Decide what to watch for these roots as the disk is now."""
    logs: list[str] = []
    parents: list[str] = []
    absent: list[str] = []
    for root in roots:
        if root.exists():
            logs.append(str(root))
            continue
        parent = nearest_existing(root)
        if parent is not None:
            parents.append(str(parent))
            absent.append(str(root))
    network = network_filesystem(
        [*logs, *parents], _mountinfo() if mountinfo is None else mountinfo
    )
    return WatchPlan(*(tuple(dict.fromkeys(items)) for items in (logs, parents, absent)), network)


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
