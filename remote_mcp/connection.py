"""One SSH connection per host: Fabric ``Connection`` made safe and observable.

Fabric accepts any host key by default and loads no known_hosts; remote-mcp
must not. This module applies the host's config on top of ``~/.ssh/config``
(which Fabric already reads), makes host-key checking strict (``accept-new``
only on request), turns compression and keepalives on, counts bytes on the
wire, and translates paramiko/socket failures into ``remote_mcp.errors`` -- the
one boundary where library exceptions are mapped.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fabric
import paramiko

from .config import HostConfig
from .errors import ConnectError, ConnectionLost, HostKeyError, reason

__all__ = ["HostConnection", "TransferStats", "fingerprint"]

# Big windows matter on long fat links (see stack-notes: 17 -> 99 MiB/s at 100 ms).
WINDOW_SIZE = 16 << 20


@dataclass
class TransferStats:
    """Counters the tests and benchmarks read: commands run and bytes on the wire."""

    commands: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_command(self) -> None:
        with self._lock:
            self.commands += 1

    def snapshot(self) -> tuple[int, int, int]:
        with self._lock:
            return self.commands, self.bytes_sent, self.bytes_received


class CountingSocket:
    """A socket wrapper counting raw bytes (kex included), unlike paramiko's
    packetizer counters, which reset on every rekey."""

    def __init__(self, sock: socket.socket, stats: TransferStats) -> None:
        self._sock = sock
        self._stats = stats

    def send(self, data: bytes, *args: Any) -> int:
        n = self._sock.send(data, *args)
        self._stats.bytes_sent += n
        return n

    def sendall(self, data: bytes, *args: Any) -> None:
        self._sock.sendall(data, *args)
        self._stats.bytes_sent += len(data)

    def recv(self, size: int, *args: Any) -> bytes:
        data = self._sock.recv(size, *args)
        self._stats.bytes_received += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(hostname: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: ``[host]:port`` unless port 22."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


class _StrictPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse unknown keys with everything the user needs to decide."""

    def __init__(self, port: int) -> None:
        self.port = port

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        # paramiko passes the known_hosts form already: "[host]:port" unless port 22.
        name = hostname
        plain = hostname[1:].rsplit("]:", 1)[0] if hostname.startswith("[") else hostname
        line = f"{name} {key.get_name()} {key.get_base64()}"
        port_flag = "" if self.port == 22 else f"-p {self.port} "
        raise HostKeyError(
            f"Host key for {name} is not in known_hosts ({key.get_name()} {fingerprint(key)}). "
            f"Verify the fingerprint with the host's administrator, then add it with "
            f"`ssh-keyscan {port_flag}-t {key.get_name()} {plain} >> ~/.ssh/known_hosts` "
            f"or append this line to ~/.ssh/known_hosts:\n{line}\n"
            "(or set host_key_policy: accept-new for this host in the remote-mcp config)"
        )


class _AcceptNewPolicy(paramiko.MissingHostKeyPolicy):
    """OpenSSH's ``StrictHostKeyChecking=accept-new``: record unknown keys, still
    refuse changed ones (paramiko raises BadHostKeyException for those)."""

    def __init__(self, port: int, known_hosts: Path) -> None:
        self.port = port
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        name = hostname  # already "[host]:port" for non-22 ports
        self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(name, key.get_name(), key)


def _known_hosts_files(conn: fabric.Connection, extra: str | None = None) -> list[Path]:
    """Where host keys are looked up; the first one is where accept-new writes."""
    files = [Path(os.path.expanduser(extra))] if extra else []
    files.append(Path(os.path.expanduser("~/.ssh/known_hosts")))
    for entry in str(conn.ssh_config.get("userknownhostsfile", "")).split():
        files.append(Path(os.path.expanduser(entry)))
    return files


def _harden(conn: fabric.Connection, policy: str, known_hosts: str | None = None) -> None:
    """Load known_hosts and set the missing-key policy on a Connection (and
    recursively on its ProxyJump gateway, which Fabric builds with AutoAdd)."""
    files = _known_hosts_files(conn, known_hosts)
    for path in files:
        if path.is_file():
            conn.client.load_host_keys(str(path))
    port = int(conn.port)
    if policy == "accept-new":
        conn.client.set_missing_host_key_policy(_AcceptNewPolicy(port, files[0]))
    else:
        conn.client.set_missing_host_key_policy(_StrictPolicy(port))
    if isinstance(conn.gateway, fabric.Connection):
        _harden(conn.gateway, policy, known_hosts)


class HostConnection:
    """The Fabric ``Connection`` for one configured host, opened on demand.

    Thread-safe: ``open()`` may race with tool calls; the lock makes the
    first caller connect and the others wait for it.
    """

    def __init__(self, host: HostConfig) -> None:
        self.host = host
        self.stats = TransferStats()
        self._lock = threading.Lock()
        self.connection: fabric.Connection | None = None
        # Bumped at every open: a thread that saw generation N fail closes only
        # N, never the connection a sibling thread has just reopened.
        self.generation = 0

    # -- building -------------------------------------------------------
    def build(self) -> fabric.Connection:
        """A fresh, unopened Connection with our settings applied."""
        h = self.host
        connect_kwargs: dict[str, Any] = {"compress": h.compression}
        if h.key_path:
            key = os.path.expanduser(h.key_path)
            if not os.path.isfile(key):
                raise ConnectError(
                    f"key_path {key} does not exist (host {h.name} in the remote-mcp config)."
                )
            connect_kwargs["key_filename"] = [key]
        conn = fabric.Connection(
            h.hostname,
            user=h.user,
            port=h.port,
            connect_timeout=h.connect_timeout_s,
            connect_kwargs=connect_kwargs,
            gateway=self._gateway(h.proxy_jump) if h.proxy_jump else None,
        )
        _harden(conn, h.host_key_policy, h.known_hosts)
        return conn

    def _gateway(self, spec: str) -> fabric.Connection:
        # ProxyJump may chain (a,b); the last hop is the nearest to the target.
        hops = [hop.strip() for hop in spec.split(",") if hop.strip()]
        gateway: fabric.Connection | None = None
        for hop in hops:
            gateway = fabric.Connection(
                hop, connect_timeout=self.host.connect_timeout_s, gateway=gateway
            )
        assert gateway is not None
        return gateway

    @property
    def destination(self) -> str:
        """``user@hostname`` after ssh_config resolution (for messages)."""
        try:
            conn = self.connection or self.build()
        except ConnectError:
            return f"{self.host.user or '?'}@{self.host.hostname}"
        return f"{conn.user}@{conn.host}"

    # -- lifecycle --------------------------------------------------------
    def open(self) -> fabric.Connection:
        with self._lock:
            if self.connection is not None and self.is_alive():
                return self.connection
            self._close_locked()
            conn = self.build()
            if not conn.gateway:
                conn.connect_kwargs["sock"] = self._socket(conn)
            try:
                conn.open()
            except BaseException as exc:
                _close_quietly(conn)
                raise translate(exc, conn) from exc
            assert conn.transport is not None
            conn.transport.set_keepalive(max(1, int(self.host.keepalive_s)))
            conn.transport.default_window_size = WINDOW_SIZE
            self.generation += 1  # first: a live connection never shows the old number
            self.connection = conn
            return conn

    def _socket(self, conn: fabric.Connection) -> CountingSocket:
        try:
            sock = socket.create_connection(
                (conn.host, int(conn.port)), timeout=self.host.connect_timeout_s
            )
        except OSError as exc:
            raise ConnectError(
                f"cannot reach {conn.host} port {conn.port}: {exc.strerror or exc}"
            ) from exc
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            # Unacknowledged data for this long means the link is dead; the
            # kernel default is ~15 minutes of retransmissions.
            timeout_ms = int(max(10.0, self.host.keepalive_s * 3) * 1000)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timeout_ms)
        return CountingSocket(sock, self.stats)

    def is_alive(self) -> bool:
        conn = self.connection
        return bool(conn is not None and conn.transport is not None and conn.transport.is_active())

    def transport(self) -> paramiko.Transport:
        conn = self.open()
        assert conn.transport is not None
        return conn.transport

    def open_channel(self) -> paramiko.Channel:
        """A new session channel (one round trip) with a large window."""
        try:
            return self.transport().open_session(window_size=WINDOW_SIZE)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectionLost(
                f"cannot open a channel to {self.host.name}: {reason(exc)}"
            ) from exc

    def close(self, generation: int | None = None) -> None:
        """Close the connection; with ``generation``, only if it is still that one."""
        with self._lock:
            if generation is None or generation == self.generation:
                self._close_locked()

    def _close_locked(self) -> None:
        if self.connection is not None:
            _close_quietly(self.connection)
            self.connection = None


def _close_quietly(conn: fabric.Connection) -> None:
    # Fabric's close() leaves a ProxyJump gateway connected: close the chain.
    while conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a broken link may fail any way
            pass
        conn = conn.gateway if isinstance(conn.gateway, fabric.Connection) else None


def translate(exc: BaseException, conn: fabric.Connection) -> BaseException:
    """Map paramiko/socket errors from connecting to our exception tree."""
    where = f"{conn.user}@{conn.host}:{conn.port}"
    if isinstance(exc, HostKeyError | ConnectError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            f"HOST KEY CHANGED for {where}: known_hosts has {fingerprint(exc.expected_key)}, "
            f"the server offered {exc.key.get_name()} {fingerprint(exc.key)}. This may be a "
            "man-in-the-middle attack, or the host was reinstalled. Refusing to connect. If "
            "the change is expected, remove the old line with "
            f"`ssh-keygen -R {known_hosts_name(conn.host, int(conn.port))}` and add the new key."
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return ConnectError(
            f"authentication failed for {where}: {reason(exc)}. Check key_path / ssh-agent "
            "and that `ssh` with the same user works."
        )
    if isinstance(exc, socket.timeout | TimeoutError):
        return ConnectError(f"timed out connecting to {where}")
    if isinstance(exc, OSError):
        return ConnectError(f"cannot connect to {where}: {exc.strerror or exc}")
    if isinstance(exc, paramiko.SSHException | EOFError):
        return ConnectError(f"SSH handshake with {where} failed: {reason(exc)}")
    return exc
