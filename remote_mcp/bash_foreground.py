"""One foreground command of the Bash tool's shell: run it, watch it, kill
it on timeout or cancel, re-attach to it after a dropped link, and parse its
trailer into a typed outcome.

The command runs as ``bash_run.sh.j2`` on the session's :class:`BashShell`:
detached from the SSH channel (output in a run directory on the remote,
relayed by the shell as it grows), so a dropped link does not stop it. The
bytes received per stream are counted; after the reconnect
``bash_run_attach.sh.j2`` relays the rest from exactly there (same run id:
neither a re-run nor a loss). The trailer ``MARK RC CWD MARK`` on stderr
gives the exit status and cwd.
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

from .errors import CommandDetached, ConnectionLost, ShellProtocolError, ToolError
from .shell import PartialOutput, ShellChannel, ShellResult
from .templates import render

if TYPE_CHECKING:
    from .bash_shell import BashShell

__all__ = [
    "CAPTURE_LIMIT",
    "CAPTURE_TAIL",
    "Detached",
    "Foreground",
    "RunOutcome",
    "Stream",
    "new_run_id",
]

CAPTURE_LIMIT = 1 << 20  # bytes kept per stream (head); >= 30000 chars always
CAPTURE_TAIL = 64 << 10  # bytes kept of each stream's end once past the head

# A run's trailer on stderr (_bash_run_follow.sh.j2): "MARK CODE CWD MARK",
# compiled once; the run's own mark is compared by value.
_TRAILER = re.compile(
    rb"\n(?P<mark>RMCP[0-9a-f]{20}) (?P<code>\S+) (?P<cwd>.*?) (?P=mark)\n", re.DOTALL
)


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
    # Set when the command outlived its timeout while the link was down: it
    # keeps running as this job id, its stdout read up to ``job_offset``.
    job_id: str | None = None
    job_offset: int = 0


@dataclass(frozen=True)
class Detached:
    """A foreground run the link dropped under: it keeps running on the
    remote; this is where to resume (the bytes received per stream)."""

    run_id: str
    command: str
    started: float  # time.monotonic() at the start
    deadline: float  # started + the call's timeout
    received: PartialOutput

    def short(self) -> str:
        """The command for a one-line message."""
        line = self.command.strip().split("\n", 1)[0]
        cut = line if len(line) <= 60 and "\n" not in self.command.strip() else line[:57] + "..."
        return cut.replace("`", "'")


class Foreground:
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
        self.run_id = new_run_id()  # execute() takes the shell's prepared one
        self.started = time.monotonic()
        self.on_output, self.on_tick = on_output, on_tick
        self.active = False
        self.cancelled = False
        self.collected = False  # the run's trailer came: it ended and was cleaned up
        self._kill_lock = threading.Lock()

    def cancel(self) -> None:
        """Cancellation: kill the command if it is still ours to kill."""
        self.cancelled = True
        self._kill()

    def _kill(self) -> None:
        with self._kill_lock:
            if self.active:
                self.shell.kill_foreground(self.run_id)

    def execute(self, start_dir: str | None) -> RunOutcome | None:
        """Run it; None when the shell turned out uninitialised (retry)."""
        shell = self.shell.ready(start_dir)
        self.run_id, spare = self.shell.take_run_id()
        reuse = self.shell.flavour == "bash"
        script = render(
            "bash_run.sh.j2",
            spare=spare,
            reuse=reuse,
            token=self.shell.token,
            directory=self.shell.directory,
            command=self.command,
            mark=self.mark,
            run_id=self.run_id,
            owner=self.shell.owner,
            flavour=self.shell.flavour,
        )
        self.started = time.monotonic()
        outcome = self._watch(shell, script, self.timeout_s, None)
        if reuse and self.collected:
            self.shell.reuse_run_id(self.run_id)
        return outcome

    def attach(self, detached: Detached) -> RunOutcome | None:
        """Re-attach to a run the link dropped under: relay the rest of its
        output and collect its status; if its time is already over, answer
        with what is there and hand it over to BashOutput."""
        shell = self.shell.ready(None)
        self.run_id, self.started = detached.run_id, detached.started
        remaining = detached.deadline - time.monotonic()
        script = render(
            "bash_run_attach.sh.j2",
            token=self.shell.token,
            run_id=self.run_id,
            mark=self.mark,
            out_offset=detached.received.stdout_count,
            err_offset=detached.received.stderr_count,
            wait=int(remaining > 0),
            flavour=self.shell.flavour,
        )
        return self._watch(shell, script, max(remaining, 5.0), detached.received)

    def _watch(
        self, shell: ShellChannel, script: str, timeout_s: float, before: PartialOutput | None
    ) -> RunOutcome | None:
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
                    timeout=timeout_s,
                    on_timeout=self._kill,
                    on_output=self.on_output,
                    on_tick=self.on_tick,
                )
            except CommandTimedOut as exc:
                result, timed_out = timed_out_result(exc), True
        except ConnectionLost as exc:
            received = exc.partial if isinstance(exc.partial, PartialOutput) else _NOTHING
            if before is not None:
                received = _join(before, received)
            detached = Detached(
                self.run_id, self.command, self.started, self.started + self.timeout_s, received
            )
            self.shell.detached = detached
            raise CommandDetached(
                f"The SSH connection to {self.shell.host_name} dropped while the Bash command "
                f"`{detached.short()}` was running; it keeps running on the remote. Call Bash "
                "again with the same command to re-attach to it (it is not run twice), or read "
                f"it with BashOutput (ID {self.run_id})."
            ) from exc
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
        if before is not None:
            result = _joined_result(before, result)
        return self._parse(result, timed_out, time.monotonic() - self.started, before)

    def _parse(
        self,
        result: ShellResult,
        timed_out: bool,
        elapsed: float,
        before: PartialOutput | None = None,
    ) -> RunOutcome | None:
        err_head = result.stderr.encode("utf-8", "surrogateescape")
        err_tail = result.stderr_tail
        mark = self.mark.encode()
        code_text, cwd = None, None
        for where in ("tail", "head"):
            data = err_tail if where == "tail" else err_head
            # "gone" (attach found no run) means the end was sent before the cut.
            matches = [
                m
                for m in _TRAILER.finditer(data)
                if m.group("mark") == mark and m.group("code") != b"gone"
            ]
            if matches:
                m = matches[-1]
                code_text = m.group("code").decode()
                cwd = m.group("cwd").decode("utf-8", "surrogateescape")
                cleaned = data[: m.start()] + data[m.end() :]
                if where == "tail":
                    err_tail = cleaned
                else:
                    err_head = cleaned
                break
        if code_text == "noinit":
            return None
        self.shell.detached = None  # the run answered: nothing left to re-attach to
        if code_text == "norun":
            raise ToolError(
                f"Could not create the Bash command's run directory {cwd} on "
                f"{self.shell.host_name}; check that the remote-mcp state directory is writable."
            )
        if code_text is None and before is not None:
            raise ToolError(
                f"The SSH connection to {self.shell.host_name} dropped just as the Bash command "
                "started or ended, and its result was lost: check its effects before repeating it."
            )
        if code_text is not None and code_text.lstrip("-").isdigit():
            exit_code = int(code_text)
            self.collected = True
        else:  # no trailer: cannot happen while the shell lives; be safe
            exit_code = result.exited
        if timed_out:
            exit_code = 143
        elif self.cancelled:
            exit_code = 137
        job_id = None
        if code_text == "running":  # its time ran out while the link was down
            job_id, exit_code = self.run_id, 0
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
            job_id=job_id,
            job_offset=len(result.stdout_bytes) + _dropped_out(result) if job_id else 0,
        )


def new_run_id() -> str:
    """A foreground run's id (its run directory's name, BashOutput's ID)."""
    return "bash_" + secrets.token_hex(4)


def _full(tail: bytes) -> bool:
    """A stream whose kept tail is full lost bytes between head and tail."""
    return len(tail) >= CAPTURE_TAIL


def timed_out_result(exc: CommandTimedOut) -> ShellResult:
    result = exc.result
    assert isinstance(result, ShellResult)  # ShellChannel raises with its own Result
    return result


_NOTHING = PartialOutput(b"", b"", 0, 0, b"", b"")


def _append(a: tuple[bytes, int, bytes], b: tuple[bytes, int, bytes]) -> tuple[bytes, int, bytes]:
    """Two consecutive pieces of one stream, each (head, dropped, tail): the
    whole as one piece, its head at most CAPTURE_LIMIT and its tail at most
    CAPTURE_TAIL bytes (the last dropped ones)."""
    a_head, a_dropped, a_tail = a
    b_head, b_dropped, b_tail = b
    if a_dropped == 0:
        head = a_head + b_head
        overflow = head[CAPTURE_LIMIT:]
        if not overflow:
            return head, b_dropped, b_tail
        head = head[:CAPTURE_LIMIT]
        tail = b_tail if b_dropped > len(b_tail) else (overflow + b_tail)[-CAPTURE_TAIL:]
        return head, len(overflow) + b_dropped, tail
    tail = b_tail if b_dropped > len(b_tail) else (a_tail + b_head + b_tail)[-CAPTURE_TAIL:]
    return a_head, a_dropped + len(b_head) + b_dropped, tail


def _join(a: PartialOutput, b: PartialOutput) -> PartialOutput:
    out = _append(
        (a.stdout, a.stdout_dropped, a.stdout_tail), (b.stdout, b.stdout_dropped, b.stdout_tail)
    )
    err = _append(
        (a.stderr, a.stderr_dropped, a.stderr_tail), (b.stderr, b.stderr_dropped, b.stderr_tail)
    )
    return PartialOutput(
        out[0], err[0], out[1], err[1], out[2], err[2], a.dropped_lines + b.dropped_lines
    )


def _joined_result(before: PartialOutput, result: ShellResult) -> ShellResult:
    """The output received before the cut, then the re-attached rest."""
    # A ShellResult counts dropped bytes for both streams together; a tail
    # shorter than the cap holds all of its stream's dropped bytes.
    out_dropped = _dropped_out(result)
    rest = PartialOutput(
        result.stdout_bytes,
        result.stderr.encode("utf-8", "surrogateescape"),
        out_dropped,
        result.dropped_bytes - out_dropped,
        result.stdout_tail,
        result.stderr_tail,
        result.dropped_lines,
    )
    whole = _join(before, rest)
    return ShellResult(
        command=result.command,
        stdout=whole.stdout.decode("utf-8", "surrogateescape"),
        stderr=whole.stderr.decode("utf-8", "surrogateescape"),
        exited=result.exited,
        hide=("stdout", "stderr"),
        dropped_bytes=whole.stdout_dropped + whole.stderr_dropped,
        dropped_lines=whole.dropped_lines,
        stdout_tail=whole.stdout_tail,
        stderr_tail=whole.stderr_tail,
    )


def _dropped_out(result: ShellResult) -> int:
    """Bytes of stdout past the kept head (exact unless both streams overflowed their tails)."""
    if len(result.stdout_tail) < CAPTURE_TAIL:
        return len(result.stdout_tail)
    return max(len(result.stdout_tail), result.dropped_bytes - len(result.stderr_tail))
