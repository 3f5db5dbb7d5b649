"""`start_sshd` and `SshdServer`: a throwaway OpenSSH server for tests.

Nothing here imports other remote_mcp modules but its siblings in
`remote_mcp.testing`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import paramiko

from remote_mcp.testing.flavours import prepare_flavour
from remote_mcp.testing.sshd_setup import (
    _LOG_TAIL_LINES,
    _START_TIMEOUT,
    SSHD,
    SshdError,
    _authorize_other_user,
    _bind_args,
    _die_with_parent,
    _keygen,
    _probe_isolation,
    _run,
    _tail,
    _uts_permitted,
    _wait_ready,
    _write_config,
    free_port,
)

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
    flavour: str = "bash"
    """The remote flavour (see `remote_mcp.testing.flavours`)."""
    other_user: str | None = None
    """An unprivileged account that may also log in with ``client_key`` (see `start_sshd`)."""
    hostname: str | None = None
    """The remote's own name (see `start_sshd`): ``/etc/hostname`` reads it."""
    own_uts: bool = False
    """True when the ``hostname`` command also prints `hostname` (a UTS namespace)."""
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


def start_sshd(
    workdir: Path,
    *,
    isolated_root: Path | None = None,
    extra_config: str = "",
    detach: bool = False,
    flavour: str = "bash",
    other_user: str | None = None,
    hostname: str | None = None,
    die_with_parent: bool | None = None,
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

    ``flavour`` makes the remote look like another kind of host: ``busybox``
    (BusyBox ash and applets only), ``dash`` (no bash), ``tcsh`` or ``zsh``
    login shells; `remote_mcp.testing.flavours` says what each one does.

    ``other_user`` (root only) also lets that unprivileged account log in
    with ``client_key``, creating it (with a group of its own, home ``/tmp``)
    if it does not exist: tests of permissions need a user that root's
    privileges do not hide. Not root: ignored, and ``other_user`` stays None.

    ``hostname`` (with isolation) gives the remote a name of its own, as a
    fleet of test hosts needs: inside its namespace ``/etc/hostname`` reads
    that name (a file of ``workdir`` mounted over it, when the local system
    has the file) and, where a UTS namespace is permitted (root, most CI
    containers), the ``hostname`` command prints it too; `SshdServer.own_uts`
    says which. The local machine's name is untouched.

    sshd is killed with this process (PR_SET_PDEATHSIG) unless ``detach``.
    That signal follows the *thread* that started it, so by default it is
    set only from the main thread; ``die_with_parent=True`` says the calling
    thread outlives the server (a pool kept until the servers stop).

    Raises `SshdError` (with the tail of the log) when sshd does not come up.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    setup = prepare_flavour(workdir, flavour)
    if setup.extra_config:
        extra_config = f"{setup.extra_config}\n{extra_config}"
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
        elif setup.busybox_over:
            warnings.warn(
                f"remote_mcp.testing: the busybox flavour keeps the system /bin/sh ({why_not})",
                RuntimeWarning,
                stacklevel=2,
            )
        if why_not is not None:
            message = (
                f"remote_mcp.testing: ISOLATION IS OFF: sshd shares the local file system, "
                f"so a bug touching local files instead of remote ones will not be caught "
                f"({why_not})"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            print(message, file=sys.stderr)

    uts = isolated and hostname is not None and _uts_permitted()
    binds = _bind_args(setup.busybox_over)
    marked = isolated and hostname is not None and Path("/etc/hostname").is_file()
    if marked:
        marker = workdir / "etc-hostname"
        marker.write_text(f"{hostname}\n")
        binds += [str(marker), "/etc/hostname"]
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
                *(["--uts"] if uts else []),
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount -t tmpfs -o mode=1777 tmpfs "$1" || exit 1\n'
                "sshd=$2 config=$3 name=$4\n"
                "shift 4\n"
                'if [ -n "$name" ]; then hostname "$name" || exit 1; fi\n'
                # SOURCE TARGET pairs: a flavour's programs over the system's,
                # the hostname marker over /etc/hostname.
                'while [ $# -gt 1 ]; do mount --bind "$1" "$2" || exit 1; shift 2; done\n'
                'exec "$sshd" -D -e -f "$config"',
                "sh",
                str(isolated_root),
                SSHD,
                str(config),
                hostname if uts and hostname is not None else "",
                *binds,
            ]
        else:
            argv = [SSHD, "-D", "-e", "-f", str(config)]
        # PDEATHSIG fires when the parent *thread* exits, so only use it from the main thread.
        in_main = threading.current_thread() is threading.main_thread() and not detach
        if die_with_parent is not None:
            in_main = die_with_parent and not detach
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
                flavour=flavour,
                other_user=other_user if keys_dir is not None else None,
                hostname=hostname if marked or uts else None,
                own_uts=uts,
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
