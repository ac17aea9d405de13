"""An `opencode.db` upgraded to OpenCode 2 (FORMATS.md §9.4): the v1 tables frozen with the
older work, `session_message` and `session_v2` with the newer, and OpenCode 2's backfilled
copies of a split session's v1 messages (new ids, never to be counted again)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from typing import Any

import orjson

from tokentree.synthetic_2026.files import Files

SOURCE = "opencode"
PROJECT = "/home/dev/src/infra-tools"
PATH = "opencode/opencode.db"

Usage = tuple[int, int, int, int, int]
"""fresh input, output, reasoning, cache read, cache write: OpenCode's own split."""

_SCHEMA = """
CREATE TABLE project (id text PRIMARY KEY, worktree text NOT NULL, vcs text, name text,
    time_created integer NOT NULL, time_updated integer NOT NULL, time_initialized integer,
    sandboxes text NOT NULL);
CREATE TABLE session (id text PRIMARY KEY, project_id text NOT NULL REFERENCES project(id),
    workspace_id text, parent_id text, slug text NOT NULL, directory text NOT NULL, path text,
    title text NOT NULL, version text NOT NULL, share_url text, summary_additions integer,
    summary_deletions integer, summary_files integer, summary_diffs text,
    cost real DEFAULT 0 NOT NULL, tokens_input integer DEFAULT 0 NOT NULL,
    tokens_output integer DEFAULT 0 NOT NULL, tokens_reasoning integer DEFAULT 0 NOT NULL,
    tokens_cache_read integer DEFAULT 0 NOT NULL, tokens_cache_write integer DEFAULT 0 NOT NULL,
    revert text, permission text, agent text, model text, time_created integer NOT NULL,
    time_updated integer NOT NULL, time_compacting integer, time_archived integer);
CREATE TABLE message (id text PRIMARY KEY, session_id text NOT NULL REFERENCES session(id),
    time_created integer NOT NULL, time_updated integer NOT NULL, data text NOT NULL);
CREATE TABLE part (id text PRIMARY KEY, message_id text NOT NULL REFERENCES message(id),
    session_id text NOT NULL, time_created integer NOT NULL, time_updated integer NOT NULL,
    data text NOT NULL);
CREATE INDEX message_session_time_created_id_idx ON message (session_id, time_created, id);
CREATE INDEX part_message_id_id_idx ON part (message_id, id);
"""
_UPGRADE = """
CREATE TABLE session_v2 AS SELECT * FROM session WHERE 0;
ALTER TABLE session_v2 ADD COLUMN fork_boundary text;
ALTER TABLE session_v2 ADD COLUMN time_idle integer;
ALTER TABLE session_v2 ADD COLUMN idle_outcome text;
ALTER TABLE session_v2 ADD COLUMN time_suspended integer;
ALTER TABLE session_v2 ADD COLUMN resume_attempts integer;
CREATE TABLE session_message (id text PRIMARY KEY, session_id text NOT NULL, type text NOT NULL,
    seq integer NOT NULL, time_created integer NOT NULL, time_updated integer NOT NULL,
    data text NOT NULL);
CREATE UNIQUE INDEX session_message_session_seq_idx ON session_message (session_id, seq);
"""


def _tokens(usage: Usage, total: bool) -> dict[str, Any]:
    fresh, output, reasoning, read, write = usage
    tokens: dict[str, Any] = {"input": fresh, "output": output, "reasoning": reasoning}
    tokens["cache"] = {"read": read, "write": write}
    return {"total": sum(usage), **tokens} if total else tokens


class _Store:
    """The database being written, ids drawn from the seed, and the tally of its calls."""

    def __init__(self, files: Files, db: sqlite3.Connection) -> None:
        self.files = files
        self.db = db
        self.project = files.ids.hex(40)
        self.seq: Counter[str] = Counter()
        self.v1: dict[str, list[dict[str, Any]]] = {}  # session → its v1 messages, for backfill

    def id(self, prefix: str, ms: int) -> str:
        return f"{prefix}_{(ms << 12) & (1 << 48) - 1:012x}{self.files.ids.tag('', 14)}"

    def session(self, table: str, when: int, title: str, parent: str | None = None) -> str:
        session = self.id("ses", when)
        version = "1.16.4" if table == "session" else "2.0.25"
        self.db.execute(
            f"INSERT INTO {table} (id, project_id, parent_id, slug, directory, title, version,"
            " time_created, time_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session, self.project, parent, session[4:14], PROJECT, title, version, when, when),
        )
        return session

    def message(self, session: str, when: int, info: dict[str, Any]) -> str:
        """A v1 message (`info` without its ids)."""
        message = self.id("msg", when)
        data = orjson.dumps(info).decode()
        self.db.execute(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?)", (message, session, when, when, data)
        )
        self.v1.setdefault(session, []).append({"id": message, **info})
        return message

    def v1_user(self, session: str, when: int) -> None:
        model = {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"}
        self.message(
            session,
            when,
            {"role": "user", "time": {"created": when}, "agent": "build", "model": model},
        )

    def v1_assistant(
        self,
        session: str,
        when: int,
        steps: list[tuple[Usage, float, tuple[tuple[str, dict], ...]]],
    ) -> None:
        """A response of one step per entry (usage, OpenCode's cost, tools), each a call."""
        moment = when
        message = self.message(
            session,
            when,
            {
                "role": "assistant",
                "time": {"created": when, "completed": when + 4_000 * len(steps)},
                "modelID": "claude-sonnet-4-5",
                "providerID": "anthropic",
                "mode": "build",
                "agent": "build",
                "path": {"cwd": PROJECT, "root": PROJECT},
                "cost": round(sum(cost for _, cost, _ in steps), 6),
                "tokens": _tokens(steps[-1][0], total=True),  # OpenCode keeps the last step's
                "finish": "stop",
            },
        )
        parts: list[dict[str, Any]] = []
        for usage, cost, tools in steps:
            moment += 4_000
            parts.append({"type": "step-start", "snapshot": self.files.ids.hex(40)})
            for name, arguments in tools:
                state = {"status": "completed", "input": arguments, "output": "…", "title": name}
                call = f"toolu_{self.files.ids.tag('', 24)}"
                parts.append({"type": "tool", "callID": call, "tool": name, "state": state})
            parts.append(
                {
                    "type": "step-finish",
                    "reason": "stop",
                    "cost": cost,
                    "tokens": _tokens(usage, True),
                }
            )
            self.files.call(SOURCE, *_tally(usage))
        for part in parts:
            self.db.execute(
                "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self.id("prt", moment),
                    message,
                    session,
                    moment,
                    moment,
                    orjson.dumps(part).decode(),
                ),
            )

    def row(
        self, session: str, kind: str, when: int, data: dict[str, Any], row_id: str = ""
    ) -> None:
        """An OpenCode 2 `session_message` row."""
        self.seq[session] += 1
        values = (row_id or self.id("msg", when), session, kind, self.seq[session], when, when)
        self.db.execute(
            "INSERT INTO session_message VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*values, orjson.dumps({"type": kind, **data}).decode()),
        )

    def v2_user(self, session: str, when: int, text: str) -> None:
        self.row(
            session,
            "user",
            when,
            {"text": text, "files": [], "agents": [], "time": {"created": when}},
        )

    def v2_assistant(
        self,
        session: str,
        when: int,
        usage: Usage,
        cost: float,
        tools: tuple[tuple[str, dict], ...] = (),
        model: tuple[str, str] = ("claude-sonnet-4-6", "anthropic"),
    ) -> None:
        content: list[dict[str, Any]] = [
            {"type": "text", "id": self.id("txt", when), "text": "Done."}
        ]
        for name, arguments in tools:
            state = {"status": "completed", "input": arguments, "content": []}
            content.append(
                {"type": "tool", "id": self.id("call", when), "name": name, "state": state}
            )
        data = {
            "time": {"created": when, "completed": when + 5_000},
            "agent": "build",
            "model": {"id": model[0], "providerID": model[1]},
            "content": content,
            "finish": "stop",
            "cost": cost,
            "tokens": _tokens(usage, total=False),
        }
        self.row(session, "assistant", when, data)
        self.files.call(SOURCE, *_tally(usage))

    def backfill(self, session: str, written: int) -> None:
        """OpenCode 2's copies of a session's v1 messages under new ids (`total` dropped)."""
        for ordinal, message in enumerate(self.v1[session]):
            digest = hashlib.sha256(f"{session}/{message['id']}".encode()).hexdigest()[:24]
            data: dict[str, Any] = {"time": {"created": message["time"]["created"]}}
            if message["role"] == "assistant":
                tokens = {k: v for k, v in message["tokens"].items() if k != "total"}
                model = {"id": message["modelID"], "providerID": message["providerID"]}
                data |= {"agent": "build", "model": model, "content": [], "cost": message["cost"]}
                data["tokens"] = tokens
            row_id = f"evt_legacy_backfill_m_{ordinal:08d}_{digest}"
            self.row(session, message["role"], written, data, row_id)


def _tally(usage: Usage) -> tuple[int, int, int, int, int]:
    """A step in tokentree's terms: reasoning is billed as output."""
    fresh, output, reasoning, read, write = usage
    return fresh, write, read, output + reasoning, reasoning


def write(files: Files) -> None:
    path = files.dest / PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        _fill(_Store(files, db))
        db.commit()
    finally:
        db.close()
    files.noted(PATH)


def _fill(s: _Store) -> None:
    files = s.files
    s.db.executescript(_SCHEMA)
    first = files.at(12, 10, 0)
    s.db.execute(
        "INSERT INTO project VALUES (?, ?, 'git', 'infra-tools', ?, ?, NULL, '[]')",
        (s.project, PROJECT, first, first),
    )
    # OpenCode 1: a session of its own, and the start of one continued in OpenCode 2.
    old = s.session("session", first, "Terraform plan drift in staging")
    s.v1_user(old, first)
    plan = ("bash", {"command": "terraform plan -out plan.bin", "description": "plan"})
    s.v1_assistant(
        old,
        first + 4_000,
        [
            ((5_200, 310, 0, 9_800, 5_200), 0.0523, (plan,)),
            ((420, 780, 0, 15_000, 420), 0.0177, ()),
        ],
    )
    s.v1_user(old, first + 190_000)
    fix = ("edit", {"filePath": f"{PROJECT}/modules/vpc/main.tf", "oldString": "cidr"})
    s.v1_assistant(old, first + 194_000, [((180, 540, 120, 15_900, 600), 0.0188, (fix,))])
    begun = files.at(4, 16, 0)
    split = s.session("session", begun, "Rotate the staging database credentials")
    s.v1_user(split, begun)
    read = ("read", {"filePath": f"{PROJECT}/envs/staging/variables.tf"})
    s.v1_assistant(split, begun + 5_000, [((3_400, 420, 0, 11_200, 3_400), 0.0503, (read,))])
    # OpenCode 2: the split session goes on (its v1 messages backfilled), then a new one.
    s.db.executescript(_UPGRADE)
    upgraded = files.at(2, 8, 0)
    s.db.execute(
        "INSERT INTO session_v2 SELECT *, NULL, NULL, NULL, NULL, 0 FROM session WHERE id = ?",
        (split,),
    )
    s.db.execute(
        "UPDATE session_v2 SET version = '2.0.25', time_updated = ? WHERE id = ?", (upgraded, split)
    )
    s.backfill(split, upgraded)
    s.v2_user(split, upgraded + 60_000, "now store the new password in the vault module")
    vault = ("edit", {"filePath": f"{PROJECT}/modules/vault/secrets.tf", "oldString": "var.pw"})
    s.v2_assistant(split, upgraded + 66_000, (260, 910, 340, 14_800, 1_100), 0.0324, (vault,))
    s.row(
        split,
        "model-switched",
        upgraded + 90_000,
        {"model": {"id": "gpt-5.1", "providerID": "openai"}},
    )
    s.v2_user(split, upgraded + 95_000, "double-check the plan output")
    s.v2_assistant(
        split, upgraded + 101_000, (12_600, 450, 192, 0, 0), 0.0222, model=("gpt-5.1", "openai")
    )
    start = files.at(1, 11, 0)
    new = s.session("session_v2", start, "Split the monitoring module")
    s.v2_user(new, start, "split the monitoring module into alerts and dashboards")
    task = ("task", {"subagent_type": "general", "description": "list the alert rules"})
    s.v2_assistant(new, start + 6_000, (4_100, 380, 0, 12_000, 4_100), 0.0247, (task,))
    child = s.session("session_v2", start + 7_000, "List the alert rules", parent=new)
    s.v2_user(child, start + 7_000, "list every alert rule and the dashboard it belongs to")
    validate = ("bash", {"command": "terraform validate", "description": "validate"})
    s.v2_assistant(
        child, start + 15_000, (6_900, 620, 256, 0, 0), 0.0173, (validate,), ("gpt-5.1", "openai")
    )
    s.v2_assistant(new, start + 24_000, (140, 720, 96, 16_200, 900), 0.0198)
