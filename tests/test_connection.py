"""Host keys are checked strictly; ssh_config aliases apply; bytes are counted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from remote_mcp.connection import HostConnection
from remote_mcp.errors import ConnectError, HostKeyError
from remote_mcp.testing import SshdServer, start_sshd
from tests.conftest import make_host

KNOWN_HOSTS = Path(os.environ["HOME"], ".ssh", "known_hosts")


@pytest.fixture
def stranger(tmp_path: Path, sshd: SshdServer):
    """A second sshd whose host key nobody has accepted (same client key)."""
    server = start_sshd(tmp_path / "stranger")
    auth = (tmp_path / "stranger").glob("authorized_keys*")
    for path in auth:
        path.write_text(sshd.client_key.with_suffix(".pub").read_text())
    yield server
    server.stop()


def test_unknown_host_key_is_refused_with_fingerprint_and_line(stranger: SshdServer) -> None:
    conn = HostConnection(make_host(stranger))
    with pytest.raises(HostKeyError) as err:
        conn.open()
    message = str(err.value)
    assert stranger.host_key_fingerprint in message
    assert f"ssh-keyscan -p {stranger.port} -t ssh-ed25519 127.0.0.1" in message
    assert stranger.known_hosts_line.split()[-1] in message  # the key line to add
    assert not conn.is_alive()


def test_accept_new_records_the_key_then_connects(stranger: SshdServer, tmp_path: Path) -> None:
    before = KNOWN_HOSTS.read_text()
    try:
        conn = HostConnection(make_host(stranger, host_key_policy="accept-new"))
        conn.open()
        conn.close()
        assert stranger.known_hosts_line.split()[-1] in KNOWN_HOSTS.read_text()
        # Now known: strict mode accepts it.
        strict = HostConnection(make_host(stranger))
        strict.open()
        strict.close()
    finally:
        KNOWN_HOSTS.write_text(before)


def test_changed_host_key_is_refused_loudly(stranger: SshdServer, sshd: SshdServer) -> None:
    before = KNOWN_HOSTS.read_text()
    # Claim the stranger's address has the main test server's key.
    fake = sshd.known_hosts_line.replace(f"]:{sshd.port} ", f"]:{stranger.port} ", 1)
    try:
        KNOWN_HOSTS.write_text(before + fake + "\n")
        for policy in ("strict", "accept-new"):
            conn = HostConnection(make_host(stranger, host_key_policy=policy))
            with pytest.raises(HostKeyError, match="HOST KEY CHANGED") as err:
                conn.open()
            assert stranger.host_key_fingerprint in str(err.value)
            # The fix names the file that holds the stale line.
            assert f"ssh-keygen -f {KNOWN_HOSTS} -R '[127.0.0.1]:{stranger.port}'" in str(err.value)
    finally:
        KNOWN_HOSTS.write_text(before)


def test_ssh_config_alias_supplies_hostname_port_user_key(sshd: SshdServer) -> None:
    ssh_config = Path(os.environ["HOME"], ".ssh", "config")
    ssh_config.write_text(
        "Host testalias\n"
        f"  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {Path(os.environ['HOME'], '.ssh', 'id_ed25519')}\n"
    )
    try:
        from remote_mcp.config import HostConfig

        conn = HostConnection(HostConfig(name="alias", hostname="testalias"))
        assert conn.destination == f"{sshd.user}@{sshd.host}"
        fabric_conn = conn.open()
        assert int(fabric_conn.port) == sshd.port
        conn.close()
    finally:
        ssh_config.unlink()


def test_wrong_key_is_an_authentication_error(sshd: SshdServer, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    default_key = Path(os.environ["HOME"], ".ssh", "id_ed25519")
    hidden = default_key.with_suffix(".hidden")
    default_key.rename(hidden)  # else paramiko (like ssh) also tries ~/.ssh/id_ed25519
    try:
        conn = HostConnection(make_host(sshd, key_path=str(other)))
        with pytest.raises(ConnectError, match="authentication failed for root@127.0.0.1"):
            conn.open()
    finally:
        hidden.rename(default_key)


def test_missing_key_file_is_named(sshd: SshdServer, tmp_path: Path) -> None:
    conn = HostConnection(make_host(sshd, key_path=str(tmp_path / "nope")))
    with pytest.raises(ConnectError, match=r"key_path .*nope \(host test\) does not exist"):
        conn.open()


def test_unreachable_port_is_a_clear_connect_error(sshd: SshdServer) -> None:
    from remote_mcp.testing import free_port

    conn = HostConnection(make_host(sshd, port=free_port(), connect_timeout_s=3))
    with pytest.raises(ConnectError, match=r"127.0.0.1:\d+ refused the connection"):
        conn.open()


def test_compression_on_and_bytes_counted(sshd: SshdServer) -> None:
    conn = HostConnection(make_host(sshd))
    fabric_conn = conn.open()
    assert fabric_conn.transport.local_compression == "zlib@openssh.com"
    _, sent, received = conn.stats.snapshot()
    assert sent > 0 and received > 0
    conn.close()


def test_compression_keeps_its_history_across_commands(sshd: SshdServer) -> None:
    """A command much like the one before (a tool's template, new tokens)
    travels as a back-reference: over the real sshd, which inflates it, the
    second of two commands sharing 6 KB of incompressible text costs a
    fraction of the first's bytes, and both run as sent."""
    from remote_mcp.session import Session

    shared = os.urandom(3000).hex()
    session = Session(make_host(sshd))
    session.connect()
    try:
        costs = []
        for n in (1, 2):
            before = session.stats.snapshot()[1]
            result = session.run(f": '{shared}'; echo done {n}")
            costs.append(session.stats.snapshot()[1] - before)
            assert result.stdout == f"done {n}\n"
    finally:
        session.close()
    assert costs[0] > 3000 and costs[1] * 4 < costs[0], costs


def test_proxy_jump_reaches_the_target_through_a_gateway(sshd: SshdServer) -> None:
    """The test sshd is its own jump host: ssh -J root@127.0.0.1:PORT."""
    jump = f"{sshd.user}@{sshd.host}:{sshd.port}"
    conn = HostConnection(make_host(sshd, proxy_jump=jump), early_channels=2)
    fabric_conn = conn.open()
    try:
        assert fabric_conn.gateway is not None
        result = fabric_conn.run("echo via-jump", hide=True, in_stream=False)
        assert result.stdout == "via-jump\n"
        # Session channels are opened early on the target, never on the jump
        # host (which only forwards).
        assert fabric_conn.gateway.transport.early_sessions == 0
        assert fabric_conn.transport.early_sessions == 2
        assert conn.open_channel() is not None
        # The gateway is checked strictly too (its key is known in the test HOME).
        assert isinstance(fabric_conn.gateway.client._policy, type(fabric_conn.client._policy))
    finally:
        conn.close()
    assert not fabric_conn.gateway.is_connected


def _keygen(path: Path, kind: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture
def rsa_server(tmp_path: Path, sshd: SshdServer):
    """A second sshd that accepts only an RSA key made for the test (the
    kind whose parsing costs 100-200 ms), its host key in a known_hosts of
    its own."""
    server = start_sshd(tmp_path / "rsa-sshd")
    key = _keygen(tmp_path / "id_rsa", "rsa")
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line)

    def authorize(public: Path) -> None:
        for path in (tmp_path / "rsa-sshd").glob("authorized_keys*"):
            path.write_text(public.read_text())

    authorize(key.with_suffix(".pub"))
    yield server, key, known, authorize
    server.stop()


def test_a_key_file_is_parsed_once_per_process(rsa_server, monkeypatch) -> None:
    """The check before connecting and paramiko's authentication share one
    parsed key, kept across connections (a reconnect, a fleet's hosts)."""
    import paramiko

    server, key, known, _ = rsa_server
    parsed: list[str] = []
    real_from_path = paramiko.PKey.from_path

    def counting_from_path(path, passphrase=None):
        parsed.append(str(path))
        return real_from_path(path, passphrase)

    monkeypatch.setattr(paramiko.PKey, "from_path", staticmethod(counting_from_path))
    monkeypatch.setattr(
        paramiko.RSAKey, "from_private_key_file", lambda *a, **k: pytest.fail("parsed again")
    )
    host = make_host(server, key_path=str(key), known_hosts=str(known))
    for _ in range(2):
        conn = HostConnection(host)
        assert conn.open().run("echo ok", hide=True, in_stream=False).stdout == "ok\n"
        conn.close()
    assert parsed.count(str(key)) == 1


def test_a_replaced_key_file_is_read_again(rsa_server, tmp_path: Path) -> None:
    server, key, known, authorize = rsa_server
    host = make_host(server, key_path=str(key), known_hosts=str(known))
    conn = HostConnection(host)
    conn.open()
    conn.close()
    # Another key in the same place, and only it authorized: the old one,
    # if still used, would be refused.
    fresh = _keygen(tmp_path / "fresh", "ed25519")
    os.replace(fresh, key)
    os.replace(fresh.with_suffix(".pub"), key.with_suffix(".pub"))
    authorize(key.with_suffix(".pub"))
    conn = HostConnection(host)
    assert conn.open().run("echo ok", hide=True, in_stream=False).stdout == "ok\n"
    conn.close()
