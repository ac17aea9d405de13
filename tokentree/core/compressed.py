"""Compressed JSONL logs (Codex writes a rollout a week old as `.jsonl.zst`): read whole.

A compressed log is never appended to (the assistant decompresses it before it
writes again), so it is read from its start, like a rewritten document. It is
decompressed into a temporary file a block at a time and read from there as
any log is (tail.py): memory stays within a block, however large the rollout.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from tokentree.core import tail

SUFFIX = ".zst"


def is_compressed(path: str) -> bool:
    return path.endswith(SUFFIX)


def read_compressed_blocks(path: str, markers: tail.Markers | None = None) -> Iterator[tail.Chunk]:
    """The lines of the decompressed log holding `markers`, as `tail.read_line_blocks` gives
    them. A file that does not decompress (caught while written) is one pending chunk: it
    keeps no fingerprint, so the next update reads it again."""
    import zstandard  # imported here: only a compressed rollout needs it

    with tail.open_log(path) as source, tempfile.NamedTemporaryFile(prefix="tokentree-") as plain:
        try:
            zstandard.ZstdDecompressor().copy_stream(source, plain, write_size=tail.BLOCK_BYTES)
        except zstandard.ZstdError:
            yield tail.Chunk([], 0, max(source.tell(), 1), 0)
            return
        plain.flush()
        yield from tail.read_line_blocks(plain.name, 0, markers)
