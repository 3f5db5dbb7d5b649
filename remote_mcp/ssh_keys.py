"""Client keys: check them before connecting, say which were tried, and
parse each key file once per process.

paramiko skips a key it cannot use and reports only "Authentication failed",
so a key_path that is a directory, a ``.pub`` file or an encrypted key with no
agent to unlock it ends as a puzzle. Each gets its own line here, before any
packet is sent.

Parsing an RSA key costs 100-200 ms of CPU (cryptography has OpenSSL 3
validate it, slowly), and paramiko parses every key file again at each
connect, trying RSA, ECDSA and Ed25519 in turn: a reconnect paid that twice
with the check here, and connecting a fleet of 100 hosts paid it 200 times
on one core. `load_private_key` keeps each parsed key while its file (and
certificate) is unchanged; the check and paramiko's authentication
(connection.py) both take keys from it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko

from .errors import ConnectError
from .file_cache import ParsedFiles

if TYPE_CHECKING:
    from .target import SshTarget

__all__ = ["auth_failure", "check_keys", "keys_tried", "load_private_key"]

log = logging.getLogger("remote_mcp.ssh_keys")

DEFAULT_KEYS = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519", "~/.ssh/id_dsa")
_PUBLIC_PREFIXES = (b"ssh-", b"ecdsa-", b"sk-", b"---- BEGIN SSH2 PUBLIC KEY")


_keys: ParsedFiles[paramiko.PKey] = ParsedFiles(lambda path: paramiko.PKey.from_path(path))


def load_private_key(path: str | Path) -> paramiko.PKey:
    """The unencrypted key in ``path`` (with its ``-cert.pub`` if there is one),
    parsed once while neither file changes. Raises what ``PKey.from_path``
    raises (an encrypted key: PasswordRequiredException or TypeError); a key
    that fails is not kept, so fixing the file is seen at the next call."""
    key_path = str(path).removesuffix("-cert.pub")
    key = _keys.get(key_path, key_path + "-cert.pub")
    if key is None:
        raise FileNotFoundError(f"no such key file: {key_path}")
    return key


def _origin(target: SshTarget) -> str:
    return "key_path" if target.identity_explicit else "IdentityFile"


def check_keys(target: SshTarget) -> None:
    """Raise ConnectError for a key file that cannot work (see module docstring)."""
    for index, raw in enumerate(target.identity_files):
        path = Path(raw)
        named = "key_path" if index == 0 and target.identity_explicit else "IdentityFile"
        where = f"{named} {path} (host {target.alias})"
        if not path.exists():
            if named == "key_path":
                raise ConnectError(f"{where} does not exist: fix key_path in the config.")
            log.debug("%s does not exist, skipped (as ssh does)", where)
            continue
        if path.is_dir():
            raise ConnectError(f"{where} is a directory, not a private key file.")
        try:
            head = path.read_bytes()[:64]
        except OSError as exc:
            raise ConnectError(
                f"{where} cannot be read ({exc.strerror}): check its owner and permissions."
            ) from None
        if head.startswith(_PUBLIC_PREFIXES):
            private = path.with_suffix("") if path.suffix == ".pub" else None
            hint = f" (probably {private})" if private else ""
            raise ConnectError(f"{where} is a public key: give the private key file{hint}.")
        _check_unlockable(path, where, target)


def _check_unlockable(path: Path, where: str, target: SshTarget) -> None:
    try:
        load_private_key(path)
    except (paramiko.PasswordRequiredException, TypeError) as exc:
        # OpenSSH-format keys say so with a TypeError ("password-protected").
        if isinstance(exc, TypeError) and "password" not in str(exc):
            raise ConnectError(f"{where} is not a private key paramiko can read ({exc}).") from None
        if not target.use_agent:
            raise ConnectError(
                f"{where} is encrypted with a passphrase and no ssh-agent is running: run "
                f"`ssh-add {path}` and start Claude Code from that shell (SSH_AUTH_SOCK "
                "set), or use a key without a passphrase."
            ) from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise ConnectError(f"{where} is not a private key paramiko can read ({exc}).") from None


def keys_tried(target: SshTarget) -> list[str]:
    """The key files paramiko offers, in order (explicit ones, then ssh's defaults)."""
    tried = [k for k in target.identity_files if os.path.isfile(k)]
    if not target.identities_only:
        for default in DEFAULT_KEYS:
            path = os.path.expanduser(default)
            if os.path.isfile(path) and path not in tried:
                tried.append(path)
    return tried


def auth_failure(target: SshTarget, where: str) -> str:
    """The authentication failure line, naming what was offered (as ssh -v would)."""
    offered = [f"key {k}" for k in keys_tried(target)]
    if target.use_agent:
        offered.append("the keys in ssh-agent")
    agent = "" if target.use_agent else " (no ssh-agent: SSH_AUTH_SOCK is not set)"
    what = ", ".join(offered) if offered else "no key at all (no key file found)"
    return (
        f"authentication failed for {where}: the server accepted none of: {what}{agent}. "
        f"Add the public key to ~{target.user}/.ssh/authorized_keys on the host, or point "
        f"{_origin(target)} at a key the host accepts."
    )
