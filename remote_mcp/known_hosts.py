"""known_hosts files read the way OpenSSH reads them.

paramiko's own parser gives up on a whole file at one ``@cert-authority`` or
``@revoked`` line, matches no wildcards, and compares only the first line it
finds for a host, so a stale line before the right one looks like a changed
key. Here every line is judged on its own (``sshd(8)``, SSH_KNOWN_HOSTS FILE
FORMAT): any matching line with the offered key accepts it; ``@revoked``
refuses it; ``@cert-authority`` lines are skipped (remote-mcp does not do host
certificates); names may be hashed (``|1|salt|hash``), patterns may use ``*``,
``?`` and ``!``, and a non-22 port is written ``[host]:port``.

A file is parsed once while it is unchanged, and its lines are matched
against a name once (`matching_lines`): a known_hosts of a thousand hashed
names costs an HMAC per line and name, and every connect asks twice (the key
types to prefer, then the key offered), a fleet once per host.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .file_cache import ParsedFiles

__all__ = [
    "HostKeyVerdict",
    "KnownHostLine",
    "check_host_key",
    "host_name",
    "matching_lines",
    "read_lines",
]

log = logging.getLogger("remote_mcp.known_hosts")


def host_name(hostname: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: ``[host]:port`` unless port 22."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


@dataclass(frozen=True)
class KnownHostLine:
    path: Path
    line: int
    marker: str  # "", "@revoked" or "@cert-authority"
    patterns: str
    key_type: str
    key_blob: bytes

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def matches(self, name: str) -> bool:
        return patterns_match(self.patterns, name)


def _hashed_match(pattern: str, name: str) -> bool:
    try:
        _, _, salt_b64, hash_b64 = pattern.split("|")
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(hash_b64)
    except (ValueError, binascii.Error):
        return False
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(digest, expected)


def patterns_match(patterns: str, name: str) -> bool:
    """OpenSSH's rule: some positive pattern matches and no negated one does."""
    positive = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        pattern = pattern[1:] if negated else pattern
        if pattern.startswith("|1|"):
            hit = _hashed_match(pattern, name)
        else:
            # fnmatchcase would treat [...] as a character class; ssh does not.
            hit = fnmatch.fnmatchcase(name.lower(), _escape_brackets(pattern.lower()))
        if hit and negated:
            return False
        positive = positive or hit
    return positive


def _escape_brackets(pattern: str) -> str:
    return "".join(f"[{c}]" if c in "[]" else c for c in pattern)


def read_lines(path: Path) -> list[KnownHostLine]:
    """The usable lines of one file; malformed lines are skipped (as ssh does)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[KnownHostLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        marker = words.pop(0) if words[0].startswith("@") else ""
        if len(words) < 3:
            continue
        try:
            blob = base64.b64decode(words[2], validate=True)
        except (ValueError, binascii.Error):
            log.debug("%s:%d: key is not base64, line skipped", path, number)
            continue
        found.append(KnownHostLine(path, number, marker, words[0], words[1], blob))
    return found


@dataclass
class _ParsedFile:
    lines: list[KnownHostLine]
    by_name: dict[str, list[KnownHostLine]] = field(default_factory=dict)


_files: ParsedFiles[_ParsedFile] = ParsedFiles(lambda path: _ParsedFile(read_lines(Path(path))))


def matching_lines(path: Path, name: str) -> list[KnownHostLine]:
    """The usable lines of ``path`` whose patterns match ``name``, from the
    file as it is now (a missing file has none)."""
    parsed = _files.get(str(path))
    if parsed is None:
        return []
    found = parsed.by_name.get(name)
    if found is None:
        found = [entry for entry in parsed.lines if entry.matches(name)]
        parsed.by_name[name] = found
    return found


@dataclass(frozen=True)
class HostKeyVerdict:
    """``status`` is ok, revoked, changed or unknown; ``lines`` are the evidence."""

    status: str
    lines: tuple[KnownHostLine, ...] = ()


def check_host_key(
    files: list[Path] | tuple[Path, ...], name: str, key_type: str, key_blob: bytes
) -> HostKeyVerdict:
    """Judge the key a server offered for ``name`` (``host`` or ``[host]:port``)."""
    accepted: list[KnownHostLine] = []
    stale: list[KnownHostLine] = []
    for path in files:
        for entry in matching_lines(path, name):
            if entry.marker == "@revoked":
                if entry.key_blob == key_blob:
                    return HostKeyVerdict("revoked", (entry,))
                continue
            if entry.marker:
                log.debug("%s: %s line skipped (not supported)", entry.where, entry.marker)
                continue
            if entry.key_blob == key_blob:
                accepted.append(entry)
            else:
                stale.append(entry)
    if accepted:
        return HostKeyVerdict("ok", tuple(accepted))
    if stale:
        return HostKeyVerdict("changed", tuple(stale))
    return HostKeyVerdict("unknown")


def known_key_types(files: list[Path] | tuple[Path, ...], name: str) -> list[str]:
    """Key types known for ``name``, to prefer them in negotiation (as ssh does)."""
    types: list[str] = []
    for path in files:
        for entry in matching_lines(path, name):
            if not entry.marker and entry.key_type not in types:
                types.append(entry.key_type)
    return types
