"""A throwaway local sshd to try remote-mcp with no server of your own.

``remote-mcp sandbox`` (and ``invoke sandbox`` in a checkout) starts (or
reuses) it, writes a private config with a ``sandbox`` host, and prints the
``claude mcp add`` line. The sshd is a plain child of nobody: it keeps running
after the command ends, so the MCP client can use it, until
``remote-mcp sandbox --stop``. Nothing touches ~/.ssh: the host
key lives in the sandbox's own known_hosts file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path

from . import registration
from .testing import start_sshd

__all__ = ["SANDBOX_DIR", "ensure_sandbox", "is_sandbox_sshd", "mcp_add_line", "stop_sandbox"]

SANDBOX_DIR = Path(
    os.environ.get("REMOTE_MCP_SANDBOX_DIR") or os.path.expanduser("~/.cache/remote-mcp/sandbox")
)


def _alive(pid: int, port: int) -> bool:
    if not is_sandbox_sshd(pid):
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def ensure_sandbox() -> Path:
    """Return the sandbox config path, starting the sshd if it is not running."""
    config = SANDBOX_DIR / "config.yaml"
    state = SANDBOX_DIR / "sshd.pid"
    if config.exists() and state.exists():
        pid, port = (int(x) for x in state.read_text().split())
        if _alive(pid, port):
            return config
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        raise SystemExit(
            "remote-mcp sandbox needs OpenSSH's sshd: install it (Debian/Ubuntu: "
            "apt-get install -y openssh-server) and run again."
        )
    stop_sandbox()
    SANDBOX_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    SANDBOX_DIR.chmod(0o700)
    server = start_sshd(SANDBOX_DIR / "sshd", detach=True)
    home = SANDBOX_DIR / "work"
    home.mkdir(mode=0o700, exist_ok=True)
    _write_private(
        config,
        "# Written by `remote-mcp sandbox`: a throwaway local sshd.\n"
        "hosts:\n"
        "  sandbox:\n"
        f"    hostname: {server.host}\n"
        f"    port: {server.port}\n"
        f"    user: {server.user}\n"
        f"    key_path: {server.client_key}\n"
        f"    known_hosts: {server.known_hosts}\n"
        f"    cwd: {home}\n"
        "default_host: sandbox\n",
    )
    _write_private(state, f"{server.process.pid} {server.port}\n")
    return config


def _write_private(path: Path, text: str) -> None:
    """Write a file that is 0600 from its first byte (it names keys and ports)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have been created wider
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def stop_sandbox() -> bool:
    """Stop the sandbox sshd if it runs; True if there was one.

    The pid file may be stale (reboot, sshd killed): the pid is signalled only
    if that process is still the sandbox's sshd, never whatever reuses it.
    """
    state = SANDBOX_DIR / "sshd.pid"
    if not state.exists():
        return False
    try:
        pid = int(state.read_text().split()[0])
    except (ValueError, IndexError):
        pid = 0
    state.unlink()
    if pid <= 0 or not is_sandbox_sshd(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def is_sandbox_sshd(pid: int) -> bool:
    """Whether ``pid`` runs sshd with the sandbox's own sshd_config."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # sshd rewrites its title ("sshd: /usr/sbin/sshd -D -f CONFIG [listener] ..."),
    # so look for the words, not for an exact argv.
    config = str(SANDBOX_DIR.resolve() / "sshd" / "sshd_config").encode()
    return b"sshd" in cmdline.split(b"\0")[0] and config in cmdline


def mcp_add_line(config: Path) -> str:
    return registration.mcp_add_line("sandbox", config=config)
