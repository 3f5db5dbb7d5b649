"""A tool call on a group of hosts: run the single-host tool on each selected
host at once, each with its own session and tool state, and render the
answers grouped (tools/fleet_output.py).

Each host keeps its own read-before-write memory, so a Write or Edit is
applied where the host's precondition holds and refused (saying why) where
it does not: per host, never all-or-nothing. A background Bash gets one id
for the group; BashOutput and KillShell with that id act on every host.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from .call_gate import CALL_GATE, CallGate, call_cancel_hooks, call_stoppable
from .config import HostConfig
from .errors import CommandFailed, RemoteMCPError, SessionError, ToolError, describe
from .fleet import DEFAULT_MAX_PARALLEL, SessionGroup
from .handlers import CallEnv, call_routine, make_state, run_call
from .hostlist import HostPatternError, compress, expand
from .schemas import TOOLS
from .session import Session
from .tools.base import ToolOutput, ToolState
from .tools.bash import MAX_OUTPUT_CHARS
from .tools.bash_jobs import _iso_now as iso_now
from .tools.files import MAX_OUTPUT_TOKENS
from .tools.fleet_output import HostOutcome, render_fleet
from .tools.guard import BASH_TOOLS, check_bash, check_writable, hidden_tools
from .tools.search_output import GREP_MAX_CHARS

__all__ = ["Fleet", "GroupCall"]

log = logging.getLogger("remote_mcp")

# The whole grouped answer stays within the single-host cap of the tool.
_LIMITS = {
    "Grep": GREP_MAX_CHARS,
    "Read": 4 * MAX_OUTPUT_TOKENS,
    "MultiRead": 4 * MAX_OUTPUT_TOKENS,
}
# Tools that run once, locally, not per host.
_LOCAL = frozenset({"Feedback"})
_JOB_TOOLS = {"BashOutput": "bash_id", "KillShell": "shell_id"}
_TIMESTAMP = re.compile(r"\n*<timestamp>[^<]*</timestamp>")
FLEET_WORKERS = 1
RETRY_DOWN_S = 30.0  # a host that could not connect is tried again after this
STOP_THREADS = 32  # cancel hooks run at once when a group call is cancelled
# Hosts done are reported at most this often, and once at the end: a fast
# 100-host call would otherwise send 100 notifications, each a hand-off to
# the event loop made while the other hosts' threads wait for their turn.
PROGRESS_EVERY_S = 0.25


@dataclass
class GroupCall:
    """One tool call on a group, as the server tracks it: the call's gate and
    cancel hooks (like a CallEnv's) and the per-host calls it started."""

    progress: Callable[[float, str], None] | None = None
    cancel_hooks: list[Callable[[], None]] = field(default_factory=list)
    gate: CallGate = field(default_factory=CallGate)
    children: list[CallEnv] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.cancel_hooks.append(self.stop_all)

    def adopt(self, env: CallEnv) -> None:
        with self._lock:
            self.children.append(env)
            if self._stopped:
                env.gate.close()

    def stop_all(self) -> None:
        """Cancel: no host starts another command; every running one is stopped."""
        with self._lock:
            self._stopped = True
            children = list(self.children)
        hooks = []
        for env in children:
            env.gate.close()
            hooks.extend(env.cancel_hooks)
        if hooks:
            with ThreadPoolExecutor(min(STOP_THREADS, len(hooks))) as pool:
                list(pool.map(_quietly, hooks))


def _quietly(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:  # a failed stop must not hide the others
        log.warning("cancel hook failed", exc_info=True)


class Fleet:
    """A group server's runtime: one session and tool state per host, and the
    group's background job ids."""

    def __init__(
        self,
        name: str,
        hosts: list[HostConfig],
        config_file: Any = None,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
    ) -> None:
        self.name = name
        hosts = [_lean(h) for h in hosts]
        self.group = SessionGroup(*hosts, max_parallel=max_parallel)
        self.states: dict[str, ToolState] = {h.name: make_state(h, config_file) for h in hosts}
        self.jobs: dict[str, dict[str, str]] = {}  # group job id -> host -> host's job id
        self._down: dict[str, tuple[float, str]] = {}  # host -> (when, why) its connect failed
        self._lock = threading.Lock()

    def connect(self) -> None:
        """Connect every host now, in parallel (failures wait for the next call)."""
        self.group.map(self._ready)

    def _ready(self, session: Session) -> None:
        """Connected, or a quick failure for a host that could not be reached a
        moment ago: a dead host must not cost every call its connect timeout."""
        name = session.host.name
        with self._lock:
            down = self._down.get(name)
        if down is not None and time.monotonic() - down[0] < RETRY_DOWN_S:
            age = time.monotonic() - down[0]
            raise ToolError(
                f"{down[1]} (tried {age:.0f} s ago; tried again {RETRY_DOWN_S:.0f} s after that)"
            )
        try:
            info = session.connect()
        except SessionError as err:
            with self._lock:
                self._down[name] = (time.monotonic(), _line(describe(err)))
            raise
        with self._lock:
            self._down.pop(name, None)
        self.states[session.host.name].adopt(info)

    def select(self, patterns: list[str] | None) -> list[Session]:
        if not patterns:
            return list(self.group)
        wanted: set[str] = set()
        for pattern in patterns:
            try:
                wanted.update(expand(pattern))
            except HostPatternError as err:
                raise ToolError(f"hosts: {err}") from None
        unknown = sorted(wanted - set(self.group.names))
        if unknown:
            raise ToolError(
                f"hosts: {compress(unknown)} not in group {self.name} "
                f"({compress(self.group.names)}); pick hosts of the group, or omit hosts for all."
            )
        return [s for s in self.group if s.host.name in wanted]

    def call(self, call: GroupCall, name: str, args: Any, patterns: list[str] | None) -> ToolOutput:
        if name in _LOCAL:
            first = self.group[0]
            env = CallEnv(first, self.states[first.host.name], first.host)
            return call_routine(TOOLS[name], env, args)
        members = self.select(patterns)
        if name == "Download" and len(members) != 1:
            raise ToolError(
                "Download writes one local file: pass hosts with exactly one host of group "
                f"{self.name} ({compress(self.group.names)})."
            )
        per_host = self._job_ids(name, args, members)
        total = len(members)
        done = 0
        done_lock = threading.Lock()
        reported = time.monotonic()  # the start: a call faster than that reports its end only

        def one(session: Session) -> tuple[HostOutcome, ToolOutput | None]:
            nonlocal done, reported
            try:
                host_args = args
                if per_host is not None:
                    key = _JOB_TOOLS[name]
                    host_args = args.model_copy(update={key: per_host[session.host.name]})
                return self._on_host(call, session, name, host_args)
            finally:
                with done_lock:  # held while sending, so the counts arrive in order
                    done += 1
                    now = time.monotonic()
                    due = done == total or now - reported >= PROGRESS_EVERY_S
                    if call.progress is not None and due:
                        reported = now
                        call.progress(done, f"{done}/{total} hosts done")

        results = self.group.map(one, members)
        outcomes = [results[s][0] for s in members]
        if name == "Bash" and getattr(args, "run_in_background", False):
            return self._group_job(members, results, outcomes)
        limit = _LIMITS.get(name, MAX_OUTPUT_CHARS)
        text = render_fleet(outcomes, limit_chars=limit)
        if name == "BashOutput":  # one read time for all: per-host ones never group
            outcomes = [replace(o, text=_TIMESTAMP.sub("", o.text)) for o in outcomes]
            text = (
                render_fleet(outcomes, limit_chars=limit)
                + f"\n\n<timestamp>{iso_now()}</timestamp>"
            )
        single = results[members[0]][1] if len(members) == 1 else None
        return ToolOutput(
            text=text,
            images=list(single.images) if single is not None else [],  # one host: shown
            structured={
                "hosts": {
                    o.host: _structured(o, results[s][1])
                    for o, s in zip(outcomes, members, strict=True)
                }
            },
        )

    def _on_host(
        self, call: GroupCall, session: Session, name: str, args: Any
    ) -> tuple[HostOutcome, ToolOutput | None]:

        host = session.host
        state = self.states[host.name]
        env = CallEnv(session, state, host)
        call.adopt(env)
        spec = TOOLS[name]
        gate = CALL_GATE.set(env.gate)
        call_stoppable.set(spec.read_only)
        call_cancel_hooks.set(env.cancel_hooks if spec.read_only else None)
        try:
            if name in hidden_tools(host):
                (check_bash if name in BASH_TOOLS else check_writable)(state, name)
            self._ready(session)
            output = run_call(spec, env, args)
        except CommandFailed as err:  # a Bash command's own failure is its output
            return HostOutcome(host.name, str(err), exit_code=err.exit_code), None
        except SessionError as err:
            return HostOutcome(host.name, "", failure=_line(describe(err))), None
        except RemoteMCPError as err:
            return HostOutcome(host.name, "", failure=_line(str(err))), None
        except Exception as exc:  # one host's failure is its outcome
            log.exception("%s on %s failed", name, host.name)
            return HostOutcome(
                host.name, "", failure=f"internal error ({type(exc).__name__}: {exc})"
            ), None
        finally:
            CALL_GATE.reset(gate)
        warning = session.take_warning()
        text = f"{warning}\n\n{output.text}" if warning else output.text
        if output.images:  # shown only when one host is asked (the answer is grouped text)
            text += f"\n[{len(output.images)} image(s): shown when hosts names one host]"
        code = output.structured.get("exit_code")
        exit_code = code if isinstance(code, int) else None
        return HostOutcome(host.name, text, exit_code=exit_code), output

    # -- background jobs: one id for the group -------------------------------------
    def _job_ids(self, name: str, args: Any, members: list[Session]) -> dict[str, str] | None:
        """BashOutput/KillShell with a group job id: each host's own id."""
        if name not in _JOB_TOOLS:
            return None
        with self._lock:
            job = self.jobs.get(getattr(args, _JOB_TOOLS[name]))
        if job is None:
            return None  # a host's own id or "list": passed to every host as is
        missing = [s.host.name for s in members if s.host.name not in job]
        if missing:
            raise ToolError(
                f"The group job was not started on {compress(missing)}; it runs on "
                f"{compress(list(job))}. Omit hosts, or pick some of those."
            )
        return job

    def _group_job(
        self,
        members: list[Session],
        results: Any,
        outcomes: list[HostOutcome],
    ) -> ToolOutput:
        started: dict[str, str] = {}
        for session in members:
            output = results[session][1]
            bash_id = output.structured.get("bash_id") if output is not None else None
            if isinstance(bash_id, str):
                started[session.host.name] = bash_id
        failed = [o for o in outcomes if o.failure is not None]
        if not started:
            return ToolOutput(text=render_fleet(failed, limit_chars=MAX_OUTPUT_CHARS))
        group_id = "g" + secrets.token_hex(4)
        with self._lock:
            self.jobs[group_id] = started
        text = (
            f"Command running in background on {compress(list(started))} with ID: {group_id} "
            "(BashOutput and KillShell with this ID act on every host)."
        )
        if failed:
            text += "\n\n" + render_fleet(failed, limit_chars=MAX_OUTPUT_CHARS)
        return ToolOutput(text=text, structured={"bash_id": group_id, "hosts": started})


def _lean(host: HostConfig) -> HostConfig:
    """One worker shell per host unless the config says otherwise: a group call
    is one command per host, and 100 hosts x 3 shells is CPU at connect."""
    if "workers" in host.explicit:
        return host
    return replace(host, workers=FLEET_WORKERS)


def _line(message: str) -> str:
    """A failure is listed in one line."""
    return " ".join(message.split())


def _structured(outcome: HostOutcome, output: ToolOutput | None) -> dict[str, Any]:
    if output is None:
        return {"failure": outcome.failure}
    return dict(output.structured)
