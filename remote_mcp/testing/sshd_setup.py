"""Building blocks of `start_sshd`: keys, config, isolation probe, readiness.

Nothing here imports other remote_mcp modules (see `remote_mcp.testing`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

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


@functools.cache
def _probe_isolation(root: Path) -> str | None:
    """Return None if a private tmpfs can be mounted over ``root``, else why not.

    A dry run in a throwaway namespace: cheaper and clearer than telling a
    failed mount apart from a failed sshd afterwards. Asked once per root:
    a fleet starts many servers over the same one.
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


@functools.cache
def _uts_permitted() -> bool:
    """Whether this process may give a child its own hostname (a UTS
    namespace: root, or a container that allows it). Asked once."""
    if shutil.which("unshare") is None or shutil.which("hostname") is None:
        return False
    try:
        proc = subprocess.run(
            ["unshare", "--uts", "hostname", "remote-mcp-uts-probe"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _authorize_other_user(user: str, client_key: Path) -> Path | None:
    """Create ``user`` if needed and authorize the client key for it (root only)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(user)
    except KeyError:
        _run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/tmp",
                "--shell",
                "/bin/sh",
                user,
            ],
            "useradd",
        )
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


def _bind_args(programs: tuple[str, ...]) -> list[str]:
    """SOURCE TARGET pairs for the namespace script: BusyBox over each program."""
    busybox = shutil.which("busybox") or "busybox"
    return [word for program in programs for word in (busybox, program)]
