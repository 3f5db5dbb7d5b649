"""`remote_exec`, an independent channel to check remote state, and `wait_until`.

Nothing here imports other remote_mcp modules but its siblings in
`remote_mcp.testing`.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Callable

import paramiko

from remote_mcp.testing.sshd import SshdServer


def _transport_for(server: SshdServer, fresh: bool = False) -> paramiko.Transport:
    with server._lock:
        client = server._client
        transport = client.get_transport() if client is not None else None
        if not fresh and transport is not None and transport.is_active():
            return transport
        if client is not None:
            client.close()
        client = paramiko.SSHClient()
        # Strict on purpose: the verifier must not share the product's trust mistakes.
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.load_system_host_keys(str(server.known_hosts))
        client.connect(
            server.host,
            port=server.port,
            username=server.user,
            key_filename=str(server.client_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        server._client = client
        transport = client.get_transport()
        if transport is None:  # pragma: no cover - connect() succeeded, so it is set
            raise paramiko.SSHException("no transport after connect()")
        return transport


def remote_exec(
    server: SshdServer,
    command: str,
    timeout: float = 30,
    *,
    input: bytes | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``command`` on ``server`` and return ``(exit_status, stdout, stderr)``.

    Uses raw paramiko with strict host-key checking and one cached connection
    per server (reopened if it died), so tests can check remote state through a
    channel that shares no code with the product. ``input`` is fed to stdin.
    The exit status is -1 when the command died from a signal. Raises
    `TimeoutError` when the command does not finish within ``timeout`` seconds
    (the channel is closed; the remote command may run on until it notices).
    """
    deadline = time.monotonic() + timeout
    try:
        chan = _transport_for(server).open_session(timeout=timeout)
    except (paramiko.SSHException, OSError, EOFError):
        # A cached transport can die between the liveness check and its use.
        chan = _transport_for(server, fresh=True).open_session(timeout=timeout)
    with chan:
        chan.settimeout(timeout)
        # Non-UTF-8 file names arrive as surrogate escapes: send their raw bytes.
        chan.exec_command(command.encode("utf-8", "surrogateescape"))
        writer: threading.Thread | None = None
        if input is not None:
            # A thread, so a command that writes while reading cannot deadlock on the window.
            def feed() -> None:
                with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                    chan.sendall(input)
                    chan.shutdown_write()

            writer = threading.Thread(target=feed, name="remote_exec-stdin", daemon=True)
            writer.start()
        else:
            chan.shutdown_write()
        out, err = bytearray(), bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"remote_exec: {command!r} did not finish in {timeout} s")
            # fileno() is a pipe set when either stdout or stderr has data, or at EOF.
            select.select([chan], [], [], min(remaining, 1.0))
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if chan.eof_received or chan.closed:
                break
        # Data fed between the drain and the EOF check above (EOF comes after all data).
        while chan.recv_ready():
            out += chan.recv(65536)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        # OpenSSH sends EOF before exit-status; wait for the status without spinning.
        if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"remote_exec: no exit status for {command!r} in {timeout} s")
        if writer is not None:
            writer.join(max(0.0, deadline - time.monotonic()))
        return chan.exit_status, bytes(out), bytes(err)


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05
) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return
    whether it became true. Tests synchronise on what they can observe, not on
    a sleep that is too short on a loaded machine and wasted on a fast one."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
