"""Under the list: advice about the node whose children are listed ("advice for this session")."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from tokentree.core.advice import Advice
from tokentree.core.tree import Kind, Node

SHOWN = 3  # items; the rest are counted, and the info panel of the node lists them all


def bullet(item: Advice) -> str:
    """◆ advice with a saving, ▲ where the money went, · other notes."""
    if item.saving_usd > 0:
        return "◆"
    return "▲" if item.rule == "concentration" else "·"


def by_saving(items: Sequence[Advice]) -> list[Advice]:
    return sorted(items, key=lambda item: (-item.saving_usd, item.rule))


class AdviceBar(Static):
    """At most three items, biggest saving first; hidden when the node has none, and at the
    root, whose advice (about the whole period) the overview shows."""

    DEFAULT_CSS = """
    AdviceBar {
        display: none;
        height: auto;
        max-height: 8;
        border-top: solid $primary-muted;
        border-title-color: $text-muted;
        border-title-align: left;
        padding: 0 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.node: Node | None = None
        self.items: list[Advice] = []

    def show(self, node: Node | None, items: Sequence[Advice]) -> None:
        self.node, self.items = node, by_saving(items)
        if node is None or not items or node.kind is Kind.ALL:
            self.display = False
            return
        self.border_title = f" advice for this {node.kind.value} · ← then i: the arithmetic "
        parts: list[str | tuple[str, str]] = []
        for number, item in enumerate(self.items[:SHOWN]):
            if number:
                parts.append("\n")
            parts += [(bullet(item) + " ", "bold $text-warning"), sentence(item.message)]
        more = len(self.items) - SHOWN
        if more > 0:
            parts.append((f"\n… {more} more", "$text-muted"))
        self.update(Content.assemble(*parts))
        self.display = True


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
