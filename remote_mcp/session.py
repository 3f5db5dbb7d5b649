"""A host session: one SSH connection, its worker pool, the Bash shell, and
what the remote offers -- plus reconnect when the link drops.

This is the runner the server hands to tool routines: ``Session.run`` has
``fabric.Connection.run``'s signature and runs on a pooled worker shell.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import paramiko
from invoke.exceptions import CommandTimedOut

from .bash_shell import BashShell
from .call_gate import CALL_GATE, CallGate
from .config import HostConfig
from .connection import WINDOW_SIZE, HostConnection, TransferStats
from .errors import ConnectionLost, RemoteTimeout, ShellProtocolError, describe
from .shell import ChannelPool, ShellChannel, ShellResult
from .templates import render

__all__ = ["CALL_GATE", "CallGate", "RemoteInfo", "Session", "describe"]


def _enter_gate() -> None:
    gate = CALL_GATE.get()
    if gate is not None:
        gate.enter()


@dataclass(frozen=True)
class RemoteInfo:
    """Facts about the remote, probed once per connection."""

    home: str
    user: str
    uname: str = ""
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
            user=values.get("user", ""),
            uname=values.get("uname", ""),
            has=frozenset(has),
        )


class Session:
    """Everything remote-mcp keeps open for one host."""

    def __init__(self, host: HostConfig) -> None:
        self.host = host
        # Whose background jobs are whose: each job records the id of the
        # server session that started it.
        self.owner_id = "o" + secrets.token_hex(8)
        self.conn = HostConnection(host)
        self.pool = ChannelPool(self.conn, host.workers)
        self.bash = BashShell(self)
        self.info: RemoteInfo | None = None
        self._lock = threading.Lock()
        self._lost: str | None = None
        self.reconnects = 0
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def stats(self) -> TransferStats:
        """Commands run and bytes on the wire (tests and benchmarks read these)."""
        return self.conn.stats

    def connect(self) -> RemoteInfo:
        """Open (or re-open) the connection and probe the remote. Idempotent."""
        with self._lock:
            if self.info is not None and self.conn.is_alive():
                return self.info
            if self.info is not None:
                self._mark_lost("the connection dropped")
            self.conn.open()
            try:
                # Every worker shell starts now, in parallel with the probe.
                result = self.pool.open_all(render("probe.sh.j2"), warn=True)
            except (ConnectionLost, ShellProtocolError):
                self.conn.close()
                raise
            self.info = RemoteInfo.parse(result.stdout)
            return self.info

    def _mark_lost(self, why: str) -> None:
        """Forget every channel of the dead connection and remember to tell."""
        self.pool.close()
        self.pool = ChannelPool(self.conn, self.host.workers)
        self._sftp = None
        lost = "its open channels"
        if self.bash.drop():
            lost += (
                " and the output of a foreground Bash command, if one was running (the Bash "
                "shell's cwd, variables and functions are restored from its last saved state)"
            )
        self.reconnects += 1
        self._lost = (
            f"[WARNING] SSH connection to {self.host.name} was lost ({why}) and has been "
            f"re-established. Lost: {lost}. Background jobs keep running on the remote. A "
            "change that was in flight when the link dropped may or may not have been "
            "applied: check before repeating it."
        )

    def take_warning(self) -> str | None:
        """The reconnect warning, once: the next tool result starts with it."""
        warning, self._lost = self._lost, None
        return warning

    def run(self, command: str, **kwargs: Any) -> ShellResult:
        """Run on a pooled worker shell (``fabric.Connection.run`` compatible)."""
        self.connect()
        kwargs.setdefault("timeout", self.host.op_timeout_s)
        try:
            with self.pool.channel() as shell:  # may wait for a free worker...
                _enter_gate()  # ...during which the call may have been cancelled
                return shell.run(command, **kwargs)
        except ConnectionLost:
            self.conn.close()
            raise
        except CommandTimedOut as exc:
            raise RemoteTimeout(
                f"{self.host.name} did not answer within {kwargs['timeout']:g} s "
                "(op_timeout_s). The link may be down or the remote overloaded; a read-only "
                "tool changed nothing. Try again, or raise op_timeout_s in the config."
            ) from exc

    def sftp(self) -> paramiko.SFTPClient:
        """A cached SFTP client (Upload/Download); opening one costs ~3 round trips."""
        self.connect()
        _enter_gate()
        with self._lock:
            channel = self._sftp.get_channel() if self._sftp is not None else None
            if self._sftp is None or channel is None or channel.closed:
                self._sftp = paramiko.SFTPClient.from_transport(
                    self.conn.transport(), window_size=WINDOW_SIZE
                )
                assert self._sftp is not None
            return self._sftp

    def bash_shell(self) -> ShellChannel:
        """The channel of the Bash tool's long-lived shell (``self.bash``)."""
        _enter_gate()
        return self.bash.shell_channel()

    def close(self) -> None:
        # Before the pool closes: the shutdown runs on a worker (bounded, no reconnect).
        self.bash.close(kill_jobs=self.host.jobs_on_exit == "kill")
        with self._lock:
            self.pool.close()
            if self._sftp is not None:
                self._sftp.close()
                self._sftp = None
            self.conn.close()
