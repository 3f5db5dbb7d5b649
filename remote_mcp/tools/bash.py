"""Bash, BashOutput and KillShell: a persistent remote shell with Claude
Code's output contract (reference/claude-code-tools.md, sections 5-7).

Design
------
The Bash tool owns one long-lived shell on its own SSH channel
(``Session.bash_shell()``: bash when the remote has it, else ``sh``). That
shell stays *pristine*: it never runs user code itself. Each command runs in
a subshell that

1. sources the session's saved state (variables, functions, aliases,
   ``set -o``/``shopt`` options; the cwd is already the shell's own),
2. ``eval``s the command with stdin ``/dev/null``,
3. on exit (an EXIT trap, so ``exit 3`` works too) dumps the state again
   (``declare -p``, ``declare -f``, ``alias -p``, ``$SHELLOPTS``/``$BASHOPTS``
   as changes, unsets of inherited variables) into the unused one of two
   state files; the shell then ``cd``s to the command's cwd and prints a
   trailer ``\\nMARK RC CWD MARK\\n`` on stderr, which gives ``state.cwd``
   (relative paths of the other tools) at no extra round trip.

Why: a subshell is one process group of its own (``set -m`` in the shell),
so a timeout or an MCP cancellation kills the whole command -- a ``while
true`` loop in the command itself included -- from a second channel
(``bash_kill.sh.j2``: TERM the descendants and their groups, KILL after
2 s), and the shell survives with its state: the subshell turns TERM into
``exit 143`` so even a killed command's ``cd``/``export`` are kept, as Ctrl-C
in a terminal would. User functions named ``printf`` or ``eval``,
``set -e``, ``set -u``, ``noclobber`` or an ``exec >file`` can never reach the
framing, because none of them ever exists in the shell that prints the
sentinel. The state file lives in a private (0700) directory on the remote
(``~/.cache/remote-mcp/shells/TOKEN``, else ``/tmp/remote-mcp-UID``) with a
per-Session token, so after an SSH reconnect the new shell picks it up:
cwd and environment survive a dropped link. Cost: one fork (the subshell)
and a few builtins per command, a few ms on the remote and no other
process; still ONE round trip. The first call of a shell process adds one
round trip for the init (``bash_init.sh.j2``).

A command's own background processes (``server &``) keep running after the
call returns, as in a terminal, and whatever they print later shows up in
later Bash results: redirect them (``server >log 2>&1 &``) or use
``run_in_background``. A timeout kills only the running command's processes.

Under plain ``sh`` (no bash on the remote) the same scheme keeps the cwd,
exported variables, aliases and options; POSIX sh cannot print its
functions or plain variables, so those do not persist there.

Login environment: the first command of a session builds the state the
way ``ssh host`` does: ``/etc/profile`` then the first of
``~/.bash_profile``, ``~/.bash_login``, ``~/.profile`` (sh: ``~/.profile``),
sourced once with stdin ``/dev/null`` and output discarded; ``~/.bashrc`` only
if the profile sources it. Then pagers and editors are neutralised
(``PAGER=cat``, ``GIT_PAGER=cat``, ``MANPAGER=cat``, ``TERM=dumb``,
``GIT_EDITOR=true``, ``EDITOR=true``, ``VISUAL=true``,
``GIT_TERMINAL_PROMPT=0``, ``DEBIAN_FRONTEND=noninteractive``) and the shell
starts in the host's ``cwd`` (else ``$HOME``). To change the environment,
edit ``~/.profile`` on the remote (takes effect for new sessions), or run
``source ~/.bashrc`` / ``export X=...`` in a Bash call: it persists.

Time limits: a foreground command runs at most its ``timeout`` (default
2 min, max 10 min), then is killed as above and answered with Claude
Code's timeout text. While it runs, MCP progress notifications (elapsed
time and last output line) go out every 5 s from the reading loop
(``ShellChannel.run(on_tick=...)``, the tool call's own thread), so clients
that extend their patience on progress keep waiting. A client that gives up sends
``notifications/cancelled``: the server runs our cancel hook, which kills the
command the same way. Anything longer belongs in ``run_in_background``.

Background jobs run under ``setsid`` (own session and process group),
detached from the SSH connection, with stdout+stderr in
``<base>/jobs/ID/output``. Everything about a job -- pid, command, exit
status, kill marker -- is a file there, so BashOutput and KillShell work
from any session (after a reconnect, or another MCP server) by id alone;
only the read offset is per-session state. BashOutput reads new bytes with
``tail -c +N``, so the transfer follows the new output, not the file.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from invoke.exceptions import CommandTimedOut

from ..errors import ShellProtocolError, ToolError
from ..session import Session
from ..shell import ShellChannel, ShellResult
from ..templates import render
from .base import ToolOutput, ToolState, run_template
from .guard import check_bash

__all__ = ["bash", "bash_output", "format_duration", "kill_shell"]

DEFAULT_TIMEOUT_MS = 120_000  # BASH_DEFAULT_TIMEOUT_MS
MAX_TIMEOUT_MS = 600_000  # BASH_MAX_TIMEOUT_MS
MAX_OUTPUT_CHARS = 30_000  # BASH_MAX_OUTPUT_LENGTH default
ERROR_CUT_CHARS = 10_000  # failure text is cut in the middle above this
CAPTURE_LIMIT = 1 << 20  # bytes kept per stream (head); >= 30000 chars always
CAPTURE_TAIL = 64 << 10  # bytes kept of each stream's end once past the head
PROGRESS_INTERVAL_S = 5.0  # MCP progress while a command runs (<= 10 s promised)
INIT_TIMEOUT_S = 60.0  # login profile sourcing; a hung profile is killed
START_TIMEOUT_S = 60.0  # background job start
READ_CAP = 128 << 10  # BashOutput bytes per call (>= 30000 chars)
FILTER_READ_CAP = 8 << 20  # with a filter every new line is needed
DEFAULT_WAIT_MS = 30_000
POLL_S = 0.1  # remote wait loop nap (bash_bg_read.sh.j2)

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# bash's notice for a child killed by a signal: "Terminated", or
# "bash: line 3:  1234 Killed    sleep 5" (the form varies with the shell).
_KILL_REPORT = re.compile(
    r"^(?:[^\n]*line \d+: +\d+ +)?(?:Terminated|Killed)\b[^\n]*(?:\n|$)", re.M
)
_JOB_FIELDS = ("bash_id", "status", "exit_code", "started", "command")
_GAP = "\ud800"  # stands for dropped output; surrogateescape never produces it
_NON_ERROR_EXIT_1 = {
    "grep": "No matches found",
    "rg": "No matches found",
    "find": "Some directories were inaccessible",
    "diff": "Files differ",
    "test": "Condition is false",
    "[": "Condition is false",
}


# -- per-session runtime ---------------------------------------------------------


@dataclass
class _Runtime:
    """What the Bash tool keeps per Session (not per ToolState: two states on
    one session share its shell, so they must share the lock too)."""

    token: str = field(default_factory=lambda: "s" + secrets.token_hex(8))
    lock: threading.Lock = field(default_factory=threading.Lock)
    shell: ShellChannel | None = None  # the shell object we initialised...
    generation: int = -1  # ...and its generation (restarts bump it)
    directory: str = ""  # remote shells/TOKEN dir
    flavour: str = "bash"
    # Kills get a channel of their own: pooled workers may all be busy (a
    # BashOutput with block holds one for minutes) exactly when a timeout fires.
    killer: ShellChannel | None = None
    kill_lock: threading.Lock = field(default_factory=threading.Lock)


_RUNTIMES: weakref.WeakKeyDictionary[Session, _Runtime] = weakref.WeakKeyDictionary()
_RUNTIMES_LOCK = threading.Lock()


def _runtime(session: Session) -> _Runtime:
    with _RUNTIMES_LOCK:
        rt = _RUNTIMES.get(session)
        if rt is None:
            rt = _RUNTIMES[session] = _Runtime()
        return rt


def _ready_shell(session: Session, rt: _Runtime, state: ToolState) -> ShellChannel:
    """The Bash shell, started and initialised (init once per shell process)."""
    shell = session.bash_shell()
    shell.capture_limit = CAPTURE_LIMIT
    shell.capture_tail = CAPTURE_TAIL
    if not shell.alive:
        shell.close()
        shell.start()
    if rt.shell is not shell or rt.generation != shell.generation:
        _init_shell(session, shell, rt, state)
    return shell


def _init_shell(session: Session, shell: ShellChannel, rt: _Runtime, state: ToolState) -> None:
    start = state.cwd or session.host.cwd or ""
    script = render(
        "bash_init.sh.j2", token=rt.token, delim="RMCP_EOF_" + secrets.token_hex(6), start=start
    )
    try:
        result: ShellResult = shell.run(
            script,
            warn=True,
            timeout=INIT_TIMEOUT_S,
            on_timeout=lambda: _kill_foreground(session, rt),
        )
    except CommandTimedOut as exc:  # the profile hung and was killed; init went on
        result = _shell_result(exc)
    except ShellProtocolError as exc:
        shell.close()
        raise ToolError(
            f"The Bash shell on {state.host_name} could not start: {exc}. "
            "Check the remote login profile; the next Bash call tries again."
        ) from exc
    fields = _header(result.stdout)
    if "error" in fields or "dir" not in fields:
        raise ToolError(
            f"The Bash shell on {state.host_name} could not be prepared: "
            f"{fields.get('error') or result.stdout.strip() or result.stderr.strip()}"
        )
    rt.shell, rt.generation = shell, shell.generation
    rt.directory, rt.flavour = fields["dir"], fields.get("flavour", "sh")
    if fields.get("cwd"):
        state.cwd = fields["cwd"]


def _shell_result(exc: CommandTimedOut) -> ShellResult:
    result = exc.result
    assert isinstance(result, ShellResult)  # ShellChannel raises with its own Result
    return result


def _kill_foreground(session: Session, rt: _Runtime) -> None:
    """Kill whatever the Bash shell is running, from a second channel."""
    with rt.kill_lock:
        if rt.killer is None:
            rt.killer = ShellChannel(session.conn, subshell=True)
        try:
            rt.killer.run(render("bash_kill.sh.j2", token=rt.token), warn=True, timeout=30)
        except CommandTimedOut:  # the channel is discarded; the shell's grace period decides
            pass


def _header(text: str) -> dict[str, str]:
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


# -- Bash --------------------------------------------------------------------------


def bash(
    session: Session,
    command: str,
    timeout: float | None = None,
    description: str | None = None,
    run_in_background: bool = False,
    *,
    state: ToolState,
    progress: Callable[[float, str], None] | None = None,
    cancel_hooks: list[Callable[[], None]] | None = None,
) -> ToolOutput:
    """Run ``command`` in the session's persistent shell (see module docstring).

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
    rt = _runtime(session)
    if run_in_background:
        return _start_background(session, rt, command, state)
    timeout_ms = _timeout_ms(timeout)
    run = _Foreground(session, rt, state, command, timeout_ms, progress)
    if cancel_hooks is not None:  # before waiting for the shell: a cancel may come first
        cancel_hooks.append(run.cancel)
    with rt.lock:
        for _attempt in range(2):
            outcome = run.execute()
            if outcome is not None:
                return _format(command, outcome, timeout_ms)
            rt.shell = None  # the shell restarted under us: initialise, run again
    raise ToolError(f"The Bash shell on {state.host_name} keeps restarting; try again.")


def _timeout_ms(timeout: float | None) -> float:
    if timeout is None or timeout <= 0:
        return DEFAULT_TIMEOUT_MS
    return min(float(timeout), MAX_TIMEOUT_MS)


@dataclass
class _Outcome:
    exit_code: int
    stdout: str  # may contain _GAP where output was dropped
    stderr: str
    gap_chars: int  # bytes dropped (not kept as head or tail), counted as chars
    gap_lines: int
    cwd: str | None
    timed_out: bool
    interrupted: bool
    elapsed_s: float


class _Foreground:
    """One foreground command: run, watch, kill on timeout or cancel, parse."""

    def __init__(
        self,
        session: Session,
        rt: _Runtime,
        state: ToolState,
        command: str,
        timeout_ms: float,
        progress: Callable[[float, str], None] | None,
    ) -> None:
        self.session, self.rt, self.state = session, rt, state
        self.command, self.timeout_ms = command, timeout_ms
        self.mark = "RMCP" + secrets.token_hex(10)
        self.watch = _Watch(self.mark)
        self.progress = progress
        self.active = False
        self.cancelled = False
        self._kill_lock = threading.Lock()

    def cancel(self) -> None:
        """MCP cancellation: kill the command if it is still ours to kill."""
        self.cancelled = True
        self._kill()

    def _kill(self) -> None:
        with self._kill_lock:
            if self.active:
                _kill_foreground(self.session, self.rt)

    def execute(self) -> _Outcome | None:
        """Run it; None when the shell turned out uninitialised (retry)."""
        shell = _ready_shell(self.session, self.rt, self.state)
        script = render(
            "bash_run.sh.j2",
            token=self.rt.token,
            directory=self.rt.directory,
            command=self.command,
            mark=self.mark,
        )
        started = time.monotonic()
        ticker = _Progress(self.progress, self.watch, started)
        timed_out = False
        with self._kill_lock:
            if self.cancelled:  # cancelled while waiting for the shell: never start
                return _Outcome(137, "", "", 0, 0, None, False, True, 0.0)
            self.active = True
        try:
            try:
                result: ShellResult = shell.run(
                    script,
                    warn=True,
                    timeout=self.timeout_ms / 1000,
                    on_timeout=self._kill,
                    on_output=self.watch.feed,
                    on_tick=ticker.tick,
                )
            except CommandTimedOut as exc:
                result, timed_out = _shell_result(exc), True
        except ShellProtocolError as exc:
            shell.close()  # never reuse a shell whose framing may be out of step
            raise ToolError(
                f"The Bash shell on {self.state.host_name} failed while running the command "
                f"({exc}). Its working directory and environment are saved; the next Bash "
                "call starts a new shell with them."
            ) from exc
        finally:
            with self._kill_lock:
                self.active = False
        return self._parse(result, timed_out, time.monotonic() - started)

    def _parse(self, result: ShellResult, timed_out: bool, elapsed: float) -> _Outcome | None:
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
        if cwd is not None:
            self.state.cwd = cwd
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
        return _Outcome(
            exit_code=exit_code,
            stdout=_stream(
                result.stdout_bytes, result.stdout_tail, has_gap and _full(result.stdout_tail)
            ),
            stderr=_stream(err_head, err_tail, has_gap and _full(result.stderr_tail)),
            gap_chars=max(0, gap_bytes),
            gap_lines=max(0, result.dropped_lines - tail_lines),
            cwd=cwd,
            timed_out=timed_out,
            interrupted=self.cancelled and not timed_out,
            elapsed_s=elapsed,
        )


def _full(tail: bytes) -> bool:
    """A stream whose kept tail is full lost bytes between head and tail."""
    return len(tail) >= CAPTURE_TAIL


def _stream(head: bytes, tail: bytes, gap: bool) -> str:
    """A stream's text: head, then (if output was dropped) the gap mark and
    the end of the stream; invalid UTF-8 stays as surrogate escapes."""
    text = head.decode("utf-8", "surrogateescape")
    if not tail:
        return text
    # The tail starts at an arbitrary byte: skip a cut multi-byte character.
    start = 0
    while start < min(3, len(tail)) and 0x80 <= tail[start] < 0xC0:
        start += 1
    return text + (_GAP if gap else "") + tail[start:].decode("utf-8", "surrogateescape")


def _format(command: str, o: _Outcome, timeout_ms: float) -> ToolOutput:
    """Claude Code's Bash result text (S1 mapToolResultToToolResultBlockParam)."""
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
        raise ToolError(_failure_text(o, stderr))
    if o.exit_code:  # a non-error exit, e.g. grep's 1: Claude Code keeps the reading aside
        structured["return_code_interpretation"] = _NON_ERROR_EXIT_1[command.split()[0]]
    merged = o.stdout.rstrip() + "\n" + stderr.rstrip() + "\n"
    merged = _truncate(merged, o.gap_lines)
    text = re.sub(r"^(\s*\n)+", "", merged).rstrip()
    return ToolOutput(text=text, structured=structured)


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


def _failure_text(o: _Outcome, stderr: str) -> str:
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

    def __init__(self, mark: str) -> None:
        self.mark = mark.encode()
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
            if line and self.mark not in line and b"__RMCP_" not in line:
                return line.decode("utf-8", "replace")[-200:]
        return ""


class _Progress:
    """Progress notifications while a command runs, so MCP clients that
    extend their timeout on progress keep waiting. Called from the reading
    loop (``ShellChannel.run(on_tick=...)``), i.e. in the tool call's own
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
        except Exception:  # noqa: BLE001 - progress is best effort
            pass


# -- background jobs --------------------------------------------------------------


def _start_background(session: Session, rt: _Runtime, command: str, state: ToolState) -> ToolOutput:
    """Start ``command`` detached, FROM the Bash shell (its cwd and state)."""
    job_id = "bash_" + secrets.token_hex(4)
    with rt.lock:
        for _attempt in range(2):
            shell = _ready_shell(session, rt, state)
            script = render(
                "bash_bg_start.sh.j2",
                token=rt.token,
                job_id=job_id,
                command=command,
                flavour=rt.flavour,
                delim="RMCP_EOF_" + secrets.token_hex(6),
            )
            try:
                result = shell.run(script, warn=True, timeout=START_TIMEOUT_S)
            except CommandTimedOut as exc:
                raise ToolError(
                    f"Starting the background command on {state.host_name} timed out."
                ) from exc
            fields = _header(result.stdout)
            if fields.get("noinit"):
                rt.shell = None
                continue
            if "error" in fields or "output" not in fields:
                reason = fields.get("error") or result.stderr.strip() or "no answer"
                raise ToolError(f"Could not start the background command: {reason}")
            _offsets(state)[job_id] = 0
            path = fields["output"]
            return ToolOutput(
                text=f"Command running in background with ID: {job_id}. "
                f"Output is being written to: {path}",
                structured={"bash_id": job_id, "output_path": path},
            )
    raise ToolError(f"The Bash shell on {state.host_name} keeps restarting; try again.")


def _offsets(state: ToolState) -> dict[str, int]:
    offsets: dict[str, int] = state.extra.setdefault("bash_job_offsets", {})
    return offsets


def _check_id(bash_id: str) -> None:
    if not _JOB_ID.fullmatch(bash_id):
        raise ToolError(f"No shell found with ID: {bash_id}")


def _split_reply(data: bytes) -> tuple[dict[str, str], bytes]:
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


def bash_output(
    session: Session,
    bash_id: str,
    filter: str | None = None,  # noqa: A002 - Claude Code's parameter name
    block: bool | None = False,
    timeout: float | None = None,
    *,
    state: ToolState,
) -> ToolOutput:
    """New output and status of a background job (S0 BashOutput blocks).

    ``bash_id`` "list" lists every job on the host. ``block`` waits up to
    ``timeout`` ms (default 30000, max 600000) for the job to finish. Output
    is what arrived since this session last read the job (a fresh session
    starts at the beginning); with ``filter`` only matching lines are shown
    and the others are consumed too.
    """
    if bash_id == "list":
        return _list_jobs(session, state)
    regex = None
    if filter:
        try:
            # UNCONFIRMED in CC whether the filter is case-insensitive; chosen:
            # yes, as its validation compiles the pattern with the "i" flag.
            regex = re.compile(filter, re.IGNORECASE)
        except re.error as exc:
            raise ToolError(f'Invalid regex pattern "{filter}": {exc}') from None
    _check_id(bash_id)
    wait_ms = 0.0
    if block:
        wait_ms = DEFAULT_WAIT_MS if timeout is None or timeout < 0 else timeout
        wait_ms = min(wait_ms, MAX_TIMEOUT_MS)
    offsets = _offsets(state)
    offset = offsets.get(bash_id, 0)
    cap = FILTER_READ_CAP if regex else READ_CAP
    result = run_template(
        session,
        "bash_bg_read.sh.j2",
        job_id=bash_id,
        offset=offset,
        cap=cap,
        ticks=int(wait_ms / 1000 / POLL_S),
    )
    fields, body = _split_reply(result.stdout.encode("utf-8", "surrogateescape"))
    if fields.get("missing") or "status" not in fields:
        raise ToolError(f"No shell found with ID: {bash_id}")
    status = fields["status"]
    start = int(fields.get("offset") or 0)
    rest_lines = int(fields.get("rest_lines") or 0)
    sent = len(body)
    truncated_remote = int(fields.get("size") or 0) - start > sent
    if truncated_remote and regex is None:
        consumed = int(fields["size"]) - start  # CC drops what it cannot show
    else:
        consumed = _consumable(
            body,
            more=status == "running" or truncated_remote,
            truncated=truncated_remote,
            whole_lines=regex is not None,
        )
    offsets[bash_id] = start + consumed
    text = body[: min(consumed, sent)].decode("utf-8", "surrogateescape")
    if regex is not None:
        text = "\n".join(line for line in text.split("\n") if regex.search(line))
        rest_lines = 0
    if rest_lines or truncated_remote and regex is None:
        # Only the head came over: count the lines of the rest as the remote
        # reported them (minus the final newline Claude Code's trimEnd drops).
        tail = text[MAX_OUTPUT_CHARS:]
        remaining = tail.count("\n") + rest_lines - int(fields.get("final_nl") or 0) + 1
        stdout = f"{text[:MAX_OUTPUT_CHARS]}\n\n... [{remaining} lines truncated] ..."
    else:
        stdout = _truncate(text.rstrip(), 0)
    parts = [f"<status>{status}</status>"]
    exit_code = fields.get("exit") or None
    if exit_code is not None and status in ("completed", "failed"):
        parts.append(f"<exit_code>{exit_code}</exit_code>")
    if stdout.strip():
        parts.append(f"<stdout>\n{stdout.rstrip()}\n</stdout>")
    parts.append(f"<timestamp>{_iso_now()}</timestamp>")
    return ToolOutput(
        text="\n\n".join(parts),
        structured={
            "bash_id": bash_id,
            "status": status,
            "exit_code": int(exit_code) if exit_code and exit_code.lstrip("-").isdigit() else None,
            "stdout": text,
            "offset": offsets[bash_id],
        },
    )


def _consumable(body: bytes, *, more: bool, truncated: bool, whole_lines: bool) -> int:
    """How many bytes to consume now. While more output may follow, hold
    back a cut UTF-8 character -- and, when filtering, a partial last line,
    unless that line alone filled the read."""
    if not more or not body:
        return len(body)
    if whole_lines:
        cut = body.rfind(b"\n")
        if cut >= 0:
            return cut + 1
        return len(body) if truncated else 0
    for back in range(1, min(4, len(body)) + 1):
        byte = body[-back]
        if byte < 0x80:
            return len(body)
        if byte >= 0xC0:  # a lead byte: complete if enough continuation bytes follow
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(body) if back >= need else len(body) - back
    return len(body)


def _iso_now() -> str:
    """JavaScript's toISOString(): millisecond precision, Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _list_jobs(session: Session, state: ToolState) -> ToolOutput:
    result = run_template(session, "bash_bg_list.sh.j2")
    jobs: list[dict[str, str]] = []
    for line in result.stdout.splitlines():
        if line.startswith("job "):
            values = (line[4:].split("\t", 4) + [""] * 5)[:5]
            jobs.append(dict(zip(_JOB_FIELDS, values, strict=True)))
    jobs.sort(key=lambda job: job["started"])
    if not jobs:
        return ToolOutput(text=f"No background jobs on {state.host_name}.", structured={"jobs": []})
    lines = [f"Background jobs on {state.host_name} (oldest first):"]
    for job in jobs:
        status = job["status"] + (f" (exit code {job['exit_code']})" if job["exit_code"] else "")
        lines.append(
            f"{job['bash_id']}  {status}  started {job['started'] or '?'}  {job['command']}"
        )
    return ToolOutput(text="\n".join(lines), structured={"jobs": jobs})


def kill_shell(session: Session, shell_id: str, *, state: ToolState) -> ToolOutput:
    """Kill background job ``shell_id`` and its whole process group (S0 KillShell)."""
    _check_id(shell_id)
    result = run_template(session, "bash_bg_kill.sh.j2", job_id=shell_id)
    fields, body = _split_reply(result.stdout.encode("utf-8", "surrogateescape"))
    if fields.get("missing") or "status" not in fields:
        raise ToolError(f"No shell found with ID: {shell_id}")
    if fields.get("was") != "running":
        raise ToolError(
            f"Shell {shell_id} is not running, so cannot be killed (status: {fields['status']})"
        )
    command = body.decode("utf-8", "surrogateescape").removesuffix("\n")
    message = {
        "message": f"Successfully killed shell: {shell_id} ({command})",
        "shell_id": shell_id,
    }
    return ToolOutput(
        text=json.dumps(message, ensure_ascii=False, separators=(",", ":")),
        structured={"bash_id": shell_id, "status": "killed"},
    )
