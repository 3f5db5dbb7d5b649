"""A host session: one SSH connection, its worker pool, the Bash shell, and
what the remote offers -- plus reconnect when the link drops.

This is the runner the server hands to tool routines: ``Session.run`` has
``fabric.Connection.run``'s signature and runs on a pooled worker shell.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paramiko
from invoke.exceptions import CommandTimedOut

from .bash_shell import BashShell
from .call_gate import CALL_GATE, CallGate, call_cancel_hooks, call_stoppable
from .config import HostConfig
from .connection import WINDOW_SIZE, HostConnection, TransferStats
from .errors import (
    ConnectionLost,
    RemoteMCPError,
    RemoteTimeout,
    ShellProtocolError,
    describe,
    reason,
)
from .shell import ChannelPool, ShellChannel, ShellResult
from .templates import render

__all__ = [
    "CALL_GATE",
    "CallGate",
    "RemoteInfo",
    "Session",
    "call_cancel_hooks",
    "call_stoppable",
    "describe",
]

IDLE_SFTP_CLIENTS = 2  # kept open for the next transfers; more are opened on demand


def _enter_gate() -> None:
    gate = CALL_GATE.get()
    if gate is not None:
        gate.enter()


@dataclass(frozen=True)
class RemoteInfo:
    """Facts about the remote, probed once per connection."""

    home: str
    # Commands and flavours the tools choose by (rg, gnu_grep, python3, ...).
    has: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str) -> RemoteInfo:
        values: dict[str, str] = {}
        has: set[str] = set()
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key == "has":
                has.add(value)
            elif key:
                values[key] = value
        return cls(
            home=values.get("home", "/"),
            has=frozenset(has),
        )


class Session:
    """Everything remote-mcp keeps open for one host."""

    # run() takes ``engine=``: its worker shells keep a resident engine
    # (ShellChannel.run), which Write and Edit use when a runner says so.
    resident_engines = True

    def __init__(self, host: HostConfig, conn: HostConnection | None = None) -> None:
        """``conn``: a connection to ``host`` already opened (or being opened)
        elsewhere, which ``connect`` then uses as it is."""
        self.host = host
        # Whose background jobs are whose: each job records the id of the
        # server session that started it.
        self.owner_id = "o" + secrets.token_hex(8)
        self.conn = conn or HostConnection(host, early_channels=host.channels_at_connect)
        self.pool = ChannelPool(self.conn, host.workers)
        self.bash = BashShell(self)
        self.info: RemoteInfo | None = None
        self._lock = threading.Lock()
        self._lost: str | None = None
        self.reconnects = 0
        self._generation = 0  # the connection generation the pool belongs to
        self._idle_sftp: list[tuple[int, paramiko.SFTPClient]] = []

    def __repr__(self) -> str:  # what a fabric GroupResult shows for its keys
        return f"<Session host={self.host.name!r}>"

    @property
    def stats(self) -> TransferStats:
        """Commands run and bytes on the wire (tests and benchmarks read these)."""
        return self.conn.stats

    def connect(self) -> RemoteInfo:
        """Open (or re-open) the connection and probe the remote. Idempotent."""
        with self._lock:
            current = self.conn.generation == self._generation
            if self.info is not None and self.conn.is_alive() and current:
                return self.info
            if self.info is not None:
                self._mark_lost("the connection dropped")
            self.conn.open()
            self._generation = self.conn.generation
            # The Bash shell's channel too, where the Bash tool may run
            # (tools/guard.py's rule: the session layer cannot import it).
            bash_opener = self.bash.open_early() if self.host.bash_shell else None
            try:
                # Every worker shell starts now, in parallel with the probe,
                # which runs inside the first one's exec request.
                result = self.pool.open_all(render("probe.sh.j2"), warn=True, probe=True)
            except (ConnectionLost, ShellProtocolError):
                self.conn.close(self._generation)
                raise
            finally:
                if bash_opener is not None:
                    bash_opener.join()
            self.info = RemoteInfo.parse(result.stdout)
            return self.info

    def _mark_lost(self, why: str) -> None:
        """Forget every channel of the dead connection and remember to tell."""
        self.pool.close()
        self.pool = ChannelPool(self.conn, self.host.workers)
        self._close_idle_sftp()
        lost = "its open channels"
        if self.bash.drop():
            lost += (
                " (the Bash shell's cwd, variables and functions are restored from its last "
                "saved state)"
            )
        survived = ""
        if self.bash.detached is not None:
            survived = (
                f" The Bash command `{self.bash.detached.short()}` kept running on the remote; "
                "its output continues below."
            )
        self.reconnects += 1
        self._lost = (
            f"[WARNING] SSH connection to {self.host.name} was lost ({why}) and has been "
            f"re-established.{survived} Lost: {lost}. Background jobs keep running on the "
            "remote. A change that was in flight when the link dropped may or may not have "
            "been applied: check before repeating it."
        )

    def take_warning(self) -> str | None:
        """The reconnect warning, once: the next tool result starts with it."""
        warning, self._lost = self._lost, None
        return warning

    def run(self, command: str, **kwargs: Any) -> ShellResult:
        """Run on a pooled worker shell (``fabric.Connection.run`` compatible).

        A command that runs over ``op_timeout_s`` -- or whose call is
        cancelled -- is stopped on the remote, process tree and all. A dropped
        link raises ConnectionLost and closes only the connection generation
        this call saw fail, never one a sibling thread has just reopened.
        """
        self.connect()
        generation = self.conn.generation
        kwargs.setdefault("timeout", self.host.op_timeout_s)
        hooks = call_cancel_hooks.get()
        if hooks is not None:
            kwargs.setdefault("cancel_hooks", hooks)
        stoppable = call_stoppable.get()
        kwargs.setdefault("stoppable", stoppable)
        try:
            with self.pool.channel() as shell:  # may wait for a free worker...
                _enter_gate()  # ...during which the call may have been cancelled
                return shell.run(command, **kwargs)
        except ConnectionLost:
            self.conn.close(generation)
            raise
        except ShellProtocolError as exc:
            if self.conn.generation != generation or not self.conn.is_alive():
                self.conn.close(generation)
                raise ConnectionLost(f"connection to {self.host.name} lost: {reason(exc)}") from exc
            raise
        except CommandTimedOut as exc:
            limit = kwargs["timeout"]
            if getattr(exc, "stopped", False):
                raise RemoteTimeout(
                    f"The remote command ran longer than op_timeout_s ({limit:g} s) on "
                    f"{self.host.name} and was stopped there (the link is fine; a read-only "
                    "tool changed nothing). Ask for less (a narrower path or pattern, "
                    "offset/limit), or raise op_timeout_s in the config."
                ) from exc
            if not stoppable:
                raise RemoteTimeout(
                    f"{self.host.name} did not answer within {limit:g} s (op_timeout_s). The "
                    "link may be down or the remote overloaded; the change in flight was left "
                    "to finish, so it may or may not have been applied: check before repeating "
                    "it, or raise op_timeout_s in the config."
                ) from exc
            self.conn.close(generation)  # it could not even be stopped: the link is gone
            raise RemoteTimeout(
                f"{self.host.name} did not answer within {limit:g} s (op_timeout_s), not even "
                "to stop the command: the link looks down, and the connection will be "
                "re-established on the next call. A read-only tool changed nothing; try again."
            ) from exc

    @contextmanager
    def sftp_client(self) -> Iterator[paramiko.SFTPClient]:
        """An SFTP client for one transfer, on a channel of its own.

        paramiko's SFTPClient is not safe to share between threads (parallel
        transfers deadlock or read each other's packets), so each transfer
        borrows one; a few idle ones are kept, since opening costs ~3 round
        trips. A transfer that stalls for ``op_timeout_s`` or loses its link
        raises ConnectionLost (the next call reconnects and warns); genuine
        SFTP errors (permission denied, no such file) pass through.
        """
        self.connect()
        _enter_gate()
        generation = self.conn.generation
        client = self._take_sftp(generation)
        healthy = False
        try:
            yield client
            healthy = True
        except RemoteMCPError:
            healthy = True  # the tool refused something; the client is fine
            raise
        except (EOFError, paramiko.SSHException, OSError) as exc:
            channel = client.get_channel()
            broken = (
                isinstance(exc, EOFError | paramiko.SSHException | TimeoutError)
                or channel is None
                or channel.closed
                or not self.conn.is_alive()
            )
            if not broken:
                healthy = True  # an SFTP status error: the client is fine
                raise
            self.conn.close(generation)
            raise ConnectionLost(
                f"the SFTP transfer with {self.host.name} broke off: {reason(exc)}"
            ) from exc
        finally:
            self._give_back_sftp(generation, client, healthy)

    def _take_sftp(self, generation: int) -> paramiko.SFTPClient:
        with self._lock:
            while self._idle_sftp:
                gen, client = self._idle_sftp.pop()
                channel = client.get_channel()
                if gen == generation and channel is not None and not channel.closed:
                    return client
                client.close()
        try:
            opened = paramiko.SFTPClient.from_transport(
                self.conn.transport(), window_size=WINDOW_SIZE
            )
        except (EOFError, paramiko.SSHException, OSError) as exc:
            self.conn.close(generation)
            raise ConnectionLost(
                f"cannot open an SFTP channel to {self.host.name}: {reason(exc)}"
            ) from exc
        assert opened is not None
        client = opened
        channel = client.get_channel()
        assert channel is not None
        channel.settimeout(self.host.op_timeout_s)
        return client

    def _give_back_sftp(self, generation: int, client: paramiko.SFTPClient, healthy: bool) -> None:
        with self._lock:
            keep = healthy and generation == self.conn.generation
            if keep and len(self._idle_sftp) < IDLE_SFTP_CLIENTS:
                self._idle_sftp.append((generation, client))
                return
        client.close()

    def _close_idle_sftp(self) -> None:
        idle, self._idle_sftp = self._idle_sftp, []
        for _, client in idle:
            client.close()

    def bash_shell(self) -> ShellChannel:
        """The channel of the Bash tool's long-lived shell (``self.bash``)."""
        _enter_gate()
        return self.bash.shell_channel()

    def close(self) -> None:
        # Before the pool closes: the shutdown runs on a worker (bounded, no reconnect).
        self.bash.close(kill_jobs=self.host.jobs_on_exit == "kill")
        with self._lock:
            self.pool.close()
            self._close_idle_sftp()
            self.conn.close()
