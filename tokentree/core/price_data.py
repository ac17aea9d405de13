"""genai-prices' bundled price data, loaded without the rest of the package.

The package's `__init__` also imports what its live price updates need (an HTTP
client, asyncio): 0.04 s that a cold index spends before its readers can start,
for updates tokentree never makes (no network at run time). So its data module
is imported under the package left bare; a version of genai-prices that does
not allow this is imported whole instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from functools import cache
from types import ModuleType
from typing import Any

PACKAGE = "genai_prices"


def snapshot() -> Any:
    """The price data: a genai_prices.data_snapshot.DataSnapshot."""
    return _data_snapshot().get_snapshot()


def data_file() -> str:
    """Where the installed price data is (its size and time stand for its version), found
    without importing it; "" when genai-prices is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    return os.path.join(os.path.dirname(spec.origin), "data.py") if spec and spec.origin else ""


@cache
def version() -> str:
    """The installed genai-prices version, which the rates' origin names."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("genai-prices")
    except PackageNotFoundError:
        return "unknown"


@cache
def _data_snapshot() -> ModuleType:
    if PACKAGE not in sys.modules:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is not None and spec.submodule_search_locations is not None:
            sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)  # __init__ not run
            try:
                return importlib.import_module(f"{PACKAGE}.data_snapshot")
            except Exception:  # it needs its package whole: the bare one and its parts go
                for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
                    del sys.modules[name]
    return importlib.import_module(f"{PACKAGE}.data_snapshot")
