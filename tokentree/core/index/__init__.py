"""The persistent index: stored copies of calls (store), a batch of reads stored (storing),
what counts and every sum (derive), what is known of the log files (file_facts)."""

from tokentree.core.index.file_facts import FileDiagnostics, FileHealth
from tokentree.core.index.index import BATCH_BYTES, QUARTER_HOUR_GROUP, Index, Scope, UpdateStats
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
