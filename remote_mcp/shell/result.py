"""What a command on a persistent shell returned, and what it had sent
when it was cut short (a timeout, a dropped link)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from invoke.exceptions import CommandTimedOut
from invoke.runners import Result

from ..capture import StreamCapture

__all__ = ["PartialOutput", "ShellResult", "partial_output", "command_timed_out"]


class ShellResult(Result):
    """An invoke ``Result`` that also says how much output was dropped by the
    capture cap (a command printing gigabytes must not exhaust our memory)."""

    def __init__(
        self,
        *,
        dropped_bytes: int = 0,
        dropped_lines: int = 0,
        stdout_tail: bytes = b"",
        stderr_tail: bytes = b"",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.dropped_bytes = dropped_bytes
        self.dropped_lines = dropped_lines
        # The last dropped bytes of each stream (``capture_tail``): the end of
        # a huge output, where build errors and test summaries usually are.
        self.stdout_tail = stdout_tail
        self.stderr_tail = stderr_tail

    @property
    def stdout_bytes(self) -> bytes:
        return self.stdout.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class PartialOutput:
    """What a command had sent when the link dropped (``ConnectionLost.partial``),
    per stream: the kept head, how many bytes were dropped past it, and the
    end of the dropped ones. A resumer continues at ``len(head) + dropped``."""

    stdout: bytes
    stderr: bytes
    stdout_dropped: int
    stderr_dropped: int
    stdout_tail: bytes
    stderr_tail: bytes
    dropped_lines: int = 0  # both streams

    @property
    def stdout_count(self) -> int:
        return len(self.stdout) + self.stdout_dropped

    @property
    def stderr_count(self) -> int:
        return len(self.stderr) + self.stderr_dropped


def partial_output(out: StreamCapture, err: StreamCapture) -> PartialOutput:
    return PartialOutput(
        bytes(out.kept),
        bytes(err.kept),
        out.dropped_bytes,
        err.dropped_bytes,
        out.dropped_tail,
        err.dropped_tail,
        out.dropped_lines + err.dropped_lines,
    )


def command_timed_out(result: Result, timeout: float | None, *, stopped: bool) -> CommandTimedOut:
    """invoke's CommandTimedOut, saying whether the remote confirmed that the
    command was stopped (then the link answered: the command was just slow)."""
    exc = CommandTimedOut(result, timeout=int(timeout or 0))
    exc.stopped = stopped  # type: ignore[attr-defined]
    return exc
