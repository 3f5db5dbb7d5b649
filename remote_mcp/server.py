"""The MCP stdio server: tool list, argument checking, dispatch, MCP content.

Protocol only. Tool semantics live in ``remote_mcp.tools``; SSH in the
session layer. Three rules shape this module:

* ``initialize`` and ``tools/list`` never wait for SSH. Clients start every
  server at launch, so the connection is opened in the background and tool
  calls wait for it (a failed connect is retried by the next call).
* A failed tool call is a *result* with ``isError: true`` whose text is what
  the agent should read -- never a JSON-RPC error (mcp 2.x turns an escaped
  exception into one), so every handler is wrapped.
* Blocking SSH work runs in worker threads, so parallel calls run in
  parallel and a cancelled call can be interrupted on the remote.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread
import anyio.to_thread
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from pydantic import ValidationError

from . import __version__, wire
from .call_gate import CALL_GATE, call_cancel_hooks, call_stoppable
from .config import HostConfig
from .early_connect import EarlyConnect, connect_runtime
from .errors import (
    CallCancelled,
    RemoteMCPError,
    SessionError,
    ToolError,
    describe,
)
from .schemas import TOOLS, format_validation_error
from .tool_list import tool_definitions
from .tools.guard import BASH_TOOLS, check_bash, check_writable, hidden_tools, mode_note

if TYPE_CHECKING:  # imported for real in the connect thread (cold start)
    from .fleet_calls import GroupCall
    from .handlers import CallEnv
    from .session import Session
    from .tools.base import ToolOutput, ToolState

__all__ = ["RemoteServer", "serve"]

log = logging.getLogger("remote_mcp")

INSTRUCTIONS = (Path(__file__).parent / "instructions.md").read_text(encoding="utf-8")
# On exit, how long the in-flight calls' cancel hooks (remote kills) may take.
SHUTDOWN_HOOKS_S = 10.0


class RemoteServer:
    """One MCP server bound to one configured host."""

    def __init__(
        self,
        host: HostConfig,
        config_error: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        early: EarlyConnect | None = None,
    ) -> None:
        self.host = host
        # Set when the config is unusable: the server still answers initialize
        # and tools/list, and every tool call returns this line (cli.py).
        self.config_error = config_error
        self.config_file = config_file
        self._runtime: tuple[Session, ToolState] | None = None
        self._runtime_lock = threading.Lock()
        self._connecting: Future[None] | None = None
        # A connection begun before this module was imported (cli.py), if any.
        self._early = early
        if early is not None:
            self._connecting = early.connected
        self._notices: list[str] = []  # what cancelled calls did after all, for the next result
        self._notices_lock = threading.Lock()
        self._connect_lock = threading.Lock()
        # Calls running now, by id: every exit path stops their remote commands.
        self._inflight: dict[int, CallEnv | GroupCall] = {}
        self.hidden = hidden_tools(host)
        self.tools = [
            types.Tool(
                name=d["name"],
                description=d["description"],
                input_schema=d["input_schema"],
                annotations=types.ToolAnnotations(**d["annotations"]),
            )
            for d in tool_definitions(host.name, hidden=self.hidden, note=mode_note(host))
        ]
        self.server: Server[Any] = Server(
            "remote-mcp",
            version=__version__,
            instructions=INSTRUCTIONS.format(host=host.name),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    # -- the SSH side, built off the critical path -----------------------------------
    def runtime(self) -> tuple[Session, ToolState]:
        """The session and tool state, built on first use. The connect thread
        builds them, so paramiko, fabric, jinja2 and the tools import while the
        client's ``initialize`` is answered (a call that comes first waits)."""
        with self._runtime_lock:
            if self._runtime is None and self._early is not None:
                try:
                    self._runtime = self._early.runtime.result()
                except Exception:
                    log.warning("the early connect failed to build its session", exc_info=True)
                self._early = None
            if self._runtime is None:
                from .handlers import new_runtime

                self._runtime = new_runtime(self.host, self.config_file)
            return self._runtime

    @property
    def session(self) -> Session:
        return self.runtime()[0]

    @property
    def state(self) -> ToolState:
        return self.runtime()[1]

    # -- connection in the background -------------------------------------------
    def start_connecting(self) -> Future[None]:
        """Begin connecting now (idempotent while a connect is in flight or done)."""
        with self._connect_lock:
            fut = self._connecting
            if fut is None or (fut.done() and fut.exception() is not None):
                fut = Future()
                self._connecting = fut
                threading.Thread(
                    target=self._connect, args=(fut,), name="remote-mcp-connect", daemon=True
                ).start()
            return fut

    def _connect(self, fut: Future[None]) -> None:
        try:
            # runtime() imports paramiko, fabric, jinja2 (in this thread).
            connect_runtime(*self.runtime())
            fut.set_result(None)
        except BaseException as exc:  # reported on the next tool call
            log.warning("connecting to %s failed: %s", self.host.name, describe(exc))
            fut.set_exception(exc)

    def wait_connected(self) -> None:
        try:
            self.start_connecting().result()
        except Exception as exc:
            cause = describe(exc).strip()
            end = "" if cause.endswith((".", "?", "!")) else "."
            raise ToolError(
                f"Cannot connect to remote host {self.host.name} "
                f"({self.session.conn.destination}): {cause}{end} "
                "The next tool call will try again."
            ) from exc

    # -- MCP handlers -------------------------------------------------------------
    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    def _refused_up_front(
        self, ctx: Any, params: types.CallToolRequestParams, serving: str
    ) -> types.CallToolResult | None:
        """A call that cannot run at all: a broken config, or text that is not Unicode."""
        if self.config_error is not None:
            return _error(
                f"remote-mcp cannot serve this {serving}: {self.config_error} After fixing it, "
                "restart this MCP server (in Claude Code: /mcp, then reconnect)."
            )
        if (ctx.meta or {}).get(wire.BAD_TEXT):
            return _error(
                f"The {params.name} request contains text that is not valid Unicode (a lone "
                "UTF-16 surrogate such as \\ud800, or bytes that are not UTF-8), shown here as "
                "U+FFFD; nothing was done. Send valid text; for a file name with bytes that "
                "are not UTF-8, use the \\xNN form that Glob and Grep show."
            )
        return None

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        refused = self._refused_up_front(ctx, params, "host")
        if refused is not None:
            return refused
        from .handlers import CallEnv

        session, state = await anyio.to_thread.run_sync(self.runtime)
        env = CallEnv(session, state, self.host)
        token = (ctx.meta or {}).get("progress_token")
        if token is not None:
            env.progress = self._progress_sender(ctx)
        self._inflight[id(env)] = env
        try:
            output = await self._dispatch(env, params.name, params.arguments or {})
        except anyio.get_cancelled_exc_class():
            env.gate.close()  # nothing more goes to the remote for this call
            with anyio.CancelScope(shield=True):
                for hook in env.cancel_hooks:
                    await anyio.to_thread.run_sync(_quietly, hook)
            raise
        except ToolError as err:
            return _error(self._with_notices(str(err)))
        except SessionError as err:
            return _error(self._with_notices(f"Remote host {self.host.name}: {err}"))
        except RemoteMCPError as err:
            return _error(self._with_notices(str(err)))
        except Exception as exc:  # never a protocol error for a tool failure
            log.exception("tool %s failed", params.name)
            return _error(f"Internal error in remote-mcp ({type(exc).__name__}: {exc}).")
        finally:
            self._inflight.pop(id(env), None)
        return _content(output, self._with_notices(self.session.take_warning() or "") or None)

    async def _dispatch(self, env: CallEnv, name: str, arguments: dict[str, Any]) -> ToolOutput:
        from .handlers import run_call

        spec = TOOLS.get(name)
        if spec is None:
            raise ToolError(f"Error: No such tool available: {name}")
        if name in self.hidden:  # not in tools/list; say which setting, not "no such tool"
            (check_bash if name in BASH_TOOLS else check_writable)(env.state, name)
        try:
            args = spec.model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(format_validation_error(name, exc)) from None

        def work() -> ToolOutput:
            gate = CALL_GATE.set(env.gate)
            # A read-only call's worker commands register their stop; a change is
            # never cut half-way (the gate keeps a cancelled one from starting).
            call_stoppable.set(spec.read_only)
            if spec.read_only:
                call_cancel_hooks.set(env.cancel_hooks)
            try:
                output = run_call(spec, env, args, self.wait_connected)
            except BaseException as exc:
                self._after_cancel(env, name, spec.read_only, exc)
                raise
            finally:
                CALL_GATE.reset(gate)
            self._after_cancel(env, name, spec.read_only, None)
            return output

        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)

    def _after_cancel(
        self, env: CallEnv, name: str, read_only: bool, error: BaseException | None
    ) -> None:
        """A cancelled change that had already reached the remote ran on: say how it
        ended, in the next result (a cancelled request gets no response of its own)."""
        if not (env.gate.closed and env.gate.started) or read_only or env.cancel_hooks:
            return  # (a call with cancel hooks, like Bash, is stopped by them)
        if isinstance(error, CallCancelled):
            outcome = "it was stopped before its next remote command"
        elif error is not None:
            outcome = f"it failed: {describe(error)}"
        else:
            outcome = "it completed"
        notice = (
            f"[NOTE] A {name} call cancelled by the client had already started on "
            f"{self.host.name} when the cancel arrived, so it was not undone: {outcome}. "
            "Check the current state before repeating it."
        )
        log.warning("%s", notice)
        with self._notices_lock:
            self._notices.append(notice)

    def _with_notices(self, text: str) -> str:
        with self._notices_lock:
            notices, self._notices = self._notices, []
        return "\n\n".join(part for part in [*notices, text] if part)

    def _progress_sender(self, ctx: Any) -> Callable[[float, str], None]:
        def send(progress: float, message: str) -> None:
            try:
                anyio.from_thread.run(ctx.session.report_progress, progress, None, message)
            except Exception:  # progress is best effort
                log.debug("progress notification failed", exc_info=True)

        return send

    # -- running --------------------------------------------------------------------
    async def run_stdio(self) -> None:
        if self.config_error is None:
            self.start_connecting()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._exit_on_signal)
                lines = cast(Any, wire.stdin_lines())  # an async iterable of lines is enough
                async with stdio_server(stdin=lines) as (read, write):
                    await self.server.run(read, write, self.server.create_initialization_options())
                tg.cancel_scope.cancel()  # stdin reached EOF
        finally:
            await anyio.to_thread.run_sync(self.shutdown)

    async def _exit_on_signal(self) -> None:
        # Claude Code stops servers with SIGINT, then SIGTERM: both mean a clean
        # exit, with the same cleanup as stdin EOF. The SDK reads stdin in a
        # thread that cannot be interrupted, so afterwards we leave without it.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                await anyio.to_thread.run_sync(self.shutdown)
                sys.stdout.flush()
                os._exit(0)

    def shutdown(self, bound_s: float = SHUTDOWN_HOOKS_S) -> None:
        """Stop what in-flight calls run on the remote (their cancel hooks,
        in parallel, for at most ``bound_s``), then close every connection."""
        envs = list(self._inflight.values())
        for env in envs:
            env.gate.close()  # nothing more goes to the remote for these calls
        hooks = [hook for env in envs for hook in list(env.cancel_hooks)]
        threads = [
            threading.Thread(target=_quietly, args=(hook,), name="remote-mcp-stop", daemon=True)
            for hook in hooks
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + bound_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.close()

    def close(self) -> None:
        early = self._early
        if self._runtime is None and early is not None and not early.runtime.done():
            return  # still connecting at exit: nothing of it to clean up on the remote yet
        self.session.close()


def _quietly(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:  # cleanup after a cancel must not raise
        log.warning("cancel hook failed", exc_info=True)


def _wire_text(text: str) -> str:
    """JSON cannot carry lone surrogates: show invalid bytes as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=_wire_text(message))], is_error=True
    )


def _content(output: ToolOutput, warning: str | None) -> types.CallToolResult:
    text = output.text if not warning else f"{warning}\n\n{output.text}"
    blocks: list[Any] = []
    if text or not output.images:
        blocks.append(types.TextContent(type="text", text=_wire_text(text)))
    for image in output.images:
        blocks.append(
            types.ImageContent(type="image", data=image.data_b64, mime_type=image.mime_type)
        )
    return types.CallToolResult(content=blocks, is_error=False)


def serve(
    host: HostConfig,
    config_error: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    early: EarlyConnect | None = None,
) -> None:
    """Serve MCP over stdio for ``host`` until stdin closes or a signal arrives
    (with ``config_error``, a server whose every tool call reports it).
    ``config_file`` (the active config) is one of the files Download never writes;
    ``early``, a connection cli.py began before importing this module."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="remote-mcp: %(message)s")
    anyio.run(RemoteServer(host, config_error, config_file, early).run_stdio)
