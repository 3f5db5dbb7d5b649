"""The worker shells: a few persistent shells for stateless operations."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke.exceptions import CommandTimedOut

from ..connection import HostConnection
from ..errors import ConnectionLost, SessionError
from ..templates import render
from .channel import STOP_GRACE_S, ShellChannel
from .result import ShellResult

__all__ = ["ChannelPool"]


def _start_quietly(shell: ShellChannel) -> None:
    try:
        shell.start()
    except ConnectionLost:
        pass  # the next command on this shell starts it again, or reports why


class ChannelPool:
    """A few worker shells for stateless operations, so parallel tool calls
    run in parallel and never wait behind (or disturb) the Bash shell.

    Channels are created lazily up to ``size``; ``run()`` borrows one.
    """

    def __init__(self, conn: HostConnection, size: int = 3) -> None:
        self.conn = conn
        self.size = size
        self._idle: queue.LifoQueue[ShellChannel] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        self._all: list[ShellChannel] = []
        self._stopper: ShellChannel | None = None  # a shell of its own for stopping
        self._stop_lock = threading.Lock()

    @contextmanager
    def channel(self) -> Iterator[ShellChannel]:
        shell = self._acquire()
        try:
            yield shell
        finally:
            self._idle.put(shell)

    def _acquire(self) -> ShellChannel:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self.size:
                self._created += 1
                shell = ShellChannel(self.conn, subshell=True)
                shell.stopper = self.stop
                self._all.append(shell)
                return shell
        return self._idle.get()

    def warm(self, count: int | None = None) -> None:
        """Start ``count`` channels now (at connect time, off the critical path)."""
        shells = [self._acquire() for _ in range(count or self.size)]
        try:
            for shell in shells:
                if not shell.alive:
                    shell.start()
        finally:
            for shell in shells:
                self._idle.put(shell)

    def open_all(self, command: str, **kwargs: Any) -> ShellResult:
        """Start every worker shell at once and run ``command`` (the probe) on
        the first: the channel opens go out together, so connecting costs
        one round trip for all of them plus one for the command."""
        shells = [self._acquire() for _ in range(self.size)]
        try:
            others = [
                threading.Thread(target=_start_quietly, args=(shell,), daemon=True)
                for shell in shells[1:]
                if not shell.alive
            ]
            for thread in others:
                thread.start()
            try:
                return shells[0].run(command, **kwargs)
            finally:
                for thread in others:
                    thread.join()
        finally:
            for shell in shells:
                self._idle.put(shell)

    def run(self, command: str, **kwargs: Any) -> ShellResult:
        with self.channel() as shell:
            return shell.run(command, **kwargs)

    def stop(self, pid: int) -> bool:
        """Stop a worker command (its process tree) from a shell of its own.

        True when the remote confirmed: the link answers, the command was
        merely slow. False when the stop could not be run (the link is down).
        """
        with self._stop_lock:
            if self._stopper is None:
                self._stopper = ShellChannel(self.conn, subshell=True)
            try:
                result = self._stopper.run(
                    render("worker_kill.sh.j2", pid=pid), warn=True, timeout=STOP_GRACE_S
                )
            except (SessionError, CommandTimedOut):
                self._stopper.close()
                return False
            return result.stdout.strip() in ("stopped", "gone")

    def close(self) -> None:
        for shell in self._all:
            shell.close()
        if self._stopper is not None:
            self._stopper.close()
