"""What the view does with the selected row: its info panel (priced off the UI thread), a
handoff of its session, an export of its subtree."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from textual import work
from textual.worker import get_current_worker

from tokentree.app.messages import BreakdownPriced, ExportFinished
from tokentree.app.screens.export import ExportRequest, ExportScreen
from tokentree.app.widgets.bars import crumb, totals_text
from tokentree.core.breakdown import breakdown, calls_below
from tokentree.core.budgets import current
from tokentree.core.export import ExportError, export_chunks, write_export
from tokentree.core.handoff import handoff_text
from tokentree.core.pricing import PriceBook
from tokentree.core.tree import Kind, Node
from tokentree.core.view import export_name

BREAKDOWN_CACHE = 64


class NodeActions:
    """TokenTreeApp's actions on the row under the cursor (a part of the app: its state is the
    app's, set in TokenTreeApp.__init__)."""

    def _selected(self) -> tuple[Node, list[Node]] | None:
        """The row under the cursor (or the current node if the list is empty), and its parents."""
        chain = self._chain()
        if not chain:
            return None
        current = self.table.current
        return (current, chain) if current is not None else (chain[-1], chain[:-1])

    def action_toggle_info(self, show: bool | None = None) -> None:
        info = self.info
        info.display = not info.display if show is None else show
        if info.display:
            self._show_info()
        self._show_advice(self.table.listing)

    def action_scroll_info(self, lines: int) -> None:
        """The panel keeps no focus (the list has it): these keys scroll it from the list."""
        if self.info.display:
            self.info.scroll_relative(y=lines * 3, animate=False)

    def _show_info(self) -> None:
        selected = self._selected()
        if selected is None or self.snapshot is None:
            return
        node, parents = selected
        key = (self._views, (*[n.key for n in parents[1:]], node.key))
        found = self._breakdowns.get(key)
        analysis, path = self.analysis, self._advice_path([*parents, node])
        self.info.show(
            node,
            parents,
            found,
            self.snapshot.rate_limits,
            activity=self.attribution[node] if self.attribution else None,
            advice=analysis.advice.about_row(path) if analysis and path is not None else (),
            analysing=analysis is None,
            budgets=current(self.snapshot.budgets, self.clock()),
        )
        if found is None:
            self._price(node, key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="info")
    def _price(self, node: Node, key: tuple[int, tuple[str, ...]]) -> None:
        """Price the calls below `node` kind by kind, off the UI thread (big nodes take time)."""
        with self._prices_lock:
            if self._prices is None:
                self._prices = PriceBook(self.workspace.settings.user_prices())
        found = breakdown(node, self._prices, self._load_advice_settings().model_choice)
        if not get_current_worker().is_cancelled:
            self.post_message(BreakdownPriced(key, found))

    def on_breakdown_priced(self, message: BreakdownPriced) -> None:
        if len(self._breakdowns) >= BREAKDOWN_CACHE:
            self._breakdowns.pop(next(iter(self._breakdowns)))
        self._breakdowns[message.key] = message.breakdown
        if self.info.display:
            self._show_info()

    def action_handoff(self) -> None:
        """The selected session's handoff prompt to the clipboard (OSC 52, where the terminal
        takes it); `tokentree handoff` writes it to a file."""
        selected = self._selected()
        if selected is None or selected[0].kind is not Kind.SESSION:
            self.notify("A handoff is of a session: select one first.", severity="warning")
            return
        node, parents = selected
        path = self._advice_path([*parents, node])
        advice = self.analysis.advice.for_path(path) if self.analysis and path is not None else ()
        text = handoff_text(node, calls_below(node), advice, self.workspace.calendar.zone)
        self.copy_to_clipboard(text)
        self.notify(
            f"Handoff of {crumb(node)} copied ({text.count(chr(10))} lines);"
            f" `tokentree handoff {node.session_id[:8]}` writes it to a file.",
            title="handoff",
        )

    def action_export(self) -> None:
        selected = self._selected()
        if selected is None or not selected[0].totals.calls:
            self.notify("Nothing to export here yet.", severity="warning")
            return
        node, parents = selected
        chain = [*parents, node]
        node_path = self._node_path(chain)
        summary = " › ".join(crumb(n) for n in chain) + "\n" + totals_text(node)
        self.push_screen(
            ExportScreen(summary, export_name(chain), partial(self._write_export, node, node_path))
        )

    def _node_path(self, chain: list[Node]) -> str:
        """Where the chain's last node is in the whole tree: what its export says it is."""
        return "/".join(n.key for n in chain[1:])

    @work(thread=True, exit_on_error=False, group="export")
    def _write_export(self, node: Node, node_path: str, request: ExportRequest) -> None:
        try:
            chunks = export_chunks(
                node,
                node_path,
                self.workspace.zone_name,
                prices=self.workspace.index.prices,
                advice_settings=self._load_advice_settings(),
                plan=self.workspace.settings.plan,
                calendar=self.workspace.calendar,
            )
            target = os.path.expanduser(request.target)
            written = write_export(chunks, target, overwrite=request.overwrite)
        except ExportError as error:
            self.post_message(ExportFinished(request.target, 0, str(error)))
        except Exception as error:  # reported in the app, never lost in a worker
            self.post_message(ExportFinished(request.target, 0, f"{type(error).__name__}: {error}"))
        else:
            self.post_message(ExportFinished(request.target, written, ""))

    def on_export_finished(self, message: ExportFinished) -> None:
        """Said in the export dialog; a toast only if it was closed while writing."""
        dialog = self.screen if isinstance(self.screen, ExportScreen) else None
        if message.error:
            if dialog is not None:
                dialog.failed(message.error)
            else:
                self.notify(message.error, title="Export failed", severity="error")
            return
        if dialog is not None:
            dialog.dismiss(None)
        self.last_export = Path(message.target).expanduser()
        size = f"{message.size / 1024:,.0f} KB" if message.size >= 1024 else f"{message.size} B"
        self.notify(f"✓ wrote {message.target} ({size}, schema tokentree.export/1)")
