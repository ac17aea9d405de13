"""The advice of a tree: each piece with its evidence, found by node or by path."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokentree.core.tree import Kind, Node


@dataclass(frozen=True, slots=True, eq=False)
class Advice:
    """One piece of advice about one node; `evidence["formula"]` shows the saving's arithmetic."""

    rule: str
    node: Node
    path: str
    where: str
    message: str
    saving_usd: float
    evidence: dict[str, Any]

    @property
    def title(self) -> str:
        from tokentree.core.advice.rules import RULES  # the registry imports the rules: later

        return RULES[self.rule].title

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "node": self.path,
            "where": self.where,
            "message": self.message,
            "saving_usd": round(self.saving_usd, 6),
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class AdviceReport:
    """Every piece of advice for a tree, biggest saving first, and the advice of each node.

    A node's path is the `base_path` given to `advise` followed by the keys below the analysed
    root, joined by "/": a child's path is its parent's + "/" + its key, or just its key below
    a parent whose path is "" (the root's, when `base_path` is ""). So a day of the whole tree
    is at "2026-W47/2026-11-21", one of its sessions at "2026-W47/2026-11-21/claude-code:4f…".
    Paths outlive nodes: a day that was dropped and loaded again has new nodes at the same
    paths, so views of such a tree look advice up with `for_path` and `marks_at`.
    """

    items: list[Advice] = field(default_factory=list)
    _by_node: dict[Node, list[Advice]] = field(default_factory=dict)
    _by_path: dict[str, list[Advice]] = field(default_factory=dict)

    def for_node(self, node: Node) -> list[Advice]:
        return self._by_node.get(node, [])

    def for_path(self, path: str) -> list[Advice]:
        """The advice about the node at `path` (see the class docstring)."""
        return self._by_path.get(path, [])

    def top(self, count: int) -> list[Advice]:
        """The advice with a saving, biggest first."""
        return [item for item in self.items if item.saving_usd > 0][:count]

    def marks(self, node: Node) -> dict[str, str]:
        """A short flag per child row of `node` (by key) that advice is about, for a list view:
        "◆ cache rebuilt after 14 min idle" on a turn, "▲ 44% in one session" on a week."""
        children = node.children if node.kind is not Kind.TURN else ()
        by_child = ((child.key, self.for_node(child)) for child in children)
        return _marks(self.for_node(node), by_child)

    def marks_at(self, node: Node, path: str) -> dict[str, str]:
        """`marks` of the node at `path`, found by path: for a node that may be a new object."""
        children = node.children if node.kind is not Kind.TURN else ()
        by_child = ((child.key, self.for_path(join(path, child.key))) for child in children)
        return _marks(self.for_path(path), by_child)

    def about_row(self, path: str) -> list[Advice]:
        """The advice of the node at `path`, and its parent's advice that marks it in a list (a
        session's "cache rebuilt" marks the turn it happened in): what `i` on the row explains."""
        from tokentree.core.advice.rules import RULES

        parent, _, key = path.rpartition("/")
        pointing = [
            item
            for item in self.for_path(parent)
            if (child_marks := RULES[item.rule].child_marks) is not None
            and any(child == key for child, _ in child_marks(item))
        ]
        return [*self.for_path(path), *pointing]

    def _add(self, item: Advice) -> None:
        self.items.append(item)
        self._by_node.setdefault(item.node, []).append(item)
        self._by_path.setdefault(item.path, []).append(item)


MARK_SEPARATOR = " · "  # between the marks of one row


def _marks(own: list[Advice], children: Iterable[tuple[str, list[Advice]]]) -> dict[str, str]:
    """The marks of a list's rows: what advice about its parent points at (a session's turns),
    then what advice about each row says; as each rule's registration draws them."""
    from tokentree.core.advice.rules import RULES

    found: dict[str, list[str]] = defaultdict(list)
    for item in own:
        child_marks = RULES[item.rule].child_marks
        for key, text in child_marks(item) if child_marks else ():
            found[key].append(text)
    for key, items in children:
        for item in items:
            text = RULES[item.rule].row_mark(item)
            if text:
                found[key].append(text)
    return {key: MARK_SEPARATOR.join(texts) for key, texts in found.items()}


def join(path: str, key: str) -> str:
    """The path of the child `key` of the node at `path`."""
    return f"{path}/{key}" if path else key


def advice_dicts(items: Sequence[Advice]) -> list[dict[str, Any]]:
    return [item.as_dict() for item in items]
