"""The layering the README promises: only `app/` imports Textual."""

from __future__ import annotations

import subprocess
import sys


def test_core_and_live_never_import_textual() -> None:
    """Every module of both packages, so a new one cannot slip a Textual import in."""
    code = (
        "import importlib, pkgutil, sys, tokentree.core, tokentree.live\n"
        "for package in (tokentree.core, tokentree.live):\n"
        "    for module in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'textual'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
