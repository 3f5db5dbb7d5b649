"""Bash: Claude Code's semantics and wording (Bash, BashOutput and KillShell of
Claude Code v2.0.77) over the session's Bash shell.

The shell itself -- a long-lived remote shell whose cwd, variables,
functions, aliases and options persist between calls, killable commands,
detached background jobs -- is the session layer's
:class:`~remote_mcp.bash_shell.BashShell` (``session.bash``); its docstring
and templates say how. This module keeps what Claude Code defines: timeouts
in milliseconds, exit-code semantics, the output contract (merge, truncation,
failure text, timeout message), progress text, BashOutput's incremental
reads and filter, and the result wording of all three tools.

A command's own background processes (``server &``) keep running after the
call returns, as in a terminal; what they print after the call ends goes to
the command's run file on the remote, not to later results: redirect them
(``server >log 2>&1 &``) or use ``run_in_background``. A timeout kills only
the running command's processes.

A dropped link does not stop a foreground command: it runs detached, and
the same call re-attaches after the reconnect (``bash_foreground``).

Under plain ``sh`` (no bash on the remote) the shell keeps the cwd, exported
variables, aliases and options; POSIX sh cannot print its functions or plain
variables, so those do not persist there.

Login environment: the first command of a session builds the state the
way ``ssh host`` does: ``/etc/profile`` then the first of
``~/.bash_profile``, ``~/.bash_login``, ``~/.profile`` (sh: ``~/.profile``),
sourced once with stdin ``/dev/null`` and output discarded; ``~/.bashrc`` only
if the profile sources it. Then pagers and editors are neutralised
(``PAGER=cat``, ``GIT_PAGER=cat``, ``MANPAGER=cat``, ``TERM=dumb``,
``GIT_EDITOR=true``, ``EDITOR=true``, ``VISUAL=true``,
``GIT_TERMINAL_PROMPT=0``, ``DEBIAN_FRONTEND=noninteractive``) and the shell
starts in the host's ``cwd`` (else ``$HOME``).

Time limits: a foreground command runs at most its ``timeout`` (default
2 min, max 10 min), then is killed and answered with Claude Code's timeout
text. While it runs, MCP progress notifications (elapsed time and last
output line) go out every 5 s from the tool call's own thread, so clients
that extend their patience on progress keep waiting. A client that gives up
sends ``notifications/cancelled``: the server runs our cancel hook, which
kills the command the same way.

Background jobs run under ``setsid``, detached from the SSH connection,
with their output in a file on the remote; BashOutput reads the new bytes
since this session's last read (the offset is per-session state):
BashOutput and KillShell are in ``tools/bash_jobs.py``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..bash_foreground import RunOutcome, Stream
from ..bash_jobs import ForeignJob, JobKill, JobListing, JobRead, JobStart
from ..errors import CommandFailed, ToolError
from .base import ToolOutput, ToolState
from .guard import check_bash

__all__ = ["BashHost", "BashRuntime", "bash", "format_duration"]

DEFAULT_TIMEOUT_MS = 120_000  # BASH_DEFAULT_TIMEOUT_MS
MAX_TIMEOUT_MS = 600_000  # BASH_MAX_TIMEOUT_MS
MAX_OUTPUT_CHARS = 30_000  # BASH_MAX_OUTPUT_LENGTH default
ERROR_CUT_CHARS = 10_000  # failure text is cut in the middle above this
PROGRESS_INTERVAL_S = 5.0  # MCP progress while a command runs (<= 10 s promised)

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# bash's notice for a child killed by a signal: "Terminated", or
# "bash: line 3:  1234 Killed    sleep 5" (the form varies with the shell).
_KILL_REPORT = re.compile(
    r"^(?:[^\n]*line \d+: +\d+ +)?(?:Terminated|Killed)\b[^\n]*(?:\n|$)", re.M
)
# Framing lines of the shell (trailer mark, sentinel): never shown as progress.
_FRAMING = re.compile(rb"RMCP[0-9a-f]{20}|__RMCP_")
_GAP = "\ud800"  # stands for dropped output; surrogateescape never produces it
_NON_ERROR_EXIT_1 = {
    "grep": "No matches found",
    "rg": "No matches found",
    "find": "Some directories were inaccessible",
    "diff": "Files differ",
    "test": "Condition is false",
    "[": "Condition is false",
}


class BashRuntime(Protocol):
    """What the Bash tools need of a shell (the session's BashShell)."""

    @property
    def cwd(self) -> str | None: ...

    def run(
        self,
        command: str,
        *,
        timeout_s: float,
        start_dir: str | None = None,
        on_output: Callable[[bytes], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        register_cancel: Callable[[Callable[[], None]], None] | None = None,
    ) -> RunOutcome: ...

    def start_job(self, command: str, *, start_dir: str | None = None) -> JobStart: ...

    def read_job(
        self,
        job_id: str,
        *,
        offset: int,
        cap: int,
        wait_s: float = 0.0,
        all_sessions: bool = False,
    ) -> JobRead | ForeignJob | None: ...

    def list_jobs(self, *, all_sessions: bool = False) -> JobListing: ...

    def kill_job(
        self, job_id: str, *, all_sessions: bool = False
    ) -> JobKill | ForeignJob | None: ...

    def take_notice(self) -> str | None: ...


class BashHost(Protocol):
    """Anything that owns a Bash shell: the server's Session."""

    @property
    def bash(self) -> BashRuntime: ...


# -- Bash --------------------------------------------------------------------------


def bash(
    session: BashHost,
    command: str,
    timeout: float | None = None,
    description: str | None = None,
    run_in_background: bool | None = False,
    *,
    state: ToolState,
    progress: Callable[[float, str], None] | None = None,
    cancel_hooks: list[Callable[[], None]] | None = None,
) -> ToolOutput:
    """Run ``command`` in the host's persistent shell (see module docstring).

    ``timeout`` is in milliseconds (Claude Code's). ``progress(elapsed_s, msg)``
    is called every few seconds while the command runs; a callable appended
    to ``cancel_hooks`` kills the command (the server calls it on MCP
    cancellation). A failing command raises ToolError with Claude Code's
    "Exit code N" text.
    """
    del description  # Claude Code shows it to the user; the remote needs nothing
    check_bash(state)  # read_only / bash: deny (tools/guard.py)
    if "\0" in command:
        raise ToolError("The command contains a NUL byte, which a shell command cannot contain.")
    shell = session.bash
    try:
        if run_in_background:
            output = _start_background(shell, command, state)
        else:
            output = _foreground(shell, command, timeout, state, progress, cancel_hooks)
    except ToolError as exc:
        notice = shell.take_notice()
        if notice:
            raise ToolError(f"[NOTE] {notice}\n{exc}") from exc
        raise
    notice = shell.take_notice()
    if notice:
        output.text = f"[NOTE] {notice}\n{output.text}"
    return output


def _foreground(
    shell: BashRuntime,
    command: str,
    timeout: float | None,
    state: ToolState,
    progress: Callable[[float, str], None] | None,
    cancel_hooks: list[Callable[[], None]] | None,
) -> ToolOutput:
    timeout_ms = _timeout_ms(timeout)
    watch = _Watch()
    ticker = _Progress(progress, watch, time.monotonic())
    outcome = shell.run(
        command,
        timeout_s=timeout_ms / 1000,
        start_dir=state.cwd,
        on_output=watch.feed,
        on_tick=ticker.tick,
        register_cancel=cancel_hooks.append if cancel_hooks is not None else None,
    )
    if outcome.cwd is not None:
        state.cwd = outcome.cwd
    if outcome.job_id is not None:
        return _handed_over(outcome, timeout_ms, state)
    return _format(command, outcome, timeout_ms)


def _handed_over(outcome: RunOutcome, timeout_ms: float, state: ToolState) -> ToolOutput:
    """The command outlived its timeout while the link was down (so it could
    not be stopped on time): the output so far, and the id to read on with."""
    assert outcome.job_id is not None
    _offsets(state)[outcome.job_id] = outcome.job_offset
    o = _Texts(outcome)
    merged = _truncate(o.stdout.rstrip() + "\n" + o.stderr.rstrip() + "\n", o.gap_lines)
    so_far = re.sub(r"^(\s*\n)+", "", merged).rstrip()
    note = (
        f"The command is still running: its timeout ({format_duration(timeout_ms)}) passed "
        "while the SSH connection was down. It continues in the background with ID: "
        f"{outcome.job_id}. Use BashOutput to read the rest of its output, or KillShell to "
        "stop it."
    )
    return ToolOutput(
        text=f"{so_far}\n\n{note}" if so_far else note,
        structured={"bash_id": outcome.job_id, "stdout": o.stdout.replace(_GAP, "")},
    )


def _timeout_ms(timeout: float | None) -> float:
    if timeout is None or timeout <= 0:
        return DEFAULT_TIMEOUT_MS
    return min(float(timeout), MAX_TIMEOUT_MS)


def _text(stream: Stream) -> str:
    """A stream's text: head, then (if output was dropped) the gap mark and
    the end of the stream; invalid UTF-8 stays as surrogate escapes."""
    text, tail = stream.head.decode("utf-8", "surrogateescape"), stream.tail
    if not tail:
        return text
    # The tail starts at an arbitrary byte: skip a cut multi-byte character.
    start = 0
    while start < min(3, len(tail)) and 0x80 <= tail[start] < 0xC0:
        start += 1
    return text + (_GAP if stream.gap else "") + tail[start:].decode("utf-8", "surrogateescape")


def _format(command: str, outcome: RunOutcome, timeout_ms: float) -> ToolOutput:
    """Claude Code's Bash result text (v2.0.77's mapToolResultToToolResultBlockParam)."""
    o = _Texts(outcome)
    structured: dict[str, object] = {
        "exit_code": o.exit_code,
        "stdout": o.stdout.replace(_GAP, ""),
        "stderr": o.stderr.replace(_GAP, ""),
        "cwd": o.cwd,
        "timed_out": o.timed_out,
        "interrupted": o.interrupted,
        "elapsed_s": round(o.elapsed_s, 3),
    }
    stderr = o.stderr
    if o.timed_out or o.interrupted:
        # The shell's own reports of the processes we killed are not output.
        stderr = _KILL_REPORT.sub("", stderr)
    if o.timed_out:
        note = f"Command timed out after {format_duration(timeout_ms)}"
        stderr = note + ("\n" + stderr if stderr else "")
    if o.timed_out or o.interrupted or _is_error(command, o.exit_code):
        code = None if o.timed_out or o.interrupted else o.exit_code
        raise CommandFailed(_failure_text(o, stderr), code)
    if o.exit_code:  # a non-error exit, e.g. grep's 1: Claude Code keeps the reading aside
        structured["return_code_interpretation"] = _NON_ERROR_EXIT_1[command.split()[0]]
    merged = o.stdout.rstrip() + "\n" + stderr.rstrip() + "\n"
    merged = _truncate(merged, o.gap_lines)
    text = re.sub(r"^(\s*\n)+", "", merged).rstrip()
    return ToolOutput(text=text, structured=structured)


class _Texts:
    """A RunOutcome with its streams decoded (the gap mark where output was dropped)."""

    def __init__(self, outcome: RunOutcome) -> None:
        self.exit_code = outcome.exit_code
        self.stdout, self.stderr = _text(outcome.stdout), _text(outcome.stderr)
        self.gap_chars, self.gap_lines = outcome.gap_bytes, outcome.gap_lines
        self.cwd, self.elapsed_s = outcome.cwd, outcome.elapsed_s
        self.timed_out, self.interrupted = outcome.timed_out, outcome.interrupted


def _is_error(command: str, code: int) -> bool:
    """Claude Code's exit-code semantics: the first word picks the rule."""
    if code == 0:
        return False
    words = command.split()
    first = words[0] if words else ""
    return not (code == 1 and first in _NON_ERROR_EXIT_1)


def _truncate(text: str, gap_lines: int) -> str:
    """First 30000 chars + "[N lines truncated]" (N = pieces after the cut)."""
    if len(text) <= MAX_OUTPUT_CHARS and _GAP not in text:
        return text
    rest = text[MAX_OUTPUT_CHARS:]
    remaining = rest.count("\n") + (gap_lines if _GAP in text else 0) + 1
    head = text[:MAX_OUTPUT_CHARS].replace(_GAP, "")
    return f"{head}\n\n... [{remaining} lines truncated] ..."


def _failure_text(o: _Texts, stderr: str) -> str:
    """["Exit code N", interrupted note, stderr, stdout] joined, trimmed, and
    cut in the middle above 10000 chars (Claude Code's ShellError text)."""
    parts = [
        f"Exit code {o.exit_code}",
        "[Request interrupted by user for tool use]" if o.interrupted else "",
        stderr,
        o.stdout,
    ]
    text = "\n".join(p for p in parts if p).strip()
    if not text:
        return "Command failed with no output"
    gaps = text.count(_GAP)
    total = len(text) - gaps + (o.gap_chars if gaps else 0)
    if total <= ERROR_CUT_CHARS:
        return text.replace(_GAP, "")
    half = ERROR_CUT_CHARS // 2
    head, tail = text[:half].replace(_GAP, ""), text[-half:].replace(_GAP, "")
    return f"{head}\n\n... [{total - ERROR_CUT_CHARS} characters truncated] ...\n\n{tail}"


def format_duration(ms: float) -> str:
    """Claude Code's duration text: "30s", "2m 0s", "1h 2m 3s".

    UNCONFIRMED in CC for sub-minute values; chosen: whole seconds, rounded down.
    """
    if ms < 60_000:
        return f"{int(ms // 1000)}s"
    hours = int(ms // 3_600_000)
    minutes = int(ms % 3_600_000 // 60_000)
    seconds = round(ms % 60_000 / 1000)
    if seconds == 60:
        seconds, minutes = 0, minutes + 1
    if minutes == 60:
        minutes, hours = 0, hours + 1
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    return f"{minutes}m {seconds}s"


class _Watch:
    """The end of the output seen so far, for progress messages."""

    def __init__(self) -> None:
        self.recent = b""
        self.lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self.lock:
            self.recent = (self.recent + data)[-4096:]

    def last_line(self) -> str:
        with self.lock:
            recent = self.recent
        for line in reversed(re.split(rb"[\r\n]+", recent)):
            line = line.strip()
            if line and not _FRAMING.search(line):
                return line.decode("utf-8", "replace")[-200:]
        return ""


class _Progress:
    """Progress notifications while a command runs, so MCP clients that
    extend their timeout on progress keep waiting. Called from the reading
    loop (``BashShell.run(on_tick=...)``), i.e. in the tool call's own
    thread, which is where the server's progress sender must be called."""

    def __init__(
        self, progress: Callable[[float, str], None] | None, watch: _Watch, started: float
    ) -> None:
        self.progress, self.watch, self.started = progress, watch, started
        self.last = started

    def tick(self) -> None:
        now = time.monotonic()
        if self.progress is None or now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        elapsed = now - self.started
        line = self.watch.last_line()
        message = f"Running for {int(elapsed)}s" + (f": {line}" if line else "")
        try:
            self.progress(round(elapsed, 1), message)
        except Exception:  # progress is best effort
            pass


# -- background jobs --------------------------------------------------------------


def _start_background(shell: BashRuntime, command: str, state: ToolState) -> ToolOutput:
    """Start ``command`` detached, from the Bash shell (its cwd and state)."""
    job = shell.start_job(command, start_dir=state.cwd)
    if shell.cwd is not None:
        state.cwd = shell.cwd
    _offsets(state)[job.bash_id] = 0
    return ToolOutput(
        text=f"Command running in background with ID: {job.bash_id}. "
        f"Output is being written to: {job.output_path}",
        structured={"bash_id": job.bash_id, "output_path": job.output_path},
    )


def _offsets(state: ToolState) -> dict[str, int]:
    offsets: dict[str, int] = state.extra.setdefault("bash_job_offsets", {})
    return offsets


def _check_id(bash_id: str) -> None:
    if not _JOB_ID.fullmatch(bash_id):
        raise ToolError(f"No shell found with ID: {bash_id}")
