"""A test sshd plus a login account whose shell start-up files fight a tool.

Nothing here imports other remote_mcp modules but its siblings in
`remote_mcp.testing`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from remote_mcp.testing.sshd import SshdServer, start_sshd
from remote_mcp.testing.sshd_setup import SshdError, _run

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
    _run(
        [
            "useradd",
            "--user-group",
            "--create-home",
            "--home-dir",
            home,
            "--shell",
            "/bin/bash",
            name,
        ],
        "useradd",
    )
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
