"""known_hosts read as OpenSSH reads it (issue 9, item 9).

Unit tests of the parser, then the same cases against the real test sshd:
markers, a stale line before the right one, hashed names, wildcards and
negation, ``[host]:port``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

import pytest

from remote_mcp import known_hosts as known_hosts_module
from remote_mcp.connection import HostConnection
from remote_mcp.errors import HostKeyError
from remote_mcp.known_hosts import check_host_key, known_key_types, patterns_match
from remote_mcp.testing import SshdServer
from tests.conftest import make_host

KEY_A = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"A" * 36).decode()
KEY_B = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"B" * 36).decode()
BLOB_A = base64.b64decode(KEY_A)


def hashed(name: str, salt: bytes = b"0123456789abcdef0123") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def verdict(tmp_path: Path, text: str, name: str = "[127.0.0.1]:2222") -> tuple[str, list[int]]:
    path = tmp_path / "known_hosts"
    path.write_text(text)
    result = check_host_key([path], name, "ssh-ed25519", BLOB_A)
    return result.status, [entry.line for entry in result.lines]


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        ("*.example.com", "db.example.com", True),
        ("*.example.com", "example.com", False),
        ("db?.example.com", "db1.example.com", True),
        ("*.example.com,!bad.example.com", "bad.example.com", False),
        ("*.example.com,!bad.example.com", "ok.example.com", True),
        ("[127.0.0.1]:2222", "[127.0.0.1]:2222", True),
        ("[127.0.0.1]:2222", "[127.0.0.1]:2223", False),
        ("[127.0.0.*]:2222", "[127.0.0.9]:2222", True),
        ("HOST.Example.COM", "host.example.com", True),
        ("!a,!b", "c", False),  # only negations: never a match
    ],
)
def test_patterns_follow_openssh(patterns: str, name: str, expected: bool) -> None:
    assert patterns_match(patterns, name) is expected


def test_a_file_is_parsed_once_while_it_is_unchanged(tmp_path: Path, monkeypatch) -> None:
    """Every connect asks twice (key types, then the key) and a fleet once per
    host; a file that changed (accept-new added a line) is read again."""
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"{hashed(f'h{i}.example')} ssh-ed25519 {KEY_B}\n" for i in range(50)))
    reads: list[Path] = []
    real_read = known_hosts_module.read_lines
    monkeypatch.setattr(known_hosts_module, "read_lines", lambda p: reads.append(p) or real_read(p))
    name = "[gpu1]:2222"
    assert check_host_key([path], name, "ssh-ed25519", BLOB_A).status == "unknown"
    assert known_key_types([path], name) == []
    assert check_host_key([path], "h7.example", "ssh-ed25519", BLOB_A).status == "changed"
    assert reads == [path]
    with path.open("a") as f:
        f.write(f"{hashed(name)} ssh-ed25519 {KEY_A}\n")
    assert check_host_key([path], name, "ssh-ed25519", BLOB_A).status == "ok"
    assert reads == [path, path]


def test_hashed_names_match_only_their_host() -> None:
    assert patterns_match(hashed("[127.0.0.1]:2222"), "[127.0.0.1]:2222")
    assert not patterns_match(hashed("[127.0.0.1]:2222"), "[127.0.0.1]:2223")
    assert not patterns_match("|1|garbage|x", "[127.0.0.1]:2222")


def test_any_matching_line_accepts_even_after_a_stale_one(tmp_path: Path) -> None:
    text = f"[127.0.0.1]:2222 ssh-ed25519 {KEY_B}\n[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n"
    assert verdict(tmp_path, text) == ("ok", [2])


def test_only_a_different_key_is_a_change_naming_its_line(tmp_path: Path) -> None:
    text = f"# comment\nother ssh-ed25519 {KEY_A}\n[127.0.0.1]:2222 ssh-ed25519 {KEY_B}\n"
    assert verdict(tmp_path, text) == ("changed", [3])


def test_markers_neither_break_the_file_nor_accept(tmp_path: Path) -> None:
    text = (
        f"@cert-authority *.example.com ssh-ed25519 {KEY_B}\n"
        f"@cert-authority [127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n"
        "not a valid line\n"
        f"[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n"
    )
    assert verdict(tmp_path, text) == ("ok", [4])
    # A CA line alone does not vouch for the key (no certificates here).
    assert verdict(tmp_path, f"@cert-authority * ssh-ed25519 {KEY_A}\n")[0] == "unknown"


def test_revoked_key_is_refused_even_with_an_accepting_line(tmp_path: Path) -> None:
    text = f"[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_A}\n"
    assert verdict(tmp_path, text) == ("revoked", [2])
    # Revoking another key does not affect this one.
    other = f"@revoked * ssh-ed25519 {KEY_B}\n[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\n"
    assert verdict(tmp_path, other) == ("ok", [2])


# -- against the real sshd ---------------------------------------------------


@pytest.fixture
def known_hosts(sshd: SshdServer):
    """The test HOME's known_hosts, restored afterwards."""
    path = Path(os.environ["HOME"], ".ssh", "known_hosts")
    before = path.read_text()
    yield path
    path.write_text(before)


def _key(sshd: SshdServer) -> tuple[str, str]:
    _, key_type, key = sshd.known_hosts_line.split()[:3]
    return key_type, key


def test_marker_lines_elsewhere_do_not_break_the_host(sshd: SshdServer, known_hosts: Path) -> None:
    key_type, key = _key(sshd)
    known_hosts.write_text(
        f"@cert-authority *.corp.example ssh-ed25519 {KEY_B}\n"
        f"@revoked old.example ssh-ed25519 {KEY_B}\n" + known_hosts.read_text()
    )
    conn = HostConnection(make_host(sshd))
    conn.open()
    conn.close()


def test_stale_line_before_the_right_one_connects(sshd: SshdServer, known_hosts: Path) -> None:
    key_type, key = _key(sshd)
    name = f"[127.0.0.1]:{sshd.port}"
    known_hosts.write_text(f"{name} {key_type} {KEY_B}\n{name} {key_type} {key}\n")
    conn = HostConnection(make_host(sshd))
    conn.open()
    conn.close()


@pytest.mark.parametrize("form", ["hashed", "wildcard", "negation-elsewhere"])
def test_hashed_and_wildcard_lines_accept(sshd: SshdServer, known_hosts: Path, form: str) -> None:
    key_type, key = _key(sshd)
    name = f"[127.0.0.1]:{sshd.port}"
    pattern = {
        "hashed": hashed(name),
        "wildcard": f"[127.0.0.?]:{sshd.port}",
        "negation-elsewhere": f"[127.0.0.*]:*,![10.0.0.1]:{sshd.port}",
    }[form]
    known_hosts.write_text(f"{pattern} {key_type} {key}\n")
    conn = HostConnection(make_host(sshd))
    conn.open()
    conn.close()


def test_negated_host_is_not_accepted(sshd: SshdServer, known_hosts: Path) -> None:
    key_type, key = _key(sshd)
    known_hosts.write_text(f"[127.0.0.*]:*,![127.0.0.1]:{sshd.port} {key_type} {key}\n")
    with pytest.raises(HostKeyError, match="is not in known_hosts"):
        HostConnection(make_host(sshd)).open()


def test_revoked_host_key_is_refused_naming_the_line(sshd: SshdServer, known_hosts: Path) -> None:
    key_type, key = _key(sshd)
    known_hosts.write_text(known_hosts.read_text() + f"@revoked * {key_type} {key}\n")
    lines = len(known_hosts.read_text().splitlines())
    with pytest.raises(HostKeyError) as err:
        HostConnection(make_host(sshd)).open()
    assert f"is marked @revoked in {known_hosts}:{lines}" in str(err.value)
