"""The persistent index: stored copies of calls (store), a batch of reads stored (storing),
what counts and every sum (derive)."""

from tokentree.core.index.index import (
    BATCH_BYTES,
    QUARTER_HOUR_GROUP,
    FileDiagnostics,
    FileHealth,
    Index,
    Scope,
    UpdateStats,
)
from tokentree.core.reading import Progress

__all__ = [
    "BATCH_BYTES",
    "QUARTER_HOUR_GROUP",
    "FileDiagnostics",
    "FileHealth",
    "Index",
    "Progress",
    "Scope",
    "UpdateStats",
]
