"""From a validated tool call to its routine: what a call gets (``CallEnv``),
the routine a ``ToolSpec`` names, and the call policy around it.

A routine's parameters are its model's fields, by name, plus any of the
call's context (:data:`CONTEXT`), also by name; :func:`call_routine` is the
one place that unpacks them, for every tool. So a new parameter is declared
in the model and taken by the routine, nothing else.

Kept out of ``server.py`` so that answering ``initialize`` and ``tools/list``
never waits for the tools, fabric, paramiko or jinja2 to import: the server
imports this module in its background connect thread.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel

from .call_gate import CallGate
from .config import HostConfig
from .errors import CommandDetached, ConnectionLost, SessionError, ToolError, describe
from .schemas import ToolSpec
from .session import Session
from .tools.base import ToolOutput, ToolState
from .tools.transfer import private_local_paths

__all__ = [
    "CONTEXT",
    "CallEnv",
    "call_routine",
    "make_state",
    "new_runtime",
    "routine_for",
    "run_call",
]

# What a routine may take besides its arguments, by parameter name.
CONTEXT = {
    "runner": "the session, as a command runner (a fabric Connection also is one)",
    "session": "the session itself (the Bash tools need its shell)",
    "state": "the session's ToolState",
    "progress": "progress(elapsed_s, message) for MCP progress notifications, or None",
    "cancel_hooks": "a list the routine appends its remote stop to (MCP cancellation)",
    "host_name": "the configured host's name",
}


@dataclass
class CallEnv:
    """What one tool call's handler gets: the session (runner), the shared
    tool state, and hooks for progress and cancellation."""

    session: Session
    state: ToolState
    host: HostConfig
    progress: Callable[[float, str], None] | None = None
    cancel_hooks: list[Callable[[], None]] = field(default_factory=list)
    gate: CallGate = field(default_factory=CallGate)

    def context(self, name: str) -> object:
        """The value of one :data:`CONTEXT` name for this call."""
        values: dict[str, object] = {
            "runner": self.session,
            "session": self.session,
            "state": self.state,
            "progress": self.progress,
            "cancel_hooks": self.cancel_hooks,
            "host_name": self.host.name,
        }
        return values[name]


def new_runtime(
    host: HostConfig, config_file: str | os.PathLike[str] | None
) -> tuple[Session, ToolState]:
    """The session and the tool state a server for ``host`` shares between calls."""
    return Session(host), make_state(host, config_file)


def make_state(host: HostConfig, config_file: str | os.PathLike[str] | None) -> ToolState:
    """A host's fresh tool state: its guards, backends and start directory."""
    return ToolState(
        host_name=host.name,
        cwd=host.cwd,
        read_only=host.read_only,
        allowed_paths=host.allowed_paths,
        bash=host.bash,
        local_paths=host.local_paths,
        private_local=private_local_paths(config_file),
        backends={
            "edit": host.edit_backend,
            "grep": host.grep_backend,
            "find": host.find_backend,
        },
        extra={} if host.resident_engine else {"no_resident": True},
    )


@cache
def routine_for(spec: ToolSpec) -> Callable[..., ToolOutput]:
    """The function ``spec.routine`` (``"module:function"`` in remote_mcp.tools) names."""
    module, _, name = spec.routine.partition(":")
    routine: Callable[..., ToolOutput] = getattr(
        importlib.import_module(f"remote_mcp.tools.{module}"), name
    )
    return routine


@cache
def _context_names(routine: Callable[..., ToolOutput]) -> tuple[str, ...]:
    return tuple(name for name in inspect.signature(routine).parameters if name in CONTEXT)


def call_routine(spec: ToolSpec, env: CallEnv, args: BaseModel) -> ToolOutput:
    """Run ``spec``'s routine with ``args``' fields and the context it asks for.

    Only ``spec.model``'s fields are passed: ``args`` may be an instance of a
    model derived from it with more fields (a group server's ``hosts``) that
    the caller has already acted on."""
    routine = routine_for(spec)
    values = {name: getattr(args, name) for name in spec.model.model_fields}
    values |= {name: env.context(name) for name in _context_names(routine)}
    return routine(**values)


def run_call(
    spec: ToolSpec, env: CallEnv, args: BaseModel, connect: Callable[[], None] | None = None
) -> ToolOutput:
    """One call with the reconnect policy: a read-only call is answered after
    a reconnect, a change is never re-run blindly, and a Bash command that ran
    on detached is re-attached to, not re-run. ``connect`` waits for the link
    (a group server connects its members itself)."""
    if spec.open_world and connect is not None:
        connect()
    try:
        return call_routine(spec, env, args)
    except CommandDetached as detached:
        # The Bash command runs on, detached: calling again re-attaches
        # to the same run (its rest of output and status), never re-runs it.
        try:
            return call_routine(spec, env, args)
        except SessionError as exc:  # the link is still down
            raise ToolError(f"{detached} Reconnecting failed: {describe(exc)}") from exc
    except ConnectionLost:
        if not spec.read_only:
            # Never re-run a change blindly: its precondition (content
            # hash) makes a deliberate retry safe instead.
            raise ToolError(
                f"The SSH connection to {env.host.name} dropped while {spec.name} was "
                "running, so the change may or may not have been applied. Check the "
                "current state (Read, FileStat or Bash) before repeating it."
            ) from None
    return call_routine(spec, env, args)  # read-only: reconnect and answer
