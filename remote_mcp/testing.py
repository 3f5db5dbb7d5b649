"""Test helpers for code that talks to a remote host over SSH.

Shipped with the package (like ``fabric.testing``) so that remote-mcp's own
tests and the tests of projects built on it can run against a *real* OpenSSH
server instead of a mock: mocked SSH hides exactly the bugs that matter here
(quoting, channel handling, host-key checks, slow or broken links).

What is here:

* `start_sshd` / `SshdServer`: a throwaway ``sshd`` child process on
  127.0.0.1 with its own config, host key and client key. Optionally it runs
  in a private mount namespace where one directory (``isolated_root``) is a
  tmpfs that only the SSH side can see. The remote and the local machine are
  the same box in tests, so without this a bug that touches a local file
  instead of going over SSH would pass unnoticed.
* `remote_exec`: runs a command on such a server with plain paramiko, an
  independent channel for checking remote state without the code under test.
* `LinkProxy`: a TCP proxy that adds latency and injects faults (cut, stall,
  refuse), because ``tc netem`` is not available everywhere and tests of
  reconnect logic need a link they can break on purpose.
* `free_port`.

Nothing here imports other remote_mcp modules: the helpers must stay usable
when the product code under test is broken.

.. versionadded:: 0.1
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import pwd
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import paramiko

__all__ = [
    "HostileLogin",
    "LinkProxy",
    "SshdError",
    "SshdServer",
    "free_port",
    "remote_exec",
    "start_hostile_login_sshd",
    "start_sshd",
    "wait_until",
]

SSHD = "/usr/sbin/sshd"
"""Absolute path on purpose: sshd refuses to re-exec itself from a relative one."""

_START_TIMEOUT = 10.0
_LOG_TAIL_LINES = 40


class SshdError(RuntimeError):
    """The test sshd could not be set up or started; the message has the log tail."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0), which avoids collisions with fixed
    port numbers between parallel test runs. The port is released before
    returning, so a race is possible; `start_sshd` retries on "Address
    already in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- sshd


_running: weakref.WeakSet[SshdServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    # A forgotten stop() must not leave an sshd listening after the interpreter exits.
    for server in list(_running):
        server.stop()


@dataclass(eq=False)
class SshdServer:
    """A running throwaway sshd, as returned by `start_sshd`.

    ``known_hosts`` holds exactly this server's host key line, so a client can
    check the host key strictly (``RejectPolicy``) instead of trusting any key.
    Use it as a context manager, or call `stop` (idempotent).
    """

    host: str
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_key_fingerprint: str
    isolated_root: Path | None
    process: subprocess.Popen[bytes]
    log_path: Path
    isolated: bool = False
    """True when sshd really runs in a private mount namespace over ``isolated_root``."""
    config_path: Path | None = None
    other_user: str | None = None
    """An unprivileged account that may also log in with ``client_key`` (see `start_sshd`)."""
    _keys_dir: Path | None = field(default=None, repr=False)
    _remove_root: bool = field(default=False, repr=False)
    _client: paramiko.SSHClient | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def known_hosts_line(self) -> str:
        """The ``[127.0.0.1]:PORT ssh-ed25519 AAAA...`` line, as OpenSSH writes it."""
        return self.known_hosts.read_text().strip()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last lines of sshd's log (for error messages and debugging)."""
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate sshd (kill it if it does not exit in time). Safe to call twice.

        Only the listener is stopped; sessions still open by other clients end
        when those clients disconnect (sshd does not kill them on SIGTERM).
        """
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        _running.discard(self)
        if self._keys_dir is not None:
            shutil.rmtree(self._keys_dir, ignore_errors=True)
            self._keys_dir = None
        if self._remove_root and self.isolated_root is not None:
            # start_sshd made this (empty) mountpoint; rmdir leaves it if anything is in it.
            with contextlib.suppress(OSError):
                self.isolated_root.rmdir()
            self._remove_root = False

    def __enter__(self) -> SshdServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _run(argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SshdError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        raise SshdError(f"{what} failed (rc {proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc


def _keygen(path: Path, comment: str) -> None:
    # ssh-keygen asks "Overwrite (y/n)?" for an existing file; a reused workdir must not hang.
    for p in (path, path.with_name(path.name + ".pub")):
        p.unlink(missing_ok=True)
    _run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        "ssh-keygen",
    )


def _split_extra(extra: str) -> tuple[str, str]:
    """Split extra config into (global part, Match blocks).

    sshd keeps the *first* value it reads for most keywords, so the global part
    goes before our defaults (to override them), while ``Match`` blocks must come
    last or they would swallow every line after them.
    """
    lines = extra.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower().startswith("match "):
            return "\n".join(lines[:i]), "\n".join(lines[i:])
    return extra, ""


def _write_config(workdir: Path, port: int, extra: str, keys_dir: Path | None = None) -> Path:
    head, match = _split_extra(extra)
    # sshd reads a key file as the user logging in: the other user's lives in
    # a directory that user can traverse (the workdir usually is private).
    keys = f" {keys_dir}/%u" if keys_dir is not None else ""
    config = workdir / "sshd_config"
    config.write_text(
        f"""# Written by remote_mcp.testing.start_sshd; throwaway test server.
{head}
Port {port}
ListenAddress 127.0.0.1
HostKey {workdir / "host_ed25519"}
AuthorizedKeysFile {workdir / "authorized_keys"}{keys}
PidFile {workdir / "sshd.pid"}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel VERBOSE
MaxSessions 64
MaxStartups 64
{match}
"""
    )
    return config


def _probe_isolation(root: Path) -> str | None:
    """Return None if a private tmpfs can be mounted over ``root``, else why not.

    A dry run in a throwaway namespace: cheaper and clearer than telling a
    failed mount apart from a failed sshd afterwards.
    """
    if shutil.which("unshare") is None:
        return "the unshare command is not installed"
    try:
        proc = subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount -t tmpfs -o mode=1777 tmpfs "$1"',
                "sh",
                str(root),
            ],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if proc.returncode != 0:
        return f"unshare/mount failed (rc {proc.returncode}): {proc.stderr.strip()}"
    return None


def _authorize_other_user(user: str, client_key: Path) -> Path | None:
    """Create ``user`` if needed and authorize the client key for it (root only)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(user)
    except KeyError:
        _run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/tmp",
              "--shell", "/bin/sh", user], "useradd")  # fmt: skip
    # sshd refuses a locked account ("!" password) when PAM is off; "*" only disables passwords.
    _run(["usermod", "--password", "*", user], "usermod")
    keys_dir = Path(tempfile.mkdtemp(prefix="remote-mcp-sshd-keys-"))
    keys_dir.chmod(0o755)
    key_file = keys_dir / user
    shutil.copyfile(client_key.with_name(client_key.name + ".pub"), key_file)
    key_file.chmod(0o644)
    return keys_dir


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # If the test process is SIGKILLed, take sshd down too (PR_SET_PDEATHSIG=1).
    # Survives the unshare -> sh -> sshd execs (cleared only for set-uid programs).
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 15, 0, 0, 0)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, deadline: float) -> str | None:
    """Wait until the port answers an SSH banner. Return None when ready, else why not."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"sshd exited with rc {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                if s.recv(256).startswith(b"SSH-"):
                    return None
        except OSError:
            pass
        time.sleep(0.02)
    return f"no SSH banner on 127.0.0.1:{port} within {_START_TIMEOUT:.0f} s"


def start_sshd(
    workdir: Path,
    *,
    isolated_root: Path | None = None,
    extra_config: str = "",
    detach: bool = False,
    other_user: str | None = None,
) -> SshdServer:
    """Start a throwaway OpenSSH server on 127.0.0.1 and wait until it answers.

    Keys, config, pid file and log are written to ``workdir``; sshd runs as a
    child process (never the system service) and logs to ``workdir/sshd.log``.
    The current user may log in with ``client_key`` only.

    With ``isolated_root``, sshd and every session it spawns run in a private
    mount namespace where ``isolated_root`` is an empty tmpfs: the same path
    exists locally but stays empty, so the remote side's files there can only be
    reached through SSH. Only that directory is isolated; the rest of the file
    system is shared. Where namespaces are unavailable (not root, no unshare),
    a warning says isolation is OFF and sshd runs without it; check
    `SshdServer.isolated`.

    ``extra_config`` is added to sshd_config; its plain keywords override the
    defaults, ``Match`` blocks go at the end.

    ``detach=True`` lets sshd outlive this process (``invoke sandbox``): it gets
    its own session and is not stopped at interpreter exit; stop it by pid.

    ``other_user`` (root only) also lets that unprivileged account log in
    with ``client_key``, creating it (with a group of its own, home ``/tmp``)
    if it does not exist: tests of permissions need a user that root's
    privileges do not hide. Not root: ignored, and ``other_user`` stays None.

    Raises `SshdError` (with the tail of the log) when sshd does not come up.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    remove_root = False
    if isolated_root is not None:
        isolated_root = Path(isolated_root).resolve()
        if workdir == isolated_root or workdir.is_relative_to(isolated_root):
            # The tmpfs would hide keys and config from sshd itself.
            raise ValueError(f"workdir {workdir} must be outside isolated_root {isolated_root}")
        remove_root = not isolated_root.exists()
        isolated_root.mkdir(parents=True, exist_ok=True)

    host_key, client_key = workdir / "host_ed25519", workdir / "client_ed25519"
    _keygen(host_key, "remote-mcp-test-host")
    _keygen(client_key, "remote-mcp-test-client")
    shutil.copyfile(client_key.with_name(client_key.name + ".pub"), workdir / "authorized_keys")
    client_key.chmod(0o600)
    host_pub = host_key.with_name(host_key.name + ".pub").read_text().split()
    fingerprint = _run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{host_key}.pub"], "ssh-keygen -l"
    ).stdout.split()[1]

    keys_dir = _authorize_other_user(other_user, client_key) if other_user else None

    with contextlib.suppress(OSError):
        # Privilege separation directory; sshd -t fails without it. Root only.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    isolated = False
    if isolated_root is not None:
        why_not = _probe_isolation(isolated_root)
        if why_not is None:
            isolated = True
        else:
            message = (
                f"remote_mcp.testing: ISOLATION IS OFF: sshd shares the local file system, "
                f"so a bug touching local files instead of remote ones will not be caught "
                f"({why_not})"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            print(message, file=sys.stderr)

    log_path = workdir / "sshd.log"
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        config = _write_config(workdir, port, extra_config, keys_dir)
        _run([SSHD, "-t", "-f", str(config)], "sshd -t (config check)")
        if isolated:
            assert isolated_root is not None
            argv = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount -t tmpfs -o mode=1777 tmpfs "$1" && exec "$2" -D -e -f "$3"',
                "sh",
                str(isolated_root),
                SSHD,
                str(config),
            ]
        else:
            argv = [SSHD, "-D", "-e", "-f", str(config)]
        # PDEATHSIG fires when the parent *thread* exits, so only use it from the main thread.
        in_main = threading.current_thread() is threading.main_thread() and not detach
        with open(log_path, "wb") as log:
            # unshare and sh exec, so the Popen pid is sshd itself: terminate() reaches it.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if in_main else None,
                start_new_session=detach,
            )
        why_not = _wait_ready(proc, port, time.monotonic() + _START_TIMEOUT)
        if why_not is None:
            server = SshdServer(
                host="127.0.0.1",
                port=port,
                user=pwd.getpwuid(os.getuid()).pw_name,
                client_key=client_key,
                known_hosts=workdir / "known_hosts",
                host_key_fingerprint=fingerprint,
                isolated_root=isolated_root,
                process=proc,
                log_path=log_path,
                isolated=isolated,
                config_path=config,
                other_user=other_user if keys_dir is not None else None,
                _keys_dir=keys_dir,
                _remove_root=remove_root,
            )
            server.known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
            if not detach:
                _running.add(server)
            return server
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        last_error = f"{why_not}\n--- {log_path} (tail) ---\n{_tail(log_path, _LOG_TAIL_LINES)}"
        if "Address already in use" not in last_error:
            break  # only the free_port() race is worth another try
    if keys_dir is not None:
        shutil.rmtree(keys_dir, ignore_errors=True)
    if remove_root and isolated_root is not None:
        with contextlib.suppress(OSError):
            isolated_root.rmdir()
    raise SshdError(f"test sshd did not start: {last_error}")


# ------------------------------------------------------------ hostile login user

_HOSTILE_BASHRC = "echo WELCOME-FROM-BASHRC\necho bashrc-on-stderr >&2\n"
_HOSTILE_RC = "echo WELCOME-FROM-SSH-RC\n"
# errexit, nounset and a failing line: the profile stops here, with its options set.
_HOSTILE_PROFILE = "set -eu\necho profile-says-hi\nfalse\nexport NEVER_SET=1\n"


@dataclass
class HostileLogin:
    """A throwaway account whose login files work against a tool: see
    `start_hostile_login_sshd`. ``remove`` deletes the account and its home."""

    user: str
    home: str
    keys_file: Path

    def remove(self) -> None:
        if self.user:
            subprocess.run(["userdel", self.user], capture_output=True, check=False, timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)
        self.keys_file.unlink(missing_ok=True)
        self.user = ""


def start_hostile_login_sshd(
    workdir: Path, *, isolated_root: Path | None = None
) -> tuple[SshdServer, HostileLogin]:
    """`start_sshd`, plus an account (root only) that many real users resemble:
    its home has a space in it (``/tmp/rmcp login home XXXX``), its login shell
    is bash, ``~/.bashrc`` (which Debian's bash reads for ssh commands) and
    ``~/.ssh/rc`` print a greeting, and ``~/.profile`` runs ``set -eu`` then a
    failing line. The client key may log in as that user too. Raises
    `SshdError` when not root (accounts cannot be created)."""
    if os.geteuid() != 0:
        raise SshdError("a hostile login user needs root (useradd)")
    tag = os.urandom(4).hex()
    name = f"rmcp-login-{tag}"
    home = f"/tmp/rmcp login home {tag}"
    keys_file = Path(f"/tmp/rmcp-login-keys-{tag}")
    login = HostileLogin(user=name, home=home, keys_file=keys_file)
    _run(["useradd", "--user-group", "--create-home", "--home-dir", home,
          "--shell", "/bin/bash", name], "useradd")  # fmt: skip
    try:
        # sshd refuses a locked account ("!" password) when PAM is off; "*" only disables passwords.
        _run(["usermod", "--password", "*", name], "usermod")
        entry = pwd.getpwnam(name)
        files = {".bashrc": _HOSTILE_BASHRC, ".ssh/rc": _HOSTILE_RC, ".profile": _HOSTILE_PROFILE}
        for rel, text in files.items():
            path = Path(home, rel)
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
        for path in [Path(home), Path(home, ".ssh"), *(Path(home, rel) for rel in files)]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        keys_file.write_text("")
        keys_file.chmod(0o644)
        # sshd reads the key file as the user: it must live where that user can reach it.
        extra = f"Match User {name}\n    AuthorizedKeysFile {keys_file}\n"
        server = start_sshd(workdir, isolated_root=isolated_root, extra_config=extra)
        shutil.copyfile(server.client_key.with_name(server.client_key.name + ".pub"), keys_file)
    except BaseException:
        login.remove()
        raise
    return server, login


# ---------------------------------------------------------------------- remote_exec


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


# ------------------------------------------------------------------------ LinkProxy

_POLL = 0.1
"""Seconds between checks of stop flags; bounds how long a close() or cut() takes."""

_EOF = None


class _Direction:
    """One way of one proxied connection: a reader fills a queue, a sender drains it.

    Reading and sending are separate threads so a delay never blocks the reader:
    data keeps flowing into the queue, stamped with when it may leave, which
    models a link with latency but no bandwidth limit (like ``netem delay``).
    """

    def __init__(
        self, conn: _Conn, src: socket.socket, dst: socket.socket, up: bool, name: str
    ) -> None:
        self.conn, self.src, self.dst, self.up = conn, src, dst, up
        self.queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        self.threads = [
            threading.Thread(target=self._read, name=f"{name}-read", daemon=True),
            threading.Thread(target=self._send, name=f"{name}-send", daemon=True),
        ]

    def _read(self) -> None:
        proxy, conn = self.conn.proxy, self.conn
        try:
            while not conn.aborted:
                try:
                    data = self.src.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    conn.abort()
                    return
                with proxy._cond:
                    self.queue.append((time.monotonic() + proxy.delay_s, data or _EOF))
                    proxy._cond.notify_all()
                if not data:
                    return
        finally:
            conn.thread_done()

    def _next(self) -> tuple[bool, bytes | None]:
        """Wait for the next chunk that is due; (False, None) if the connection died."""
        proxy, conn = self.conn.proxy, self.conn
        with proxy._cond:
            while not conn.aborted:
                if self.queue and not proxy._stalled:
                    wait = self.queue[0][0] - time.monotonic()
                    if wait <= 0:
                        proxy._inflight += 1  # lets stall() wait for chunks already taken
                        return True, self.queue.popleft()[1]
                    proxy._cond.wait(min(wait, _POLL))
                else:
                    proxy._cond.wait(_POLL)
            return False, None

    def _send(self) -> None:
        proxy, conn = self.conn.proxy, self.conn
        try:
            while True:
                ok, data = self._next()
                if not ok:
                    return
                try:
                    if not self._deliver(data):
                        return
                finally:
                    with proxy._cond:
                        proxy._inflight -= 1
                        proxy._cond.notify_all()
        finally:
            conn.thread_done()

    def _deliver(self, data: bytes | None) -> bool:
        """Send one chunk (or pass EOF on); False when this direction is finished."""
        proxy, conn = self.conn.proxy, self.conn
        if data is _EOF:
            # Pass the half-close on, after everything queued before it.
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)
            return False
        view = memoryview(data)
        while view:
            if conn.aborted:
                return False
            try:
                n = self.dst.send(view)
            except TimeoutError:
                continue  # nothing was sent; re-check the abort flag
            except OSError:
                conn.abort()
                return False
            view = view[n:]
            with proxy._cond:
                if self.up:
                    proxy.bytes_up += n
                else:
                    proxy.bytes_down += n
        return True


class _Conn:
    """A proxied connection: client socket, upstream socket, four threads."""

    def __init__(self, proxy: LinkProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.aborted = False
        self.closed = threading.Event()
        self._lock = threading.Lock()
        n = proxy.connections
        self.directions = [
            _Direction(self, client, upstream, True, f"LinkProxy-{n}-up"),
            _Direction(self, upstream, client, False, f"LinkProxy-{n}-down"),
        ]
        self._alive = 4
        for s in (client, upstream):
            s.settimeout(_POLL)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self) -> None:
        for d in self.directions:
            for t in d.threads:
                t.start()

    def abort(self, reset: bool = True) -> None:
        """Tear down both sides; with ``reset``, they get a RST instead of a FIN."""
        with self._lock:
            if self.aborted:
                return
            self.aborted = True
        for s in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                if reset:
                    _set_linger0(s)
                # SHUT_RD wakes a blocked recv() and sends nothing to the peer; the
                # sockets are closed only when all threads are out (no fd reuse races).
                s.shutdown(socket.SHUT_RD)
        with self.proxy._cond:
            self.proxy._cond.notify_all()

    def thread_done(self) -> None:
        with self._lock:
            self._alive -= 1
            last = self._alive == 0
        if last:
            for s in (self.client, self.upstream):
                s.close()
            with self.proxy._cond:
                self.proxy._conns.discard(self)
            self.closed.set()


def _set_linger0(s: socket.socket) -> None:
    # Linger on with timeout 0: close() sends RST and drops unsent data.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _reset(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        _set_linger0(s)
    s.close()


class LinkProxy:
    """A TCP proxy on 127.0.0.1 in front of ``(target_host, target_port)``.

    For benchmarks and fault tests: ``delay_s`` adds that one-way delay in each
    direction (so the round-trip time grows by ``2 * delay_s``) while keeping
    byte order, and `cut`, `stall`/`resume` and `refuse` break the link on
    purpose. Counters ``bytes_up`` (client to target), ``bytes_down`` and
    ``connections`` count what was forwarded. Every thread is a daemon and
    stops on `close`::

        with LinkProxy("127.0.0.1", sshd.port, delay_s=0.05) as proxy:
            sock = socket.create_connection(("127.0.0.1", proxy.port))
    """

    def __init__(self, target_host: str, target_port: int, delay_s: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self.refused = 0
        self._cond = threading.Condition()
        self._conns: set[_Conn] = set()
        self._stalled = False
        self._inflight = 0
        self._refusing = False
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._accepter = threading.Thread(target=self._accept_loop, name="LinkProxy-accept")
        self._accepter.daemon = True

    def start(self) -> LinkProxy:
        """Start accepting connections (idempotent). Returns self."""
        if not self._accepter.is_alive() and not self._stop.is_set():
            self._listener.listen(64)
            self._listener.settimeout(_POLL)
            self._accepter.start()
        return self

    def _accept_loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._accept_one()
        finally:
            # Closed here, not in close(): closing a socket another thread is polling
            # could hand its fd number to a new socket under that thread's feet.
            self._listener.close()

    def _accept_one(self) -> None:
        try:
            client, _ = self._listener.accept()
        except TimeoutError:
            return
        except OSError:
            self._stop.set()  # listener broken: nothing more to accept
            return
        if self._refusing:
            self.refused += 1
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            # Target down: the client sees the same thing, an abrupt close.
            _reset(client)
            return
        conn = _Conn(self, client, upstream)
        with self._cond:
            self.connections += 1
            self._conns.add(conn)
        conn.start()

    def _current(self) -> list[_Conn]:
        with self._cond:
            return list(self._conns)

    def cut(self, timeout: float = 2.0) -> None:
        """Close every current connection abruptly (RST to both ends).

        Returns when they are closed (at most ``timeout`` s). New connections
        are still accepted, like a link that drops and comes back.
        """
        conns = self._current()
        for c in conns:
            c.abort(reset=True)
        deadline = time.monotonic() + timeout
        for c in conns:
            c.closed.wait(max(0.0, deadline - time.monotonic()))

    def stall(self, timeout: float = 2.0) -> None:
        """Stop forwarding: data is read and held, nothing is delivered, until `resume`.

        Returns once chunks already being sent are out (at most ``timeout`` s), so
        the byte counters and the peers see nothing more after it returns.
        """
        with self._cond:
            self._stalled = True
            self._cond.wait_for(lambda: self._inflight == 0, timeout)

    def resume(self) -> None:
        """Deliver the held data and forward normally again."""
        with self._cond:
            self._stalled = False
            self._cond.notify_all()

    def refuse(self, on: bool = True) -> None:
        """While on, new connections are accepted and closed at once (RST)."""
        self._refusing = on

    def close(self) -> None:
        """Stop listening, drop every connection and stop all threads (idempotent)."""
        self._stop.set()
        if self._accepter.is_alive():
            # Joined before cut() so that no connection is accepted after it.
            self._accepter.join(10.0)
        else:
            self._listener.close()
        self.cut()

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<LinkProxy 127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]} "
            f"delay_s={self.delay_s} up={self.bytes_up} down={self.bytes_down} "
            f"connections={self.connections}>"
        )


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
