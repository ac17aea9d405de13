"""The view in a browser tab: textual-serve starts one `tokentree` per tab, minus `--web`."""

from __future__ import annotations

import errno
import logging
import os
import shlex
import socket
import sys
from collections.abc import Sequence

from tokentree.workspace import UsageError

INSTALL_HINT = "--web needs textual-serve: pip install 'tokentree[web]'"


def in_browser_tab() -> bool:
    """True in a process that textual-serve (or `textual serve`) started for a browser tab.

    Such a process has pipes, not a terminal, yet should open the view: textual-serve tells
    it so by choosing Textual's web driver through this variable.
    """
    return "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")


def served_command(args: Sequence[str]) -> str:
    """The shell command each tab runs: this tokentree, same arguments, without --web/--port."""
    kept: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            kept += [arg, *rest]
        elif arg == "--port":
            next(rest, None)
        elif arg != "--web" and not arg.startswith("--port="):
            kept.append(arg)
    return shlex.join([sys.executable, "-m", "tokentree", *kept])


def serve(args: Sequence[str], *, port: int) -> int:
    """Serve the view on localhost until Ctrl+C; each browser tab gets its own process."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError(INSTALL_HINT) from None

    class _Server(Server):
        def initialize_logging(self) -> None:
            super().initialize_logging()
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # not every request

        async def on_startup(self, app: object) -> None:  # one line instead of the banner
            print(f"tokentree: serving the view on {self.public_url} (Ctrl+C stops)", flush=True)

    _check_free(port)  # textual-serve announces itself before it binds
    try:
        _Server(served_command(args), host="localhost", port=port, title="tokentree").serve()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise _port_in_use(port) from None
    return 0


def _check_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise _port_in_use(port) from None


def _port_in_use(port: int) -> UsageError:
    return UsageError(f"port {port} is in use: choose another with --port")
