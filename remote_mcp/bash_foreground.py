"""One foreground command of the Bash tool's shell: run it, watch it, kill
it on timeout or cancel, and parse its trailer into a typed outcome.

The command runs as ``bash_run.sh.j2`` on the session's :class:`BashShell`;
the trailer ``MARK RC CWD MARK`` on stderr gives the exit status and cwd.
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
from .shell import ShellResult
from .templates import render

if TYPE_CHECKING:
    from .bash_shell import BashShell

__all__ = ["CAPTURE_LIMIT", "CAPTURE_TAIL", "Foreground", "RunOutcome", "Stream"]

CAPTURE_LIMIT = 1 << 20  # bytes kept per stream (head); >= 30000 chars always
CAPTURE_TAIL = 64 << 10  # bytes kept of each stream's end once past the head


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
        shell = self.shell.ready(start_dir)
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
                result, timed_out = timed_out_result(exc), True
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


def timed_out_result(exc: CommandTimedOut) -> ShellResult:
    result = exc.result
    assert isinstance(result, ShellResult)  # ShellChannel raises with its own Result
    return result
