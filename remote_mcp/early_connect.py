"""Connecting from the first moment of the server process.

The MCP SDK takes most of a second to import, and a client starts every
server at launch and asks for a tool soon after ``initialize``. So ``cli``
starts this thread *before* it imports the server module: the SSH handshake
and the worker shells' set-up (round trips, mostly waiting) overlap the
SDK's import instead of following it. Nothing here imports the MCP SDK.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

from .config import HostConfig
from .errors import describe

if TYPE_CHECKING:
    from .session import Session
    from .tools.base import ToolState

__all__ = ["EarlyConnect", "connect_runtime", "skip_sdk_extras"]

log = logging.getLogger("remote_mcp")


def connect_runtime(session: Session, state: ToolState) -> None:
    """Connect the session, probe the remote, warm the worker shells, and
    have the tools imported by the time that is done."""
    # The tools' import is CPU and the handshake mostly waits on the network:
    # import them alongside, not before (the first call needs them, the
    # connection does not).
    importer = threading.Thread(target=_import_tools, name="remote-mcp-import", daemon=True)
    importer.start()
    state.adopt(session.connect())
    session.pool.warm()
    importer.join()


def skip_sdk_extras() -> None:
    """Register the MCP SDK's ``mcp`` and ``mcp.server`` packages without
    running their ``__init__``: those import the SDK's client side and its
    high-level server, which a stdio server built on ``mcp.server.lowlevel``
    never uses (measured: 4 MB less idle RSS, a hundred modules fewer).
    The submodules import as usual. Only for the server process (cli.py):
    other code that wants the packages' re-exports (``mcp.ClientSession``...)
    must import them from their submodules there."""
    for name in ("mcp", "mcp.server"):
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            return
        sys.modules[name] = importlib.util.module_from_spec(spec)


def _import_tools() -> None:
    from . import handlers  # noqa: F401 - import the tools now, not on the first call


class EarlyConnect:
    """The host's session and tool state, built and connected in a thread of
    its own from construction on. ``runtime`` is the (session, state) pair
    once built; ``connected`` resolves when the connection is up (or holds
    why it failed: the server reports it on the next call and retries)."""

    def __init__(self, host: HostConfig, config_file: str | os.PathLike[str] | None) -> None:
        self.host = host
        self.config_file = config_file
        self.runtime: Future[tuple[Session, ToolState]] = Future()
        self.connected: Future[None] = Future()
        self.handshaking = threading.Event()
        threading.Thread(target=self._run, name="remote-mcp-connect", daemon=True).start()

    def let_handshake_start(self, timeout: float = 2.0) -> None:
        """Wait (at most ``timeout``) until the handshake is under way. Two
        threads importing at once share one GIL and block on each other's
        module locks: the modules the handshake needs (fabric, ~0.2 s of
        CPU) would take ~0.7 s next to the SDK's. Imported first, the
        handshake's network waits overlap the SDK's import instead."""
        self.handshaking.wait(timeout)

    def _run(self) -> None:
        failure: BaseException | None = None
        try:
            # The handshake needs paramiko and fabric only: it starts before
            # the shells' modules (jinja2, the templates...) load, and they
            # load while it waits on the network.
            try:
                from .connection import HostConnection
            finally:
                self.handshaking.set()
            conn = HostConnection(self.host, early_channels=self.host.channels_at_connect)
            try:
                conn.open()
            except BaseException as exc:
                failure = exc
            from .session import Session

            session = Session(self.host, conn)
            try:
                if failure is not None:
                    raise failure
                info = session.connect()
                session.pool.warm()
            except BaseException as exc:  # reported on the next tool call
                log.warning("connecting to %s failed: %s", self.host.name, describe(exc))
                failure, info = exc, None
            # The tools only now: while the handshake waited on the network,
            # the SDK's import (and so `initialize`) had the CPU to itself.
            from .handlers import make_state

            state = make_state(self.host, self.config_file)
            if info is not None:
                state.adopt(info)
        except BaseException as exc:  # the runtime itself could not be built
            self.runtime.set_exception(exc)
            self.connected.set_exception(exc)
            return
        self.runtime.set_result((session, state))
        if failure is not None:
            self.connected.set_exception(failure)
        else:
            self.connected.set_result(None)
