"""Read the user's OpenSSH client configuration, ``Include`` files and all.

paramiko's ``SSHConfig`` ignores ``Include``, so users who split their config
(``Include config.d/*``) would lose hosts: the text is expanded here first
(globs; relative paths are taken from ~/.ssh, as ssh does for the user file).

``$REMOTE_MCP_SSH_CONFIG`` replaces ``~/.ssh/config`` (tests use it; it can
also point remote-mcp at a config of its own). ``/etc/ssh/ssh_config`` is read
after the user file, so the user's values win, as with ssh.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path

import paramiko

__all__ = ["aliases", "load_ssh_config", "user_config_path"]

log = logging.getLogger("remote_mcp.ssh_config")

SYSTEM_CONFIG = Path("/etc/ssh/ssh_config")
# ssh stops at 16 levels of Include; a loop must not hang us either.
MAX_INCLUDE_DEPTH = 16
_INCLUDE = re.compile(r"^\s*include\s*[= ]\s*(.+?)\s*$", re.IGNORECASE)
_HOST = re.compile(r"^\s*host\s*[= ]\s*(.+?)\s*$", re.IGNORECASE)


def user_config_path() -> Path:
    override = os.environ.get("REMOTE_MCP_SSH_CONFIG")
    return Path(os.path.expanduser(override or "~/.ssh/config"))


def _include_targets(spec: str, base: Path) -> list[Path]:
    found: list[Path] = []
    for word in spec.split():
        pattern = os.path.expanduser(word.strip('"'))
        if not os.path.isabs(pattern):
            pattern = str(base / pattern)
        found.extend(Path(p) for p in sorted(glob.glob(pattern)) if os.path.isfile(p))
    return found


def expand_includes(path: Path, base: Path, depth: int = 0) -> str:
    """The config text with every ``Include`` line replaced by the files it names."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        log.debug("cannot read ssh config %s: %s", path, exc.strerror)
        return ""
    out: list[str] = []
    for line in text.splitlines():
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
            continue
        if depth >= MAX_INCLUDE_DEPTH:
            log.debug("%s: Include nested too deeply, ignored", path)
            continue
        for target in _include_targets(match.group(1), base):
            out.append(expand_includes(target, base, depth + 1))
    return "\n".join(out) + "\n"


def _config_text() -> str:
    user = user_config_path()
    parts = [expand_includes(user, Path(os.path.expanduser("~/.ssh")))] if user.is_file() else []
    if SYSTEM_CONFIG.is_file() and not os.environ.get("REMOTE_MCP_SSH_CONFIG"):
        parts.append(expand_includes(SYSTEM_CONFIG, SYSTEM_CONFIG.parent))
    return "\n".join(parts)


def load_ssh_config() -> paramiko.SSHConfig:
    """The merged client configuration (read anew each time: it is small)."""
    return paramiko.SSHConfig.from_text(_config_text())


def aliases() -> list[str]:
    """Concrete names from ``Host`` lines (no wildcards or negations), in file order."""
    names: list[str] = []
    user = user_config_path()
    if not user.is_file():
        return names
    for line in expand_includes(user, Path(os.path.expanduser("~/.ssh"))).splitlines():
        match = _HOST.match(line)
        if match is None:
            continue
        for word in match.group(1).split():
            word = word.strip('"')
            if not any(c in word for c in "*?!") and word not in names:
                names.append(word)
    return names


def has_alias(name: str) -> bool:
    return name in aliases()
