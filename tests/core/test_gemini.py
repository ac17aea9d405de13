"""Gemini CLI: legacy `.json` and `.jsonl` chats, updates, rewinds, migrations and sub-agents."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.builders import (
    append,
    gemini_legacy,
    gemini_meta,
    gemini_prompt,
    gemini_reply,
    gemini_usage,
    jsonl,
    token_totals,
    write,
)
from tests.conftest import REAL_SAMPLES
from tokentree.core.index import Index, Scope
from tokentree.core.sources import default_roots, explicit_roots, find_files, gemini, sniff
from tokentree.core.sources.base import BAD_TIMESTAMP, BAD_TOKENS

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SESSION = "7d9e3c1a-55aa-4bb2-9c1d-0123456789ab"
EXPECTED = json.loads((REAL_SAMPLES / "expected.json").read_text())["gemini"]


class Harness:
    """An index on disk over a fake `~/.gemini`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.roots = default_roots({"GEMINI_CLI_HOME": str(home)}, home, [gemini.NAME])
        self.project = home / ".gemini" / "tmp" / "shop"
        self.chats = self.project / "chats"
        self.index = Index(home / "index.sqlite")

    def update(self):
        found = find_files(self.roots)
        return self.index.update(found.files, self.roots)

    def scope(self) -> Scope:
        return Scope(tuple(str(root.path) for root in self.roots), (gemini.NAME,))

    def calls(self):
        self.update()
        return sorted(self.index.calls(self.scope()), key=lambda call: call.timestamp)

    def totals(self) -> tuple[int, ...]:
        return token_totals(self.calls(), ("input", "cache_read", "output", "reasoning"))


@pytest.fixture
def harness(isolated_home: Path) -> Harness:
    return Harness(isolated_home)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- the genuine sample ------------------------------------------------------------------------


def test_the_real_legacy_sample_gives_the_expected_totals() -> None:
    name = "yoavf-ai-sessions_gemini-cli-pomodoro-timer.json"
    expected = EXPECTED[name]
    roots = explicit_roots([REAL_SAMPLES / "gemini" / name])  # sniffed, not forced
    found = find_files(roots)
    assert [file.source for file in found.files] == [gemini.NAME]
    index = Index(None)
    index.update(found.files, roots)
    scope = Scope(tuple(str(root.path) for root in roots), (gemini.NAME,))
    calls = index.calls(scope)
    assert len(calls) == expected["gemini_messages"] == 14
    # tokentree stores uncached input (+ tool prompt) and cache reads apart
    assert sum(c.tokens.input + c.tokens.cache_read for c in calls) == expected["input"] + 0
    assert sum(c.tokens.cache_read for c in calls) == expected["cached"] == 86_702
    assert sum(c.tokens.input for c in calls) == 120_730 - 86_702
    assert sum(c.tokens.output for c in calls) == expected["output"] + expected["thoughts"]
    assert sum(c.tokens.reasoning for c in calls) == expected["thoughts"] == 1_348
    assert sum(c.tokens.total for c in calls) == expected["total"] == 126_953
    unknown = [c for c in calls if not c.tokens.total]
    assert len(unknown) == expected["messages_with_zero_tokens"] == 1
    assert unknown[0].unpriced and unknown[0].cost == 0  # unknown, never free
    assert unknown[0].tools == (
        "write_file index.html",
        "write_file style.css",
        "write_file script.js",
    )
    assert {c.model for c in calls} == {"gemini-2.5-pro"}
    assert {c.session_id for c in calls} == {"0b23371a-ce2e-4b1c-81a0-44af5d94d9ce"}
    assert len(index.prompts(scope)) == 5
    priced = [c for c in calls if not c.unpriced]
    fresh = sum(c.tokens.input for c in priced)
    cached = sum(c.tokens.cache_read for c in priced)
    output = sum(c.tokens.output for c in priced)
    # gemini-2.5-pro, prompts under 200k: $1.25 input, $0.125 cached, $10 output (thoughts too)
    assert sum(c.cost for c in calls) == pytest.approx(
        (fresh * 1.25 + cached * 0.125 + output * 10) / 1e6, abs=1e-9
    )


# --- the .jsonl append log ---------------------------------------------------------------------


def test_the_last_record_of_a_message_wins(harness: Harness) -> None:
    """The CLI appends a message again on each change: first without tokens, then with them."""
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_reply("g1", _at(1), None),
        {"$set": {"lastUpdated": "2026-03-02T14:01:00.000Z"}},
        gemini_reply("g1", _at(1), gemini_usage(1000, 600, 50, thoughts=20)),
        gemini_reply(
            "g1",
            _at(1),
            gemini_usage(1000, 600, 50, thoughts=20),
            tools=(("run_shell_command", {"command": "npm test -- --watch=false"}),),
        ),
        {"$set": {"messages": [gemini_reply("g1", _at(1), gemini_usage(1000, 600, 50, 20))]}},
    )
    calls = harness.calls()
    assert harness.totals() == (1, 400, 600, 70, 20)
    assert calls[0].tools == ("run_shell_command npm",)
    assert calls[0].session_id == SESSION
    assert not calls[0].unpriced


def test_updates_read_in_later_passes_merge_into_one_call(harness: Harness) -> None:
    path = write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_reply("g1", _at(1), None),
    )
    [pending] = harness.calls()
    assert pending.tokens.total == 0 and pending.unpriced  # not known yet: not free
    append(path, jsonl(gemini_reply("g1", _at(1), gemini_usage(2000, 1500, 40, thoughts=10))))
    assert harness.totals() == (1, 500, 1500, 50, 10)
    append(
        path,
        jsonl(
            gemini_reply(
                "g1",
                _at(1),
                gemini_usage(2000, 1500, 40, thoughts=10),
                tools=(("read_file", {"absolute_path": "/home/dev/shop/src/cart.ts"}),),
            ),
            gemini_reply("g2", _at(2), gemini_usage(2100, 2000, 30, tool=5)),
        )
        + b'{"id":"g3","timestamp":"2026-03-02T14:03:00.000Z","type":"gemini","tok',  # torn
    )
    calls = harness.calls()
    assert harness.totals() == (2, 605, 3500, 80, 10)
    assert calls[0].tools == ("read_file cart.ts",)
    assert not calls[0].unpriced
    stats = harness.update()
    assert stats.files_read == 0  # nothing new: the torn line waits for its end
    append(path, b'ens":null,"model":"gemini-2.5-flash"}\n')
    assert harness.totals()[0] == 3


def _two_exchanges() -> tuple[dict, ...]:
    """A chat's start: two prompts, each answered (the second prompt a correction)."""
    return (
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_reply("g1", _at(1), gemini_usage(1000, 0, 100)),
        gemini_prompt("u2", _at(2), "no, do it differently"),
        gemini_reply("g2", _at(3), gemini_usage(1200, 1000, 80)),
    )


def test_rewound_calls_stay_counted(harness: Harness) -> None:
    """A rewind hides messages from the chat, but their calls were paid for."""
    path = write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        *_two_exchanges(),
    )
    assert harness.totals() == (2, 1200, 1000, 180, 0)
    append(
        path,
        jsonl(
            {"$rewindTo": "u2"},
            gemini_prompt("u3", _at(4), "do it like this"),
            gemini_reply("g3", _at(5), gemini_usage(1100, 1000, 60)),
        ),
    )
    assert harness.totals() == (3, 1300, 2000, 240, 0)
    assert [call.rewound for call in harness.calls()] == [False, True, False]
    assert len(harness.index.prompts(harness.scope())) == 3


def test_a_rewind_read_in_the_same_pass_marks_the_rewound_calls(harness: Harness) -> None:
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        *_two_exchanges(),
        {"$rewindTo": "g1"},
    )
    assert harness.totals() == (2, 1200, 1000, 180, 0)
    assert [call.rewound for call in harness.calls()] == [True, True]


def test_a_rewind_to_an_id_not_in_the_chat_marks_every_call_and_keeps_its_tokens(
    harness: Harness,
) -> None:
    """The CLI clears the whole chat when the id is gone (here: rewound already); the calls
    were paid for, so none of them drops."""
    path = write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        *_two_exchanges(),
        {"$rewindTo": "u2"},
        gemini_prompt("u3", _at(4), "do it like this"),
        gemini_reply("g3", _at(5), gemini_usage(1100, 1000, 60)),
    )
    assert harness.totals() == (3, 1300, 2000, 240, 0)
    assert [call.rewound for call in harness.calls()] == [False, True, False]
    append(
        path,
        jsonl(
            {"$rewindTo": "g2"},
            gemini_prompt("u4", _at(6), "start over"),
            gemini_reply("g4", _at(7), gemini_usage(900, 800, 30, thoughts=5)),
        ),
    )
    assert harness.totals() == (4, 1400, 2800, 275, 5)
    assert [call.rewound for call in harness.calls()] == [True, True, True, False]
    assert len(harness.index.prompts(harness.scope())) == 4


def test_a_rewind_to_an_unknown_id_read_in_the_same_pass_drops_nothing(harness: Harness) -> None:
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_reply("g1", _at(1), gemini_usage(1000, 0, 100)),
        gemini_reply("g2", _at(2), gemini_usage(1200, 1000, 80, thoughts=7)),
        {"$rewindTo": "never-logged"},
        gemini_prompt("u2", _at(3), "again"),
        gemini_reply("g3", _at(4), gemini_usage(1100, 1000, 60)),
    )
    assert harness.totals() == (3, 1300, 2000, 247, 7)
    assert [call.rewound for call in harness.calls()] == [True, True, False]


def test_a_migrated_legacy_session_counts_once(harness: Harness) -> None:
    """Resuming a legacy chat copies it into `<same name>.jsonl`; the `.json` stays."""
    meta = gemini_meta(SESSION, T0)
    first = [
        gemini_prompt("u1", _at(0)),
        gemini_reply("g1", _at(1), gemini_usage(3000, 2000, 100, thoughts=30)),
    ]
    legacy = gemini_legacy(harness.chats / "session-2026-03-02T14-00-7d9e3c1a.json", meta, *first)
    assert harness.totals() == (1, 1000, 2000, 130, 30)
    write(
        legacy.with_suffix(".jsonl"),
        meta,
        *first,
        {"$set": {"sessionId": SESSION}},
        gemini_prompt("u2", _at(10)),
        gemini_reply("g2", _at(11), gemini_usage(3500, 3000, 70)),
    )
    assert harness.totals() == (2, 1500, 5000, 200, 30)
    assert len(harness.index.prompts(harness.scope())) == 2


def test_a_legacy_chat_rewritten_in_place_is_read_afresh(harness: Harness) -> None:
    """Each update rewrites the whole document, keeping its head: no offset survives it."""
    path = harness.chats / "session-2026-03-02T14-00-7d9e3c1a.json"
    meta = gemini_meta(SESSION, T0)
    u1 = gemini_prompt("u1", _at(0))
    gemini_legacy(path, meta, u1, gemini_reply("g1", _at(1), None))
    assert harness.totals() == (1, 0, 0, 0, 0)
    gemini_legacy(path, meta, u1, gemini_reply("g1", _at(1), gemini_usage(900, 500, 20)))
    assert harness.totals() == (1, 400, 500, 20, 0)
    g2 = gemini_reply("g2", _at(2), gemini_usage(1000, 800, 30, thoughts=5))
    gemini_legacy(path, meta, u1, gemini_reply("g1", _at(1), gemini_usage(900, 500, 20)), g2)
    assert harness.totals() == (2, 600, 1300, 55, 5)
    assert harness.update().files_read == 0


def test_a_legacy_chat_caught_half_written_is_read_when_complete(harness: Harness) -> None:
    path = harness.chats / "session-2026-03-02T14-00-7d9e3c1a.json"
    messages = (gemini_prompt("u1", _at(0)), gemini_reply("g1", _at(1), gemini_usage(900, 0, 20)))
    gemini_legacy(path, gemini_meta(SESSION, T0), *messages)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    assert harness.totals()[0] == 0
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.pending_bytes == len(whole) // 2
    path.write_bytes(whole[: len(whole) // 2])  # not written on yet: tried again, still waits
    assert harness.totals()[0] == 0
    path.write_bytes(whole)
    assert harness.totals() == (1, 900, 0, 20, 0)


def test_sub_agent_chats_belong_to_their_parent_session(harness: Harness) -> None:
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_reply(
            "g1", _at(1), gemini_usage(500, 0, 10), tools=(("codebase_investigator", {}),)
        ),
    )
    write(
        harness.chats / SESSION / "0c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff.jsonl",
        gemini_meta("0c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff", _at(1), kind="subagent"),
        gemini_prompt("s1", _at(1), "investigate the cart"),
        gemini_reply("s2", _at(2), gemini_usage(700, 200, 40), model="gemini-2.5-flash"),
    )
    calls = harness.calls()
    assert [(c.session_id, c.subagent, c.model) for c in calls] == [
        (SESSION, False, "gemini-2.5-pro"),
        (SESSION, True, "gemini-2.5-flash"),
    ]
    assert calls[0].tools == ("codebase_investigator",)
    assert len(harness.index.prompts(harness.scope())) == 1  # the task is not a user prompt


def test_the_project_comes_from_the_marker_file_or_the_registry(harness: Harness) -> None:
    (harness.project).mkdir(parents=True)
    (harness.project / ".project_root").write_text("/home/dev/shop\n")
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        gemini_reply("g1", _at(1), gemini_usage(10, 0, 1)),
    )
    hashed = hashlib.sha256(b"/home/dev/billing").hexdigest()
    (harness.home / ".gemini" / "projects.json").write_bytes(
        orjson.dumps({"projects": {"/home/dev/billing": "billing"}})
    )
    write(
        harness.home / ".gemini" / "tmp" / hashed / "chats" / "session-2026-03-02T15-00-aaaa.jsonl",
        gemini_meta("aaaa0000-0000-0000-0000-000000000000", T0, projectHash=hashed),
        gemini_reply("g9", _at(60), gemini_usage(10, 0, 1)),
    )
    assert [c.project for c in harness.calls()] == ["/home/dev/shop", "/home/dev/billing"]


def test_lines_of_other_kinds_and_bad_lines_are_skipped(harness: Harness) -> None:
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        {"id": "i1", "timestamp": "2026-03-02T14:00:30.000Z", "type": "info", "content": "hi"},
        b'{"id":"g0","type":"gemini",',
        gemini_reply("g1", "yesterday", gemini_usage(10, 0, 1)),
        gemini_reply("g2", _at(2), {"input": "many", "output": 1, "cached": 0}),
        gemini_reply("g3", _at(3), gemini_usage(10, 0, 1), model=None),
        {"id": "g4", "timestamp": "2026-03-02T14:04:00.000Z", "type": "gemini", "content": ""},
    )
    [call] = harness.calls()
    assert call.model == gemini.FALLBACK_MODEL and call.fidelity.value == "estimated"
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.skipped == {"malformed JSON": 1, "wrong field types": 1, BAD_TIMESTAMP: 1}


def test_bad_counts_and_times_skip_their_messages_and_the_others_count_exactly(
    harness: Harness,
) -> None:
    """A missing or null count is 0, as before; a bool, a negative or a huge one is refused."""
    quiet = gemini_usage(500, 100, 20)
    quiet["thoughts"] = None
    del quiet["tool"]
    write(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl",
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_prompt("u0", "0001-01-01T00:00:00.000Z"),  # not a prompt
        gemini_reply("g1", _at(1), gemini_usage(1000, 600, 50, thoughts=20)),
        gemini_reply("g2", _at(2), gemini_usage(2**63, 0, 1)),
        gemini_reply("g3", _at(3), gemini_usage(10, 0, -1)),
        gemini_reply("g4", _at(4), gemini_usage(10, True, 1)),
        gemini_reply("g5", _at(5), gemini_usage(10, 0, 1, thoughts=False)),
        gemini_reply("g6", "9999-12-31T23:59:59.999Z", gemini_usage(10, 0, 1)),
        gemini_reply("g7", "0001-01-01T00:00:00.000Z", gemini_usage(10, 0, 1)),
        gemini_reply("g8", _at(8), quiet),
    )
    assert harness.totals() == (2, 400 + 400, 600 + 100, 70 + 20, 20)
    assert len(harness.index.prompts(harness.scope())) == 1
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.skipped == {BAD_TOKENS: 4, BAD_TIMESTAMP: 3}


def test_a_legacy_chat_keeps_its_good_messages_beside_bad_ones(harness: Harness) -> None:
    gemini_legacy(
        harness.chats / "session-2026-03-02T14-00-7d9e3c1a.json",
        gemini_meta(SESSION, T0),
        gemini_prompt("u1", _at(0)),
        gemini_reply("g1", _at(1), gemini_usage(900, 500, 20)),
        gemini_reply("g2", _at(2), gemini_usage(900, 500, 2**53)),
        gemini_reply("g3", "9999-12-31T23:59:59.999Z", gemini_usage(900, 500, 20)),
    )
    assert harness.totals() == (1, 400, 500, 20, 0)
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.skipped == {BAD_TOKENS: 1, BAD_TIMESTAMP: 1}


# --- where the chats are ----------------------------------------------------------------------


def test_discovery_follows_gemini_cli_home(tmp_path: Path) -> None:
    assert gemini.discover({}, tmp_path) == [tmp_path / ".gemini" / "tmp"]
    assert gemini.discover({"GEMINI_CLI_HOME": "/srv/me"}, tmp_path) == [
        Path("/srv/me/.gemini/tmp")
    ]


def test_only_chat_files_are_taken_from_the_gemini_folder(harness: Harness) -> None:
    tmp = harness.home / ".gemini" / "tmp" / "shop"
    write(tmp / "logs.json", {"sessionId": SESSION, "messageId": 0, "type": "user"})
    write(harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl", gemini_meta(SESSION, T0))
    found = find_files(harness.roots)
    assert [Path(file.path).name for file in found.files] == [
        "session-2026-03-02T14-00-7d9e3c1a.jsonl"
    ]
    assert sniff(str(harness.chats / "session-2026-03-02T14-00-7d9e3c1a.jsonl")) == gemini.NAME
