"""Read the user's OpenSSH client configuration, ``Include`` files and all.

paramiko's ``SSHConfig`` ignores ``Include``, so users who split their config
(``Include config.d/*``) would lose hosts: the text is expanded here first
(globs; relative paths are taken from ~/.ssh, as ssh does for the user file).

``$REMOTE_MCP_SSH_CONFIG`` replaces ``~/.ssh/config`` (tests use it; it can
also point remote-mcp at a config of its own). ``/etc/ssh/ssh_config`` is read
after the user file, so the user's values win, as with ssh.

The files are read at every lookup (users edit them), but their text is
parsed again only when it changed, and a host is looked up once per text:
paramiko matches every ``Host`` pattern at each lookup, 2-3 ms in a config
of 100 hosts, which a fleet of 100 hosts paid per host (and for each jump).
Not where a ``Match exec`` makes the answer depend on a command's outcome.

paramiko runs a ``Match exec`` command with ``invoke.run``, which hands the
command our stdin -- in the MCP server, the protocol stream, whose messages
it would swallow. It runs here with no stdin instead, as ssh gives it none
worth reading.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import invoke
import paramiko
import paramiko.config

__all__ = ["aliases", "load_ssh_config", "user_config_path"]

log = logging.getLogger("remote_mcp.ssh_config")

SYSTEM_CONFIG = Path("/etc/ssh/ssh_config")
# ssh stops at 16 levels of Include; a loop must not hang us either.
MAX_INCLUDE_DEPTH = 16
_INCLUDE = re.compile(r"^\s*include\s*[= ]\s*(.+?)\s*$", re.IGNORECASE)
_HOST = re.compile(r"^\s*host\s*[= ]\s*(.+?)\s*$", re.IGNORECASE)
_MATCH_EXEC = re.compile(r"^\s*match\b.*\bexec\b", re.IGNORECASE | re.MULTILINE)


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


class _ExecWithoutStdin:
    """What paramiko.config calls ``invoke``, for ``Match exec`` (see above)."""

    @staticmethod
    def run(command: str, **kwargs: Any) -> Any:
        return invoke.run(command, in_stream=False, **kwargs)


setattr(paramiko.config, "invoke", _ExecWithoutStdin)  # noqa: B010  (not in the stubs)


class _ParsedConfig(paramiko.SSHConfig):
    """An SSHConfig whose lookups are kept (see module docstring)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.parse(text.splitlines())
        self._remember = _MATCH_EXEC.search(text) is None
        self._answers: dict[str, paramiko.SSHConfigDict] = {}

    def lookup(self, hostname: str) -> paramiko.SSHConfigDict:
        answer = self._answers.get(hostname)
        if answer is None:
            answer = super().lookup(hostname)
            if self._remember:
                self._answers[hostname] = answer
        # A copy: callers own what they get (identityfile is a list).
        copy = {k: list(v) if isinstance(v, list) else v for k, v in answer.items()}
        return paramiko.SSHConfigDict(copy)


_parsed: _ParsedConfig | None = None
_parsed_text = ""
_parsed_lock = threading.Lock()


def load_ssh_config() -> paramiko.SSHConfig:
    """The merged client configuration, as its files are now."""
    global _parsed, _parsed_text
    text = _config_text()
    with _parsed_lock:
        if _parsed is None or text != _parsed_text:
            _parsed, _parsed_text = _ParsedConfig(text), text
        return _parsed


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
