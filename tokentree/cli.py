"""The command line: argument parsing, then one call into the core; no traceback reaches a user."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from tokentree.config import ConfigError
from tokentree.core.reading import ReadersEnded
from tokentree.core.report import GROUPS
from tokentree.core.sources import SOURCE_ALIASES, SOURCES
from tokentree.core.tree import Grouping
from tokentree.workspace import Choices, UsageError, Workspace, demo_clock, open_workspace

COMMANDS = (
    "report",
    "export",
    "index",
    "budget",
    "statusline",
    "watch",
    "handoff",
    "import",
    "team",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except (UsageError, ConfigError) as error:  # ConfigError: [advice], checked when used
        print(f"tokentree: {error}", file=sys.stderr)
        return 2
    except ReadersEnded as error:  # the system's doing (out of memory), not a bug to report
        print(f"tokentree: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the promise: a clear line, never a traceback
        if os.environ.get("TOKENTREE_DEBUG"):
            raise
        print(f"tokentree: unexpected {type(error).__name__}: {error}", file=sys.stderr)
        print("tokentree: set TOKENTREE_DEBUG=1 to see where it happened", file=sys.stderr)
        return 1


def _dispatch(args: list[str]) -> int:
    if args and args[0] == "import":  # reads an export, not the logs: no workspace
        return _import(args[1:])
    if args and args[0] in COMMANDS:
        parsed = _parser(args[0]).parse_intermixed_args(args[1:])
    else:
        parsed = _parser(None).parse_intermixed_args(args)
    if getattr(parsed, "schema", False):
        return _print_schema(parsed.command)
    if parsed.command == "team":  # reads ledgers, not this machine's logs: no workspace
        from tokentree.ledger_commands import team

        return team(parsed)
    if getattr(parsed, "web", False):
        if parsed.json or parsed.diagnostics:
            raise UsageError("--web opens the view; it does not combine with --json/--diagnostics")
        from tokentree.web import serve

        return serve(args, port=parsed.port)
    if getattr(parsed, "file", None):
        return _saved(parsed)
    if _interactive(parsed):
        from tokentree.app.app import run as run_app  # Textual loads only for the view

        choices = replace(_choices(parsed), machines=True, ledgers=parsed.with_ledgers)
        return run_app(choices, live=not parsed.no_watch, by=parsed.by)
    choices = replace(_choices(parsed), advice=_gives_advice(parsed))
    workspace = open_workspace(choices, progress=_progress_bar())
    for notice in workspace.notices:
        print(f"tokentree: {notice}", file=sys.stderr)
    seen = len(workspace.index.notices)
    try:
        return _run(parsed, workspace)
    finally:
        for notice in workspace.index.notices[seen:]:  # a damaged index met while answering
            print(f"tokentree: {notice}", file=sys.stderr)
        workspace.index.close()


def _run(parsed: argparse.Namespace, workspace: Workspace) -> int:
    if parsed.command == "index":
        from tokentree.commands import index

        return index(workspace, check=parsed.check, rebuild=parsed.rebuild)
    if parsed.command == "handoff":
        from tokentree.commands import handoff

        return handoff(workspace, parsed.session, parsed.output, parsed.force)
    if parsed.command == "watch":
        from tokentree.alerting import watch

        return watch(workspace, interval=parsed.interval, once=parsed.once)
    if parsed.command == "statusline":
        from tokentree.commands import statusline

        return statusline(workspace, sys.stdin.buffer.read(), now=_now(parsed))
    if parsed.command == "budget":
        from tokentree.commands import budget

        return budget(workspace, check=parsed.check, as_json=parsed.json, now=_now(parsed))
    if parsed.command == "export" and parsed.calls:
        from tokentree.ledger_commands import export_calls

        return export_calls(workspace, parsed.output, parsed.format, parsed.force)
    if parsed.command == "export":
        from tokentree.commands import export

        return export(workspace, parsed.node, parsed.output, parsed.force)
    from tokentree.commands import report

    by = parsed.by or "week" if parsed.command in ("report", None) else "week"
    status = report(
        workspace,
        by,
        as_json=parsed.json,
        diagnostics=parsed.diagnostics,
        overview=getattr(parsed, "overview", False),
        overview_range=getattr(parsed, "range", "all"),
        ledgers=getattr(parsed, "with_ledgers", []),
        receipts=getattr(parsed, "receipts", False),
    )
    if parsed.command is None and not parsed.json and not parsed.diagnostics:
        print("\n(the interactive view needs a terminal: weekly report)", file=sys.stderr)
    return status


def _gives_advice(parsed: argparse.Namespace) -> bool:
    """Whether a command gives advice, so the config's `[advice]` is checked before it runs."""
    if parsed.command == "export":
        return not parsed.calls
    return parsed.command == "handoff" or getattr(parsed, "overview", False)


def _now(parsed: argparse.Namespace) -> float:
    """The time budgets and the status line are read at: the demo's evening with --demo."""
    return demo_clock()() if parsed.demo else time.time()


def _saved(parsed: argparse.Namespace) -> int:
    """`tokentree -f FILE`: a saved export in the view; no log is read, so the choices of
    which logs to read do not apply to it."""
    if parsed.paths or parsed.demo or parsed.source or parsed.since or parsed.until:
        raise UsageError(
            "-f opens a saved export: it does not combine with PATH, --demo,"
            " --source, --since or --until"
        )
    if parsed.json or parsed.diagnostics:
        raise UsageError(
            "-f opens a saved export in the view: --json and --diagnostics are"
            " for the logs (the export is JSON already)"
        )
    from tokentree.app.saved_tree import run_saved  # Textual loads only for the view

    return run_saved(parsed.file, _choices(parsed), by=parsed.by)


def _interactive(parsed: argparse.Namespace) -> bool:
    """Bare `tokentree` on a terminal or in a browser tab opens the view; piped, a report."""
    if parsed.command is not None or parsed.json or parsed.diagnostics:
        return False
    from tokentree.web import in_browser_tab  # its socket and logging: not on a command's path

    return in_browser_tab() or (sys.stdin.isatty() and sys.stdout.isatty())


def _parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"tokentree {command}" if command else "tokentree",
        description={
            None: f"Where did the tokens go? Browse the {_source_titles()} logs on this machine"
            " (keys: ? in the view; without a terminal, prints the weekly report).",
            "report": "Print usage per day, week, session, project, model or source.",
            "export": "Write the tree (or one subtree) as JSON (schema tokentree.export/1).",
            "index": "Bring the index up to date; check or rebuild what it derives from the logs.",
            "budget": "Each [[budget]] of the config file: its use this period and a forecast.",
            "handoff": "A prompt to start a fresh thread from, built from a session's metadata"
            " (project, files read and edited, commands and tests run, cost, context, advice).",
            "watch": "Alert on budgets passing 80 % and 100 % and on live sessions' context,"
            " without the view (a desktop notification, the alert_command, or the bell).",
            "statusline": "One line for Claude Code's status bar (its status JSON on stdin):"
            " this session, today, the 5-hour block, context and budgets.",
            "team": "A team's spend from their call ledgers (one folder per person, named so;"
            " tokentree export --calls writes them), per person, project, model, week or month.",
        }[command],
        epilog=None if command else f"commands: {', '.join(COMMANDS)} (tokentree report --help)",
    )
    parser.set_defaults(command=command)
    if command is None:
        parser.add_argument("--version", action="version", version=f"tokentree {_version()}")
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="log files or folders to read instead of the discovered ones"
        if command != "team"
        else "a person's folder of call ledgers (its name is the person's)",
    )
    parser.add_argument("--demo", action="store_true", help="read the bundled sample logs")
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help=f"only this source ({', '.join(SOURCE_ALIASES)}); repeatable",
    )
    parser.add_argument("--tz", help="time zone for days and weeks (IANA name; default: local)")
    parser.add_argument("--week-start", help="first day of the week (default: monday)")
    parser.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="from this day")
    parser.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="up to this day")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="read every log afresh; do not use or write the index",
    )
    if command == "export":
        parser.add_argument(
            "--node",
            default="",
            metavar="PATH",
            help="the subtree to write, e.g. 2026-W47/2026-11-21",
        )
        parser.add_argument(
            "-o",
            "--output",
            default="-",
            metavar="FILE",
            help="where to write ('-' for stdout, the default)",
        )
        parser.add_argument("--force", action="store_true", help="replace an existing file")
        parser.add_argument("--schema", action="store_true", help="print the JSON Schema")
        parser.add_argument(
            "--calls",
            action="store_true",
            help="write this machine's call ledger (tokentree.calls/1) into the folder -o DIR,"
            " one file per month; only changed months are rewritten",
        )
        parser.add_argument(
            "--format", default="parquet", choices=("parquet", "ndjson"), help="for --calls"
        )
    elif command == "team":
        from tokentree.team import ENGINES, LEDGER_GROUPS

        parser.add_argument("--by", default="person", choices=LEDGER_GROUPS)
        parser.add_argument("--engine", default="duckdb", choices=ENGINES)
        parser.add_argument(
            "--spark-master", metavar="URL", help="for --engine spark (default: local[*])"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    elif command == "statusline":
        pass  # everything comes on stdin
    elif command == "handoff":
        parser.add_argument("session", metavar="SESSION", help="the session id, or its start")
        parser.add_argument(
            "-o", "--output", default="-", metavar="FILE", help="where to write ('-': stdout)"
        )
        parser.add_argument("--force", action="store_true", help="replace an existing file")
    elif command == "watch":
        parser.add_argument(
            "--interval", type=float, default=30.0, help="seconds between checks (default 30)"
        )
        parser.add_argument("--once", action="store_true", help="check once and exit")
    elif command == "budget":
        parser.add_argument(
            "--check", action="store_true", help="exit 1 when any budget is over its limit"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")
    elif command == "index":
        what = parser.add_mutually_exclusive_group()
        what.add_argument(
            "--check",
            action="store_true",
            help="derive which copy of each call counts and every sum afresh, and compare"
            " (exit 1 when they differ)",
        )
        what.add_argument(
            "--rebuild",
            action="store_true",
            help="derive them again from the stored copies of the calls",
        )
    else:
        if command is None:
            parser.add_argument(
                "--no-watch",
                action="store_true",
                help="do not follow the logs while the view is open",
            )
            parser.add_argument(
                "-f",
                "--file",
                metavar="FILE",
                help="open a saved export (tokentree export -o FILE) in the view, read-only;"
                " '-' reads it from stdin",
            )
            parser.add_argument(
                "--web",
                action="store_true",
                help="serve the view in a browser tab on localhost (needs tokentree[web])",
            )
            parser.add_argument(
                "--port", type=_port, default=8000, help="the port for --web (default 8000)"
            )
            parser.add_argument(
                "--by",
                choices=list(Grouping),
                help="what the view lists at the top (b cycles; default: the last used, or week)",
            )
        if command in (None, "report"):
            parser.add_argument(
                "--with",
                dest="with_ledgers",
                action="append",
                default=[],
                metavar="DIR",
                help="add other machines' call ledgers (also config `machines`); repeatable",
            )
        if command == "report":
            parser.add_argument(
                "--by",
                default="day",
                choices=(*GROUPS, "machine"),
            )
            parser.add_argument("--schema", action="store_true", help="print the JSON Schema")
            parser.add_argument(
                "--overview",
                action="store_true",
                help="after the table: daily spend as a calendar, the weekly trend, the split by "
                "source, model, project and activity, and the top advice with its arithmetic",
            )
            parser.add_argument(
                "--range",
                choices=("90d", "180d", "1y", "all"),
                default="all",
                help="with --overview: only the last 90 days, 180 days or year (as `r` in the"
                " overview screen)",
            )
            parser.add_argument(
                "--receipts",
                action="store_true",
                help="after the table: per day (week, month) and source, the exact and the"
                " estimated tokens and cost side by side (estimated: imported chat apps)",
            )
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--diagnostics",
            action="store_true",
            help="list skipped lines, pending lines and removed files",
        )
    return parser


def _import(args: list[str]) -> int:
    from tokentree.importing import READERS, import_export

    parser = argparse.ArgumentParser(
        prog="tokentree import",
        description="Estimate a chat app's usage from its data export (about 4 characters a"
        " token, the history sent again with each message) and keep only the counts: the"
        " app then shows as a source of its own, flagged estimated (~). Importing an export"
        " again adds only what is new.",
    )
    parser.add_argument("app", choices=READERS, help="whose export it is")
    parser.add_argument(
        "export", metavar="EXPORT", help="the export's zip, its folder, or its conversations.json"
    )
    parsed = parser.parse_args(args)
    return import_export(parsed.app, parsed.export)


def _source_titles() -> str:
    titles = [source.title for source in SOURCES.values() if not source.estimated]
    return ", ".join(titles[:-1]) + f" and {titles[-1]}"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokentree")
    except PackageNotFoundError:
        return "(not installed)"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text!r}")
    return int(text)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def _choices(parsed: argparse.Namespace) -> Choices:
    if parsed.since and parsed.until and parsed.since > parsed.until:
        raise UsageError("--since is after --until")
    return Choices(
        paths=parsed.paths,
        sources=parsed.source,
        timezone=parsed.tz,
        week_start=parsed.week_start,
        since=parsed.since,
        until=parsed.until,
        use_cache=not parsed.no_cache,
        demo=parsed.demo,
    )


def _print_schema(command: str) -> int:
    import orjson

    from tokentree.core.schemas import ExportDocument, ReportDocument

    model = ExportDocument if command == "export" else ReportDocument
    sys.stdout.buffer.write(orjson.dumps(model.model_json_schema(), option=orjson.OPT_INDENT_2))
    sys.stdout.write("\n")
    return 0


def _progress_bar():
    """A bar on stderr while a long first index runs (only on a terminal)."""
    if not sys.stderr.isatty():
        return None
    shown = False

    def show(done: int, total: int) -> None:
        nonlocal shown
        if total < 64 * 1024 * 1024 and not shown:
            return
        shown = True
        filled = int(30 * done / total) if total else 30
        print(
            f"\rindexing [{'#' * filled}{' ' * (30 - filled)}] "
            f"{done / 2**20:,.0f}/{total / 2**20:,.0f} MB",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )

    return show
