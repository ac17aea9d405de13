"""Run one tokentree command in this process and print where its CPU time went, as JSON.

    python benchmarks/cpu_probe.py report --json --tz UTC

run.py starts this as a child process, in the same clean environment as the timed
`python -m tokentree report --json --tz UTC`, with an empty cache folder: the same code
path (`tokentree.cli.main`), so a cold index forks its reader processes just as the
command does. The command's own output goes to /dev/null; once it has returned, every
reader has been joined (the read ends only once every reader has exited), so

- `RUSAGE_SELF` is the main process: interpreter start-up, imports, deduplication,
  storing the index, the report;
- `RUSAGE_CHILDREN` is the readers and their parent, reaped: reading, scanning, parsing,
  pricing, importing the price data (once, in the parent).

The last line on stdout is one JSON object (seconds of user + system CPU, peak RSS in KB).
"""

from __future__ import annotations

import json
import mmap
import os
import resource
import sys
import time


def main(argv: list[str]) -> int:
    probe = os.getpid()
    forked_readers = mmap.mmap(-1, 8)  # shared with every process forked below this one

    def forked() -> None:
        if os.getppid() != probe:  # forked by the readers' parent, not by tokentree's main
            with memoryview(forked_readers).cast("q") as count:
                count[0] += 1

    os.register_at_fork(after_in_child=forked)
    from tokentree.cli import main as tokentree_main  # imports count as main-process CPU

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the report itself is not wanted, only its cost
    started = time.perf_counter()
    try:
        status = tokentree_main(argv)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)
    wall = time.perf_counter() - started
    main_usage = resource.getrusage(resource.RUSAGE_SELF)
    readers = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "status": status,
        "wall_seconds": round(wall, 4),
        "main_cpu": round(main_usage.ru_utime + main_usage.ru_stime, 4),
        "main_user": round(main_usage.ru_utime, 4),
        "main_sys": round(main_usage.ru_stime, 4),
        "reader_cpu": round(readers.ru_utime + readers.ru_stime, 4),
        "reader_user": round(readers.ru_utime, 4),
        "reader_sys": round(readers.ru_stime, 4),
        "readers_forked": memoryview(forked_readers).cast("q")[0],
        "main_rss_kb": main_usage.ru_maxrss,
        "reader_rss_kb": readers.ru_maxrss,  # the largest reader
    }
    print(json.dumps(result), flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
