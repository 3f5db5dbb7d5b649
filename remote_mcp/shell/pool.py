"""The worker shells: a few persistent shells for stateless operations."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke.exceptions import CommandTimedOut

from ..connection import HostConnection
from ..errors import ConnectionLost, SessionError
from ..host_settings import START_WORKERS
from ..templates import render
from .channel import STOP_GRACE_S, ShellChannel
from .result import ShellResult

__all__ = ["IDLE_S", "START_WORKERS", "ChannelPool"]

log = logging.getLogger(__name__)

IDLE_S = 60.0  # a shell beyond START_WORKERS unused this long is closed


def _start_quietly(shell: ShellChannel) -> None:
    try:
        shell.start()
    except ConnectionLost:
        pass  # the next command on this shell starts it again, or reports why


class ChannelPool:
    """Worker shells for stateless operations, so parallel tool calls run in
    parallel and never wait behind (or disturb) the Bash shell.

    ``start`` shells open at connect time (``open_all``); when a call finds
    none idle, it waits, and one more opens in the background for each
    waiting call -- up to ``size``, the host's ``workers`` -- while the call
    takes whichever is free first, a returning shell or a new one: growing
    never makes a call wait longer than it would have. While calls wait, a
    new call queues behind them rather than take a shell opened for them.
    Shells beyond ``start`` close after ``idle_s`` unused. A server that
    refuses another channel (sshd's MaxSessions) stops the growth where it is.
    """

    def __init__(
        self,
        conn: HostConnection,
        size: int = 3,
        start: int = START_WORKERS,
        idle_s: float = IDLE_S,
    ) -> None:
        self.conn = conn
        self.size = size
        self.start = min(start, size)
        self.idle_s = idle_s
        self._idle: queue.LifoQueue[ShellChannel] = queue.LifoQueue()
        self._created = 0  # shells made, including those still opening
        self._opening = 0  # shells beyond start still opening
        self._waiting = 0  # calls waiting for a shell
        self._limit = size  # lowered when the server refuses a channel
        self._lock = threading.Lock()
        self._all: list[ShellChannel] = []
        self._last_used: dict[ShellChannel, float] = {}
        self._sweeper: threading.Timer | None = None
        self._closed = False
        self._stopper: ShellChannel | None = None  # a shell of its own for stopping
        self._stop_lock = threading.Lock()
        self.refusal: str | None = None  # why the pool last stopped growing

    @property
    def open_count(self) -> int:
        """Shells made and not closed (some may still be opening)."""
        return self._created

    @contextmanager
    def channel(self) -> Iterator[ShellChannel]:
        shell = self._acquire()
        try:
            yield shell
        finally:
            self._release(shell)

    def _release(self, shell: ShellChannel) -> None:
        self._last_used[shell] = time.monotonic()
        self._idle.put(shell)

    def _new_shell(self) -> ShellChannel:
        shell = ShellChannel(self.conn, subshell=True)
        shell.stopper = self.stop
        self._all.append(shell)
        return shell

    def _acquire(self) -> ShellChannel:
        with self._lock:
            # An idle shell goes to a newcomer only when nobody waits: a shell
            # opened for a waiting call must not be taken by a later one,
            # which would leave the waiting call without the shell it grew.
            if not self._waiting:
                try:
                    return self._idle.get_nowait()
                except queue.Empty:
                    pass
            if self._created < self.start:  # the base shells: opened by their first command
                self._created += 1
                return self._new_shell()
            self._waiting += 1
            # One shell on its way per waiting call, up to the limit.
            grow = (
                not self._closed and self._created < self._limit and self._opening < self._waiting
            )
            if grow:
                self._created += 1
                self._opening += 1
                extra = self._new_shell()
        if grow:
            threading.Thread(target=self._open_extra, args=(extra,), daemon=True).start()
        try:
            return self._idle.get()
        finally:
            with self._lock:
                self._waiting -= 1

    def _open_extra(self, shell: ShellChannel) -> None:
        """Open a shell beyond ``start`` for the calls now waiting; a refusal caps the pool."""
        try:
            shell.start()
        except Exception as exc:  # refused (MaxSessions) or the link is down: stop growing
            self.refusal = str(exc) or type(exc).__name__
            log.warning(
                "worker shells on %s stop at %d: %s",
                self.conn.host.name,
                self._created - 1,
                self.refusal,
            )
            with self._lock:
                self._created -= 1
                self._limit = max(self.start, self._created)
                self._all.remove(shell)
            shell.close()
            return
        finally:
            with self._lock:
                self._opening -= 1
        if self._closed:  # the session closed the pool while this one was opening
            shell.close()
            return
        self._release(shell)
        self._arm_sweeper()

    def _arm_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is None and not self._closed:
                self._sweeper = threading.Timer(self.idle_s, self._sweep)
                self._sweeper.daemon = True
                self._sweeper.start()

    def _sweep(self) -> None:
        """Close the shells beyond ``start`` left unused for ``idle_s``."""
        with self._lock:
            self._sweeper = None
        held: list[ShellChannel] = []
        while True:
            try:
                held.append(self._idle.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        keep: list[ShellChannel] = []
        for shell in held:  # most recently used first: the extras are at the end
            stale = now - self._last_used.get(shell, now) >= self.idle_s
            with self._lock:
                surplus = self._created > self.start
                if stale and surplus:
                    self._created -= 1
                    self._all.remove(shell)
                    self._last_used.pop(shell, None)
            if stale and surplus:
                shell.close()
            else:
                keep.append(shell)
        for shell in reversed(keep):  # back in the same LIFO order
            self._idle.put(shell)
        if self._created > self.start:
            self._arm_sweeper()

    def warm(self, count: int | None = None) -> None:
        """Start ``count`` channels now (at connect time, off the critical path)."""
        shells = [self._acquire() for _ in range(min(count or self.start, self.start))]
        try:
            for shell in shells:
                if not shell.alive:
                    shell.start()
        finally:
            for shell in shells:
                self._release(shell)

    def open_all(self, command: str, **kwargs: Any) -> ShellResult:
        """Start every worker shell at once and run ``command`` (the probe) on
        the first: the channel opens go out together, so connecting costs
        one round trip for all of them plus one for the command."""
        shells = [self._acquire() for _ in range(self.start)]
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
                self._release(shell)

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
        with self._lock:
            self._closed = True
            if self._sweeper is not None:
                self._sweeper.cancel()
        for shell in list(self._all):
            shell.close()
        if self._stopper is not None:
            self._stopper.close()
