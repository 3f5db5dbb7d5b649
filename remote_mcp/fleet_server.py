"""The MCP server for a group of hosts (``remote-mcp --group NAME``).

The same protocol handling as the single-host server (server.py): tools/list
never waits for SSH, failures are results, blocking work runs in threads and
a cancel stops the remote commands. What differs is the tool list (each tool
has an optional ``hosts`` argument, fleet_schemas.py) and the dispatch: every
call fans out to the selected hosts (fleet_calls.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import mcp.types as types
from pydantic import ValidationError

from .config import HostConfig
from .errors import RemoteMCPError, ToolError, describe
from .fleet_schemas import group_tool_definitions, tool_args
from .hostlist import compress
from .schemas import TOOLS, format_validation_error
from .server import RemoteServer, _content, _error, _quietly, log
from .tools.guard import hidden_tools

if TYPE_CHECKING:
    from .fleet_calls import Fleet

__all__ = ["FleetServer", "serve_group"]

_FLEET_INSTRUCTIONS = (
    "\n\nThis server acts on a GROUP of hosts ({label}) at once: every tool runs on each host "
    "(or on the hosts you name in its `hosts` argument) and identical answers are shown once, "
    "under the list of hosts that gave them. Reads are remembered per host: a Write or Edit is "
    "applied only on the hosts where the file was read and has not changed since."
)


class FleetServer(RemoteServer):
    """One MCP server for the hosts of one configured group."""

    def __init__(
        self,
        group: str,
        hosts: list[HostConfig],
        config_error: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.group_name = group
        self.members = hosts
        label = compress([h.name for h in hosts]) if hosts else group
        # Descriptions and instructions name the group's hosts.
        super().__init__(HostConfig(name=label, hostname=label), config_error, config_file)
        hidden = frozenset.intersection(*(hidden_tools(h) for h in hosts)) if hosts else frozenset()
        self.hidden = hidden
        self.tools = [
            types.Tool(
                name=d["name"],
                description=d["description"],
                input_schema=d["input_schema"],
                annotations=types.ToolAnnotations(**d["annotations"]),
            )
            for d in group_tool_definitions(label, hidden=hidden)
        ]
        self.server.instructions = (self.server.instructions or "") + _FLEET_INSTRUCTIONS.format(
            label=label
        )
        self._fleet: Fleet | None = None
        self._fleet_lock = threading.Lock()

    def fleet(self) -> Fleet:
        with self._fleet_lock:
            if self._fleet is None:
                from .fleet_calls import Fleet

                self._fleet = Fleet(self.group_name, self.members, self.config_file)
            return self._fleet

    def _connect(self, fut: Future[None]) -> None:
        try:
            self.fleet().connect()  # a host that fails is retried by its next call
            fut.set_result(None)
        except BaseException as exc:  # reported on the next tool call
            log.warning("connecting to group %s failed: %s", self.group_name, describe(exc))
            fut.set_exception(exc)

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        refused = self._refused_up_front(ctx, params, "group")
        if refused is not None:
            return refused
        name = params.name
        if name not in TOOLS:
            return _error(f"Error: No such tool available: {name}")
        try:
            args, hosts = tool_args(name, params.arguments or {})
        except ValidationError as exc:
            return _error(format_validation_error(name, exc))
        from .fleet_calls import GroupCall

        fleet = await anyio.to_thread.run_sync(self.fleet)
        call = GroupCall()
        if (ctx.meta or {}).get("progress_token") is not None:
            call.progress = _progress_sender(ctx, anyio.lowlevel.current_token())
        self._inflight[id(call)] = call
        try:
            output = await anyio.to_thread.run_sync(
                lambda: fleet.call(call, name, args, hosts), abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            call.gate.close()
            with anyio.CancelScope(shield=True):
                for hook in list(call.cancel_hooks):
                    await anyio.to_thread.run_sync(_quietly, hook)
            raise
        except (ToolError, RemoteMCPError) as err:
            return _error(str(err))
        except Exception as exc:  # never a protocol error for a tool failure
            log.exception("tool %s failed", name)
            return _error(f"Internal error in remote-mcp ({type(exc).__name__}: {exc}).")
        finally:
            self._inflight.pop(id(call), None)
        return _content(output, None)

    def close(self) -> None:
        if self._fleet is not None:
            self._fleet.group.close()


def _progress_sender(ctx: Any, token: Any) -> Callable[[float, str], None]:
    """Progress from the per-host threads (not anyio's own: hence the token)."""

    def send(progress: float, message: str) -> None:
        try:
            anyio.from_thread.run(ctx.session.report_progress, progress, None, message, token=token)
        except Exception:  # progress is best effort
            log.debug("progress notification failed", exc_info=True)

    return send


def serve_group(
    group: str,
    hosts: list[HostConfig],
    config_error: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> None:
    """Serve MCP over stdio for the hosts of ``group`` (see ``serve``)."""
    import logging
    import sys

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="remote-mcp: %(message)s")
    anyio.run(FleetServer(group, hosts, config_error, config_file).run_stdio)
