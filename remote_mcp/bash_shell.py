"""The Bash tool's runtime: one session-owned shell on a channel of its own,
its saved state, its kills and its background jobs (session layer).

The shell stays *pristine*: it never runs user code itself. Each command
runs in a subshell that sources the saved state (variables, functions,
aliases, options), ``eval``s the command with stdin ``/dev/null`` and, on
exit, dumps the state again into a private directory on the remote
(``~/.cache/remote-mcp/shells/TOKEN``, else ``/tmp/remote-mcp-UID``); the
shell then ``cd``s to the command's cwd and prints a trailer with the exit
status and cwd. So a timeout or a cancel can kill the whole command (its own
process group, under ``set -m``) from a second channel and the shell lives on
with its state, no user function or option can reach the framing, and after
a reconnect the same token finds the state again. The templates say how:
``bash_start`` (init once per shell process), ``bash_run``,
``_bash_state_save_*``, ``bash_job_*`` and ``bash_kill``.

This module knows channels and templates, not Claude Code: it returns typed
values (:class:`RunOutcome`, :class:`JobRead`...) that ``tools/bash.py``
turns into Claude Code's text.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from invoke.exceptions import CommandTimedOut

from .errors import ShellProtocolError, ToolError
from .shell import ShellChannel, ShellResult
from .templates import render

if TYPE_CHECKING:
    from .session import Session

__all__ = ["BashShell", "JobInfo", "JobKill", "JobRead", "JobStart", "RunOutcome", "Stream"]

CAPTURE_LIMIT = 1 << 20  # bytes kept per stream (head); >= 30000 chars always
CAPTURE_TAIL = 64 << 10  # bytes kept of each stream's end once past the head
INIT_TIMEOUT_S = 60.0  # login profile sourcing; a hung profile is killed
START_TIMEOUT_S = 60.0  # background job start
KILL_TIMEOUT_S = 30.0
POLL_S = 0.1  # remote wait loop nap (bash_job_read.sh.j2)


@dataclass(frozen=True)
class Stream:
    """One output stream: the kept head, and (past the capture cap) the kept
    end; ``gap`` when bytes were dropped between the two."""

    head: bytes
    tail: bytes = b""
    gap: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """How a foreground command ended."""

    exit_code: int
    stdout: Stream
    stderr: Stream
    gap_bytes: int  # dropped (kept neither as head nor as tail)
    gap_lines: int
    cwd: str | None
    timed_out: bool
    interrupted: bool
    elapsed_s: float


@dataclass(frozen=True)
class JobStart:
    bash_id: str
    output_path: str


@dataclass(frozen=True)
class JobRead:
    """Status of a job and up to ``cap`` new bytes of its output from ``offset``."""

    status: str  # running | completed | failed | killed
    exit_code: str | None
    size: int  # the output file's size when read
    offset: int  # where ``body`` starts (0 if the asked offset was past the end)
    body: bytes
    rest_lines: int  # lines in the new output beyond ``body`` (not sent)
    final_nl: bool  # the whole output ends in a newline (only known with rest_lines)


@dataclass(frozen=True)
class JobInfo:
    bash_id: str
    status: str
    exit_code: str
    started: str
    command: str  # first line, cut to 200 bytes


@dataclass(frozen=True)
class JobKill:
    status: str
    was_running: bool
    command: str


class BashShell:
    """The Bash tool's shell for one :class:`~remote_mcp.session.Session`.

    Thread-safe: foreground commands and job starts take ``lock`` (one at a
    time, as in a terminal); kills come from a channel of their own, because
    pooled workers may all be busy exactly when a timeout fires.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.token = "s" + secrets.token_hex(8)
        self.lock = threading.Lock()
        self.channel: ShellChannel | None = None
        self._ready_generation = -1  # the channel generation that ran bash_start
        self._ready_channel: ShellChannel | None = None
        self.directory = ""  # remote shells/TOKEN dir
        self.flavour = "bash"  # or "sh" (no bash >= 4 on the remote)
        self.cwd: str | None = None  # the shell's cwd, as last reported
        self._killer: ShellChannel | None = None
        self._kill_lock = threading.Lock()

    @property
    def host_name(self) -> str:
        return self.session.host.name

    # -- the shell channel -----------------------------------------------------------
    def shell_channel(self) -> ShellChannel:
        """The shell's channel (connected; started on first use)."""
        self.session.connect()
        if self.channel is None:
            self.channel = ShellChannel(self.session.conn, subshell=False)
        return self.channel

    def adopt(self, channel: ShellChannel) -> None:
        """Use an already started channel as the shell (tests run ``sh``)."""
        self.channel = channel

    def drop(self) -> bool:
        """Forget the channels of a dead connection; True if the shell had one."""
        had = self.channel is not None
        for chan in (self.channel, self._killer):
            if chan is not None:
                chan.close()
        self.channel = self._killer = None
        return had

    def close(self) -> None:
        self.drop()

    def _ready(self, start_dir: str | None) -> ShellChannel:
        """The shell, started and initialised (bash_start once per shell process)."""
        shell = self.shell_channel()
        shell.capture_limit = CAPTURE_LIMIT
        shell.capture_tail = CAPTURE_TAIL
        if not shell.alive:
            shell.close()
            shell.start()
        if self._ready_channel is not shell or self._ready_generation != shell.generation:
            self._init(shell, start_dir)
        return shell

    def _forget_init(self) -> None:
        self._ready_channel = None

    def _init(self, shell: ShellChannel, start_dir: str | None) -> None:
        start = start_dir or self.session.host.cwd or ""
        script = render("bash_start.sh.j2", token=self.token, delim=_delimiter(), start=start)
        try:
            result: ShellResult = shell.run(
                script, warn=True, timeout=INIT_TIMEOUT_S, on_timeout=self.kill_foreground
            )
        except CommandTimedOut as exc:  # the profile hung and was killed; init went on
            result = _timed_out_result(exc)
        except ShellProtocolError as exc:
            shell.close()
            raise ToolError(
                f"The Bash shell on {self.host_name} could not start: {exc}. "
                "Check the remote login profile; the next Bash call tries again."
            ) from exc
        fields = parse_fields(result.stdout)
        if "error" in fields or "dir" not in fields:
            raise ToolError(
                f"The Bash shell on {self.host_name} could not be prepared: "
                f"{fields.get('error') or result.stdout.strip() or result.stderr.strip()}"
            )
        self._ready_channel, self._ready_generation = shell, shell.generation
        self.directory, self.flavour = fields["dir"], fields.get("flavour", "sh")
        if fields.get("cwd"):
            self.cwd = fields["cwd"]

    def kill_foreground(self) -> None:
        """Kill whatever the shell is running, from a second channel."""
        with self._kill_lock:
            if self._killer is None:
                self._killer = ShellChannel(self.session.conn, subshell=True)
            try:
                self._killer.run(
                    render("bash_kill.sh.j2", token=self.token), warn=True, timeout=KILL_TIMEOUT_S
                )
            except CommandTimedOut:  # the channel is discarded; the shell's grace period decides
                pass

    # -- foreground commands -----------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        timeout_s: float,
        start_dir: str | None = None,
        on_output: Callable[[bytes], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        register_cancel: Callable[[Callable[[], None]], None] | None = None,
    ) -> RunOutcome:
        """Run ``command`` in the shell, killed after ``timeout_s``.

        ``register_cancel`` receives a callable that kills the command (or,
        before it starts, stops it from starting); it is handed over before
        waiting for the shell, because a cancel may come first.
        """
        run = _Foreground(self, command, timeout_s, on_output, on_tick)
        if register_cancel is not None:
            register_cancel(run.cancel)
        with self.lock:
            for _attempt in range(2):
                outcome = run.execute(start_dir)
                if outcome is not None:
                    if outcome.cwd is not None:
                        self.cwd = outcome.cwd
                    return outcome
                self._forget_init()  # the shell restarted under us: initialise, run again
        raise ToolError(f"The Bash shell on {self.host_name} keeps restarting; try again.")

    # -- background jobs -----------------------------------------------------------------
    def start_job(self, command: str, *, start_dir: str | None = None) -> JobStart:
        """Start ``command`` detached, FROM the shell (its cwd and state)."""
        job_id = "bash_" + secrets.token_hex(4)
        with self.lock:
            for _attempt in range(2):
                shell = self._ready(start_dir)
                script = render(
                    "bash_job_start.sh.j2",
                    token=self.token,
                    job_id=job_id,
                    command=command,
                    flavour=self.flavour,
                    delim=_delimiter(),
                )
                try:
                    result = shell.run(script, warn=True, timeout=START_TIMEOUT_S)
                except CommandTimedOut as exc:
                    raise ToolError(
                        f"Starting the background command on {self.host_name} timed out."
                    ) from exc
                fields = parse_fields(result.stdout)
                if fields.get("noinit"):
                    self._forget_init()
                    continue
                if "error" in fields or "output" not in fields:
                    reason = fields.get("error") or result.stderr.strip() or "no answer"
                    raise ToolError(f"Could not start the background command: {reason}")
                return JobStart(job_id, fields["output"])
        raise ToolError(f"The Bash shell on {self.host_name} keeps restarting; try again.")

    def read_job(
        self, job_id: str, *, offset: int, cap: int, wait_s: float = 0.0
    ) -> JobRead | None:
        """Status and new output of a job; None if there is no such job.
        With ``wait_s``, first wait while it runs."""
        result = self.session.run(
            render(
                "bash_job_read.sh.j2",
                job_id=job_id,
                offset=offset,
                cap=cap,
                ticks=int(wait_s / POLL_S),
            ),
            hide=True,
            warn=True,
        )
        fields, body = split_reply(result.stdout.encode("utf-8", "surrogateescape"))
        if fields.get("missing") or "status" not in fields:
            return None
        return JobRead(
            status=fields["status"],
            exit_code=fields.get("exit") or None,
            size=int(fields.get("size") or 0),
            offset=int(fields.get("offset") or 0),
            body=body,
            rest_lines=int(fields.get("rest_lines") or 0),
            final_nl=fields.get("final_nl") == "1",
        )

    def list_jobs(self) -> list[JobInfo]:
        """Every job of this user on the host, oldest first."""
        result = self.session.run(render("bash_job_list.sh.j2"), hide=True, warn=True)
        jobs: list[JobInfo] = []
        for line in result.stdout.splitlines():
            if line.startswith("job "):
                values = (line[4:].split("\t", 4) + [""] * 5)[:5]
                jobs.append(JobInfo(*values))
        jobs.sort(key=lambda job: job.started)
        return jobs

    def kill_job(self, job_id: str) -> JobKill | None:
        """Kill a running job and its process group; None if there is no such job."""
        result = self.session.run(
            render("bash_job_kill.sh.j2", job_id=job_id), hide=True, warn=True
        )
        fields, body = split_reply(result.stdout.encode("utf-8", "surrogateescape"))
        if fields.get("missing") or "status" not in fields:
            return None
        return JobKill(
            status=fields["status"],
            was_running=fields.get("was") == "running",
            command=body.decode("utf-8", "surrogateescape").removesuffix("\n"),
        )


class _Foreground:
    """One foreground command: run, watch, kill on timeout or cancel, parse."""

    def __init__(
        self,
        shell: BashShell,
        command: str,
        timeout_s: float,
        on_output: Callable[[bytes], None] | None,
        on_tick: Callable[[], None] | None,
    ) -> None:
        self.shell = shell
        self.command, self.timeout_s = command, timeout_s
        self.mark = "RMCP" + secrets.token_hex(10)
        self.on_output, self.on_tick = on_output, on_tick
        self.active = False
        self.cancelled = False
        self._kill_lock = threading.Lock()

    def cancel(self) -> None:
        """Cancellation: kill the command if it is still ours to kill."""
        self.cancelled = True
        self._kill()

    def _kill(self) -> None:
        with self._kill_lock:
            if self.active:
                self.shell.kill_foreground()

    def execute(self, start_dir: str | None) -> RunOutcome | None:
        """Run it; None when the shell turned out uninitialised (retry)."""
        shell = self.shell._ready(start_dir)
        script = render(
            "bash_run.sh.j2",
            token=self.shell.token,
            directory=self.shell.directory,
            command=self.command,
            mark=self.mark,
        )
        started = time.monotonic()
        timed_out = False
        with self._kill_lock:
            if self.cancelled:  # cancelled while waiting for the shell: never start
                return RunOutcome(137, Stream(b""), Stream(b""), 0, 0, None, False, True, 0.0)
            self.active = True
        try:
            try:
                result: ShellResult = shell.run(
                    script,
                    warn=True,
                    timeout=self.timeout_s,
                    on_timeout=self._kill,
                    on_output=self.on_output,
                    on_tick=self.on_tick,
                )
            except CommandTimedOut as exc:
                result, timed_out = _timed_out_result(exc), True
        except ShellProtocolError as exc:
            shell.close()  # never reuse a shell whose framing may be out of step
            raise ToolError(
                f"The Bash shell on {self.shell.host_name} failed while running the command "
                f"({exc}). Its working directory and environment are saved; the next Bash "
                "call starts a new shell with them."
            ) from exc
        finally:
            with self._kill_lock:
                self.active = False
        return self._parse(result, timed_out, time.monotonic() - started)

    def _parse(self, result: ShellResult, timed_out: bool, elapsed: float) -> RunOutcome | None:
        err_head = result.stderr.encode("utf-8", "surrogateescape")
        err_tail = result.stderr_tail
        trailer = rb"\n" + self.mark.encode() + rb" (\S+) (.*?) " + self.mark.encode() + rb"\n"
        pattern = re.compile(trailer, re.DOTALL)
        code_text, cwd = None, None
        for where in ("tail", "head"):
            data = err_tail if where == "tail" else err_head
            matches = list(pattern.finditer(data))
            if matches:
                m = matches[-1]
                code_text, cwd = m.group(1).decode(), m.group(2).decode("utf-8", "surrogateescape")
                cleaned = data[: m.start()] + data[m.end() :]
                if where == "tail":
                    err_tail = cleaned
                else:
                    err_head = cleaned
                break
        if code_text == "noinit":
            return None
        if code_text is not None and code_text.lstrip("-").isdigit():
            exit_code = int(code_text)
        else:  # no trailer: cannot happen while the shell lives; be safe
            exit_code = result.exited
        if timed_out:
            exit_code = 143
        elif self.cancelled:
            exit_code = 137
        gap_bytes = result.dropped_bytes - len(result.stdout_tail) - len(result.stderr_tail)
        tail_lines = result.stdout_tail.count(b"\n") + result.stderr_tail.count(b"\n")
        has_gap = gap_bytes > 0
        return RunOutcome(
            exit_code=exit_code,
            stdout=Stream(
                result.stdout_bytes, result.stdout_tail, has_gap and _full(result.stdout_tail)
            ),
            stderr=Stream(err_head, err_tail, has_gap and _full(result.stderr_tail)),
            gap_bytes=max(0, gap_bytes),
            gap_lines=max(0, result.dropped_lines - tail_lines),
            cwd=cwd,
            timed_out=timed_out,
            interrupted=self.cancelled and not timed_out,
            elapsed_s=elapsed,
        )


def _full(tail: bytes) -> bool:
    """A stream whose kept tail is full lost bytes between head and tail."""
    return len(tail) >= CAPTURE_TAIL


def _delimiter() -> str:
    return "RMCP_EOF_" + secrets.token_hex(6)


def _timed_out_result(exc: CommandTimedOut) -> ShellResult:
    result = exc.result
    assert isinstance(result, ShellResult)  # ShellChannel raises with its own Result
    return result


def parse_fields(text: str) -> dict[str, str]:
    """key=value lines; the last key (cwd=, output=) may hold newlines."""
    fields: dict[str, str] = {}
    last = ""
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[a-z_]+", key):
            fields[key], last = value, key
        elif last:
            fields[last] += "\n" + line
    if last:
        fields[last] = fields[last].removesuffix("\n")
    return fields


def split_reply(data: bytes) -> tuple[dict[str, str], bytes]:
    """Header (key=value lines up to "--") and the raw body after it."""
    head, sep, body = data.partition(b"\n--\n")
    if not sep and data.startswith(b"--\n"):
        head, body = b"", data[3:]
    fields = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        key, _, value = line.partition("=")
        if key:
            fields[key] = value
    return fields, body
