"""One SSH connection per host: Fabric ``Connection`` made safe and observable.

Fabric accepts any host key by default and loads no known_hosts; remote-mcp
must not. This module builds the Connection (and its ProxyJump hops) from a
resolved `SshTarget` (config.yaml merged with ~/.ssh/config), checks every
host key against known_hosts as OpenSSH does (``accept-new`` only on request),
turns compression and keepalives on, counts bytes on the wire, and translates
paramiko/socket failures into one-line ``remote_mcp.errors`` -- the one
boundary where library exceptions are mapped.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shlex
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fabric
import paramiko

from .config import HostConfig
from .errors import (
    AuthError,
    ConnectError,
    ConnectionLost,
    HostKeyError,
    RemoteMCPError,
    reason,
)
from .known_hosts import check_host_key, host_name, known_key_types
from .ssh_keys import auth_failure, check_keys, load_private_key
from .ssh_transport import EarlyChannelFailed, Transport
from .target import SshTarget, resolve_target

__all__ = ["HostConnection", "TransferStats", "fingerprint", "tcp_connect"]

log = logging.getLogger("remote_mcp.connection")

# Big windows matter on long fat links (measured: 17 -> 99 MiB/s at 100 ms RTT).
WINDOW_SIZE = 16 << 20


@dataclass
class PhaseClock:
    """Where a command's time goes, summed over commands (the benchmark reads
    it): writing it to the channel, waiting for its framed end, and the remote
    wall time its frame reports (bash only). ``first_send`` and ``last_done``
    (perf_counter) bound the remote part of a call; the rest is local work."""

    write_s: float = 0.0
    wait_s: float = 0.0
    remote_s: float = 0.0
    remote_known: int = 0
    first_send: float | None = None
    last_done: float | None = None

    def add(self, sending: float, sent: float, done: float, remote_s: float | None) -> None:
        self.write_s += sent - sending
        self.wait_s += done - sent
        if remote_s is not None:
            self.remote_s += remote_s
            self.remote_known += 1
        if self.first_send is None:
            self.first_send = sending
        self.last_done = done


@dataclass
class TransferStats:
    """Counters the tests and benchmarks read: commands run and bytes on the wire."""

    commands: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    phases: PhaseClock = field(default_factory=PhaseClock)
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


class _Client(paramiko.SSHClient):
    """paramiko's client, with key files parsed once per process
    (ssh_keys.load_private_key) instead of at every connect. paramiko asks for
    each file as RSA, then ECDSA, then Ed25519 and moves on at an
    SSHException; a key of another type answers that way here too."""

    def _key_from_filepath(self, filename: str, klass: type, password: Any) -> paramiko.PKey:
        if password is not None:  # a passphrase to try: paramiko's own way
            parent = super()._key_from_filepath  # type: ignore[misc]  # not in the stubs
            key: paramiko.PKey = parent(filename, klass, password)
            return key
        try:
            key = load_private_key(filename)
        except (TypeError, ValueError) as exc:  # an encrypted OpenSSH-format key
            raise paramiko.SSHException(str(exc)) from None
        if not isinstance(key, klass):
            raise paramiko.SSHException(f"{filename} is not a {klass.__name__}")
        return key


class _KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """Every host key is judged here, against our own reading of the
    known_hosts files (see remote_mcp.known_hosts); paramiko's client is given
    no host keys, so it always asks. ``accept-new`` records unknown keys in the
    first file, as OpenSSH's ``StrictHostKeyChecking=accept-new`` does."""

    def __init__(self, target: SshTarget) -> None:
        self.target = target

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        t = self.target
        name = host_name(t.hostname, t.port)
        verdict = check_host_key(t.known_hosts, name, key.get_name(), key.asbytes())
        offered = f"{key.get_name()} {fingerprint(key)}"
        if verdict.status == "ok":
            log.debug("host key of %s matches %s", name, verdict.lines[0].where)
            return
        if verdict.status == "revoked":
            raise HostKeyError(
                f"Host key of {name} ({offered}) is marked @revoked in "
                f"{verdict.lines[0].where}. Refusing to connect: ask the host's administrator "
                "for its current key."
            )
        if verdict.status == "changed":
            stale = verdict.lines[0]
            places = ", ".join(entry.where for entry in verdict.lines)
            raise HostKeyError(
                f"HOST KEY CHANGED for {t.user}@{t.address}: {places} holds a different key "
                f"than the server's {offered}. This may be a man-in-the-middle attack, or the "
                "host was reinstalled. Refusing to connect. If the change is expected, remove "
                f"the old key with `ssh-keygen -f {stale.path} -R {shlex.quote(name)}` and "
                "connect again."
            )
        store = t.known_hosts[0]
        line = f"{name} {key.get_name()} {key.get_base64()}"
        if t.host_key_policy == "accept-new":
            store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(store, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line + "\n")
            log.info("recorded the host key of %s in %s (accept-new)", name, store)
            return
        port_flag = "" if t.port == 22 else f"-p {t.port} "
        raise HostKeyError(
            f"Host key for {name} is not in known_hosts ({offered}). Verify the fingerprint "
            f"with the host's administrator, then add it with `ssh-keyscan {port_flag}-t "
            f"{key.get_name()} {t.hostname} >> {store}` or append this line to {store}: "
            f"{line} (or set host_key_policy: accept-new for this host in the remote-mcp "
            "config, or StrictHostKeyChecking accept-new in ~/.ssh/config)."
        )


def _transport_factory(target: SshTarget, early_sessions: int) -> Callable[..., Transport]:
    """Prefer the host key types known_hosts already holds, as ssh does, so a
    server with several keys offers the one we can check; and an AEAD cipher.
    ``early_sessions`` session channels are opened behind the authentication
    request (see `remote_mcp.ssh_transport`)."""
    known = known_key_types(target.known_hosts, host_name(target.hostname, target.port))

    def make(sock: Any, disabled_algorithms: Any = None) -> Transport:
        transport = Transport(sock, disabled_algorithms=disabled_algorithms)
        transport.early_sessions = early_sessions
        if early_sessions:
            transport.early_session_window = WINDOW_SIZE
            transport.early_session_timeout = target.connect_timeout_s
        options = transport.get_security_options()
        wanted: list[str] = []
        for key_type in known:
            wanted += (
                ["rsa-sha2-512", "rsa-sha2-256", key_type] if key_type == "ssh-rsa" else [key_type]
            )
        first = [k for k in wanted if k in options.key_types]
        options.key_types = tuple(first + [k for k in options.key_types if k not in first])
        # AES-GCM first, as OpenSSH orders it: its tag is checked in C, where
        # CTR + HMAC compares every packet's MAC byte by byte in Python.
        aead = [c for c in options.ciphers if c.endswith("-gcm@openssh.com")]
        options.ciphers = tuple(aead + [c for c in options.ciphers if c not in aead])
        return transport

    return make


class HostConnection:
    """The Fabric ``Connection`` for one configured host, opened on demand.

    Thread-safe: ``open()`` may race with tool calls; the lock makes the
    first caller connect and the others wait for it.
    """

    def __init__(self, host: HostConfig, early_channels: int = 0) -> None:
        """``early_channels``: session channels the owner opens as soon as it
        connects; sent behind the authentication request, they cost no round
        trip of their own."""
        self.host = host
        self.stats = TransferStats()
        self._lock = threading.Lock()
        self.connection: fabric.Connection | None = None
        # Bumped at every open: a thread that saw generation N fail closes only
        # N, never the connection a sibling thread has just reopened.
        self.generation = 0
        self.early_channels = early_channels

    # -- building -------------------------------------------------------
    def target(self) -> SshTarget:
        """config.yaml merged with ssh_config (re-read each time: users edit it)."""
        return resolve_target(self.host)

    def build(self, target: SshTarget | None = None) -> fabric.Connection:
        """A fresh, unopened Connection (with its jump hosts) for the target."""
        target = target or self.target()
        gateway: fabric.Connection | None = None
        for hop in target.jumps:
            gateway = _fabric_connection(hop, gateway, early_sessions=0)
        return _fabric_connection(target, gateway, early_sessions=self.early_channels)

    @property
    def destination(self) -> str:
        """``user@hostname`` after ssh_config resolution (for messages)."""
        try:
            return self.target().destination
        except RemoteMCPError:
            return f"{self.host.user or '?'}@{self.host.hostname}"

    # -- lifecycle --------------------------------------------------------
    def open(self) -> fabric.Connection:
        with self._lock:
            if self.connection is not None and self.is_alive():
                return self.connection
            self._close_locked()
            target = self.target()
            conn = self.build(target)
            if not conn.gateway:
                conn.connect_kwargs["sock"] = self._socket(target)
            try:
                conn.open()
            except BaseException as exc:
                _close_quietly(conn)
                raise translate(exc, target) from exc
            assert conn.transport is not None
            conn.transport.set_keepalive(max(1, int(target.keepalive_s)))
            conn.transport.default_window_size = WINDOW_SIZE
            self.generation += 1  # first: a live connection never shows the old number
            self.connection = conn
            return conn

    def _socket(self, target: SshTarget) -> CountingSocket:
        sock = tcp_connect(target)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        # Every command is a small packet someone waits for: Nagle would hold
        # one back until the previous is acknowledged (OpenSSH sets this too).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            # Unacknowledged data for this long means the link is dead; the
            # kernel default is ~15 minutes of retransmissions.
            dead_after = max(10.0, target.keepalive_s * target.keepalive_count)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(dead_after * 1000))
        return CountingSocket(sock, self.stats)

    def is_alive(self) -> bool:
        conn = self.connection
        return bool(conn is not None and conn.transport is not None and conn.transport.is_active())

    def transport(self) -> paramiko.Transport:
        conn = self.open()
        transport: paramiko.Transport | None = conn.transport
        assert transport is not None
        return transport

    def open_channel(self) -> paramiko.Channel:
        """A new session channel with a large window: the one opened during
        authentication if it is still there, else one round trip."""
        try:
            transport = self.transport()
            if isinstance(transport, Transport):
                try:
                    early = transport.take_early_channel()
                except EarlyChannelFailed as exc:
                    log.debug("opening a session channel again: %s", exc)
                else:
                    if early is not None:
                        return early
            return transport.open_session(window_size=WINDOW_SIZE)
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
        except Exception:  # closing a broken link may fail any way
            pass
        conn = conn.gateway if isinstance(conn.gateway, fabric.Connection) else None


def tcp_connect(target: SshTarget) -> socket.socket:
    """The TCP connection, failing with one line that names the cause and the fix."""
    where = target.address
    try:
        infos = socket.getaddrinfo(target.hostname, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError(
            f"cannot resolve host name {target.hostname!r} ({exc.strerror}): check the "
            "hostname (or HostName in ~/.ssh/config) and DNS."
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.settimeout(target.connect_timeout_s)
    try:
        sock.connect(address)
    except TimeoutError:
        sock.close()
        raise ConnectError(
            f"no answer from {where} within {target.connect_timeout_s:g} s: the host is down "
            "or a firewall drops the connection (raise connect_timeout_s if the link is slow)."
        ) from None
    except ConnectionRefusedError:
        sock.close()
        raise ConnectError(
            f"{where} refused the connection: no SSH server listens on port {target.port} "
            "there. Check the port (port / Port in ~/.ssh/config) and that sshd runs."
        ) from None
    except OSError as exc:
        sock.close()
        raise ConnectError(f"cannot reach {where}: {exc.strerror or exc}.") from None
    return sock


def _fabric_connection(
    target: SshTarget, gateway: fabric.Connection | None, early_sessions: int
) -> fabric.Connection:
    """A Connection with every setting explicit: fabric's own ssh_config
    handling is switched off (an empty SSHConfig), since target.py did it.
    Jump hosts (``early_sessions`` 0) open forwarding channels only."""
    check_keys(target)
    timeout = target.connect_timeout_s
    connect_kwargs: dict[str, Any] = {
        "compress": target.compression,
        "look_for_keys": not target.identities_only,
        "allow_agent": True,
        "banner_timeout": timeout,
        "auth_timeout": timeout,
        # Key exchange gets a little longer than the banner wait, so a silent
        # server fails with the banner error, not a vague "No existing session".
        "timeout": timeout + 0.5,
        "transport_factory": _transport_factory(target, early_sessions),
    }
    keys = [k for k in target.identity_files if os.path.isfile(k)]
    if keys:
        connect_kwargs["key_filename"] = keys
    conn = fabric.Connection(
        target.hostname,
        user=target.user,
        port=target.port,
        config=fabric.Config(ssh_config=paramiko.SSHConfig()),
        connect_kwargs=connect_kwargs,
        gateway=gateway if gateway is not None else False,
    )
    conn.client = _Client()
    conn.client.set_missing_host_key_policy(_KnownHostsPolicy(target))
    return conn


def translate(exc: BaseException, target: SshTarget) -> BaseException:
    """Map paramiko/socket errors from connecting to one line with the fix."""
    where = f"{target.user}@{target.address}"
    via = f" (via ProxyJump {', '.join(h.alias for h in target.jumps)})" if target.jumps else ""
    if isinstance(exc, RemoteMCPError):
        return exc
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthError(auth_failure(target, where + via))
    if isinstance(exc, paramiko.ChannelException):
        return ConnectError(
            f"the jump host could not open a connection to {target.address}{via} "
            f"({exc.text or exc}): check the target's hostname and port as seen from there."
        )
    if isinstance(exc, paramiko.SSHException) and "banner" in str(exc).lower():
        return ConnectError(
            f"{target.address}{via} accepted the connection but sent no SSH banner within "
            f"{target.connect_timeout_s:g} s: is this port an SSH server (and not e.g. a web "
            "server or a stalled proxy)?"
        )
    if isinstance(exc, paramiko.SSHException) and "no existing session" in str(exc).lower():
        return ConnectError(
            f"{target.address}{via} did not complete the SSH handshake within "
            f"{target.connect_timeout_s:g} s (connect_timeout_s): the link or the server is "
            "too slow, or this is not an SSH server."
        )
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot resolve a host name{via}: {exc.strerror}.")
    if isinstance(exc, socket.timeout | TimeoutError):
        return ConnectError(
            f"timed out connecting to {where}{via} after {target.connect_timeout_s:g} s."
        )
    if isinstance(exc, OSError):
        return ConnectError(f"cannot connect to {where}{via}: {exc.strerror or exc}.")
    if isinstance(exc, paramiko.SSHException | EOFError):
        detail = str(exc) or type(exc).__name__
        return ConnectError(f"SSH handshake with {where}{via} failed: {detail.rstrip('.')}.")
    return exc
