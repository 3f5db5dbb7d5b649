"""What the server tells the session layer about the tool call running in a
thread: its cancellation gate, its cancel hooks, whether it may be stopped.

Kept apart from ``session.py`` (which imports paramiko) because the server
needs these on the critical path of its cold start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar

from .errors import CallCancelled

__all__ = ["CALL_GATE", "CallGate", "call_cancel_hooks", "call_stoppable"]

# The cancel hooks of the read-only tool call running in this thread (set by
# the server): every worker command of the call adds one that stops it.
call_cancel_hooks: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "call_cancel_hooks", default=None
)
# False while a call that changes things runs: its commands are never killed
# half-way (a timeout leaves them to finish; the agent is told to check).
call_stoppable: ContextVar[bool] = ContextVar("call_stoppable", default=True)


class CallGate:
    """Lets a cancelled tool call stop before its next remote command.

    A call waiting for a free worker is abandoned by the server when the
    client cancels it, but its thread runs on: without this it would send its
    command (a Write, an Edit) seconds later, after the agent was told it was
    interrupted. The worker passes `enter` right before each command; the
    server calls `close` on cancel. One lock orders the two, so every command
    was either sent before the cancel (`close` returns True) or never is.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.closed = False
        self.started = False  # a remote command of this call was (being) sent

    def enter(self) -> None:
        with self._lock:
            if self.closed:
                raise CallCancelled("the call was cancelled before its next remote command")
            self.started = True

    def close(self) -> bool:
        """No more commands; True if one had already been sent."""
        with self._lock:
            self.closed = True
            return self.started


# The gate of the tool call running in this thread (set by the server).
CALL_GATE: ContextVar[CallGate | None] = ContextVar("remote_mcp_call_gate", default=None)
