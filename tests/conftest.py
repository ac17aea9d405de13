"""Every test runs on a tmp HOME, and fails if anything touches the real home directory."""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

import pytest

from tokentree.synthetic import isolated_environment

REAL_HOME = os.path.realpath(pwd.getpwuid(os.getuid()).pw_dir)  # from the user database, not $HOME
FIXTURES = Path(__file__).parent / "fixtures"
REAL_SAMPLES = FIXTURES / "real_samples"
_ALLOWED = tuple(os.path.realpath(p) for p in sys.path if p) + (
    os.path.realpath(sys.prefix),
    os.path.realpath(sys.base_prefix),
    os.path.realpath(Path(__file__).parent.parent),
)
_touched: list[str] = []


def _watch_home(event: str, args: tuple) -> None:
    """Audit hook: note any file or folder access below the real home."""
    if event not in ("open", "os.listdir", "os.scandir", "os.stat") or not args:
        return
    target = args[0]
    if not isinstance(target, str | bytes | os.PathLike):
        return
    path = os.fsdecode(target)
    if not path.startswith(REAL_HOME + os.sep) and path != REAL_HOME:
        return
    if not path.startswith(_ALLOWED):
        _touched.append(f"{event} {path}")


if REAL_HOME not in ("/", ""):
    sys.addaudithook(_watch_home)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """HOME and every variable a source or platformdirs reads point into a tmp dir."""
    home = tmp_path_factory.mktemp("home")
    for name, value in {**isolated_environment(home), "TZ": "UTC"}.items():
        monkeypatch.setenv(name, value)
    _touched.clear()
    yield home
    assert not _touched, f"the real home directory was touched: {_touched[:5]}"
