"""One pass over the sessions, day by day: the session rules run as each is reached, the period
rules keep a few numbers of it, and nothing of its calls or turns is kept once it was seen; a
day already digested (digest.py) is replayed without reading it."""

from __future__ import annotations

from collections.abc import Callable

from tokentree.core.advice.context import Context, Place, Session, gather
from tokentree.core.advice.digest import DayDigest, Digests, Part
from tokentree.core.advice.report import AdviceReport, join
from tokentree.core.advice.rules import RULES, PeriodRule
from tokentree.core.advice.settings import AdviceSettings
from tokentree.core.attribution import Attribution
from tokentree.core.pricing import PriceBook
from tokentree.core.tree import Kind, Node


def advise(
    root: Node,
    prices: PriceBook,
    settings: AdviceSettings | None = None,
    attribution: Attribution | None = None,
    base_path: str = "",
    *,
    done_with: Callable[[Node], None] | None = None,
    digests: Digests | None = None,
) -> AdviceReport:
    """Run every enabled rule on the tree below `root` (a period, a week, a day or a session).

    Paths in the advice are `base_path` + the node's keys below `root` (see AdviceReport).
    The sessions are read once, in tree order; `done_with` is called with each day as soon as
    its sessions were seen, and nothing below it is read again, so the caller may drop the
    day's sessions then and a year's advice needs one day in memory at a time. With
    `done_with`, advice about a session or turn points at a childless copy of it (the tree's
    own would keep the day's calls): look such advice up by path. With `digests`, a day
    whose digest is kept under its stamp is not read at all: its digest is replayed (and
    `done_with` called with it all the same).
    """
    settings = settings or AdviceSettings()
    context = Context(root, prices, settings, attribution, base_path, done_with is None)
    enabled = [rule for rule in RULES.values() if getattr(settings, rule.id).enabled]
    session_rules = [rule.session for rule in enabled if rule.session is not None]
    period_rules = [rule.period(context) for rule in enabled if rule.period is not None]
    run = _Pass(context, session_rules, period_rules, done_with, digests)
    run.walk(root, base_path, "", None)
    for tally in period_rules:
        tally.finish()
    context.report.items.sort(key=lambda item: (-item.saving_usd, item.path, item.rule))
    return context.report


class _Pass:
    """One pass over the sessions below a root: the session rules run as each is reached,
    the period rules keep their part of it; a day is replayed from its digest when kept."""

    def __init__(
        self,
        context: Context,
        session_rules: list[Callable[[Context, Session], None]],
        period_rules: list[PeriodRule],
        done_with: Callable[[Node], None] | None,
        digests: Digests | None,
    ) -> None:
        self.context = context
        self.session_rules = session_rules
        self.period_rules = period_rules
        self.done_with = done_with
        self.digests = digests

    def walk(self, node: Node, path: str, day: str, week: Node | None) -> None:
        if node.kind is Kind.SESSION:
            self.session(node, path, day, week)
        elif node.kind is Kind.DAY and self.digests is not None:
            self.day(node, path, week, self.digests)
        elif node.kind in (Kind.ALL, Kind.WEEK, Kind.DAY):
            day = node.label if node.kind is Kind.DAY else day
            week = node if node.kind is Kind.WEEK else week
            for child in node.children:
                self.walk(child, join(path, child.key), day, week)
            if node.kind is Kind.DAY and self.done_with is not None:
                self.done_with(node)

    def session(self, node: Node, path: str, day: str, week: Node | None) -> list[Part]:
        """The session's rules run, its parts counted; returns its parts."""
        where = f"{day} · {node.label}" if day else node.label
        session = gather(node, Place(self.context.keep(node), path, where), week)
        for rule in self.session_rules:
            rule(self.context, session)
        parts = [tally.part(session) for tally in self.period_rules]
        for tally, part in zip(self.period_rules, parts, strict=True):
            tally.add_part(part)
        return parts

    def day(self, node: Node, path: str, week: Node | None, digests: Digests) -> None:
        """A day from its digest when one is kept under its stamp; else read, and digested."""
        stamp = digests.stamp(node, path)
        digest = None if stamp is None else digests.get(path, stamp)
        report = self.context.report
        if digest is not None:
            for item in digest.advice:
                report._add(item)
            for parts in digest.parts:
                for tally, part in zip(self.period_rules, parts, strict=True):
                    tally.add_part(part)
        else:
            before = len(report.items)
            parts = [
                self.session(session, join(path, session.key), node.label, week)
                for session in node.children
            ]
            if stamp is not None:
                digests.put(path, stamp, DayDigest(report.items[before:], parts))
        if self.done_with is not None:
            self.done_with(node)
