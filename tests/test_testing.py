"""Tests of remote_mcp.testing: the throwaway sshd, remote_exec and LinkProxy.

These helpers decide whether every other integration test means anything, so
they are checked against the real sshd: a helper that silently trusted any host
key, leaked local files into the "remote" or did not really delay would make
the product tests pass for the wrong reasons.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import shutil
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from remote_mcp.testing import (
    LinkProxy,
    SshdError,
    SshdServer,
    free_port,
    remote_exec,
    start_sshd,
    wait_until,
)
from tests.conftest import require_isolation

pytestmark = pytest.mark.timeout(60)

# paramiko raises any of these when the link under it dies, depending on timing.
LINK_ERRORS = (paramiko.SSHException, EOFError, OSError)


def connect(
    server: SshdServer,
    via: LinkProxy | None = None,
    *,
    key: Path | None = None,
    known_hosts: Path | None = None,
) -> paramiko.SSHClient:
    """A strict paramiko client to ``server``, optionally through a proxy."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.load_system_host_keys(str(known_hosts or server.known_hosts))
    sock = None
    if via is not None:
        sock = socket.create_connection(("127.0.0.1", via.port), timeout=5)
    try:
        client.connect(
            server.host,
            port=server.port,
            username=server.user,
            key_filename=str(key or server.client_key),
            look_for_keys=False,
            allow_agent=False,
            sock=sock,
            timeout=5,
            banner_timeout=5,
            auth_timeout=5,
        )
    except BaseException:
        client.close()
        if sock is not None:
            sock.close()
        raise
    return client


def exec_out(client: paramiko.SSHClient, command: str) -> bytes:
    _, stdout, _ = client.exec_command(command, timeout=5)
    return stdout.read()


def open_cat(client: paramiko.SSHClient) -> paramiko.Channel:
    """A channel running ``cat``: each line sent comes back, one round trip each."""
    transport = client.get_transport()
    assert transport is not None
    chan = transport.open_session(timeout=5)
    chan.settimeout(5)
    chan.exec_command("cat")
    return chan


def echo(chan: paramiko.Channel, payload: bytes = b"ping\n") -> bytes:
    chan.sendall(payload)
    got = b""
    while len(got) < len(payload):
        data = chan.recv(len(payload) - len(got))
        if not data:
            break
        got += data
    return got


def best_round_trip(chan: paramiko.Channel, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        assert echo(chan) == b"ping\n"
        times.append(time.perf_counter() - t0)
    return min(times)


# ------------------------------------------------------------------- sshd itself


def test_login_with_client_key(sshd: SshdServer) -> None:
    with connect(sshd) as client:
        assert exec_out(client, "id -un").decode().strip() == sshd.user


def test_remote_exec_returns_status_and_separate_streams(sshd: SshdServer) -> None:
    rc, out, err = remote_exec(sshd, "echo out; echo err >&2; exit 3")
    assert (rc, out, err) == (3, b"out\n", b"err\n")
    rc, out, _ = remote_exec(sshd, "wc -c", input=b"x" * 3_000_000)
    assert (rc, out.strip()) == (0, b"3000000")
    # Both streams at once, each bigger than a channel window's worth of small reads.
    rc, out, err = remote_exec(sshd, "head -c 3000000 /dev/zero; head -c 2500000 /dev/zero >&2")
    assert (rc, len(out), len(err)) == (0, 3_000_000, 2_500_000)
    assert remote_exec(sshd, "echo a; kill -9 $$")[:2] == (-1, b"a\n")  # killed by a signal


def test_remote_exec_times_out_and_recovers(sshd: SshdServer) -> None:
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        remote_exec(sshd, "sleep 20", timeout=0.5)
    assert time.monotonic() - t0 < 3
    assert remote_exec(sshd, "echo ok")[1] == b"ok\n"


def test_remote_exec_reconnects_when_cached_connection_died(sshd: SshdServer) -> None:
    remote_exec(sshd, "true")
    assert sshd._client is not None
    sshd._client.close()
    assert remote_exec(sshd, "echo back")[1] == b"back\n"


def test_other_key_is_refused(sshd: SshdServer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
        check=True,
        timeout=10,
    )
    with pytest.raises(paramiko.AuthenticationException):
        connect(sshd, key=stranger)


def test_unknown_host_key_is_refused(sshd: SshdServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(sshd, known_hosts=empty)


def test_known_hosts_line_matches_server_key(sshd: SshdServer) -> None:
    lines = sshd.known_hosts.read_text().splitlines()
    assert len(lines) == 1
    m = re.fullmatch(r"\[127\.0\.0\.1\]:(\d+) ssh-ed25519 (AAAA\S+)", lines[0])
    assert m, lines[0]
    assert int(m.group(1)) == sshd.port
    with connect(sshd) as client:
        transport = client.get_transport()
        assert transport is not None
        key = transport.get_remote_server_key()
    assert key.get_base64() == m.group(2)
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    assert sshd.host_key_fingerprint == f"SHA256:{digest}"


def test_test_home_is_hermetic(sshd: SshdServer) -> None:
    home = Path(os.environ["HOME"])
    assert home.name.startswith("remote-mcp-home-")
    assert Path("~").expanduser() == home
    assert sshd.known_hosts_line in (home / ".ssh/known_hosts").read_text().splitlines()
    key = home / ".ssh/id_ed25519"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes() == sshd.client_key.read_bytes()
    config = (home / ".config/remote-mcp/config.yaml").read_text()
    assert f"    port: {sshd.port}\n" in config
    assert f"    key_path: {key}\n" in config
    assert "default_host: test\n" in config
    assert "SSH_AUTH_SOCK" not in os.environ


def test_isolation_hides_each_side_from_the_other(
    sshd: SshdServer, remote_dir: str, remote
) -> None:
    assert sshd.isolated, "the sshd fixture fails or skips without isolation"
    assert sshd.isolated_root is not None
    # Remote -> local: a file made over SSH is not on the local disk.
    remote.write_bytes(f"{remote_dir}/made-remotely", b"remote\n")
    assert remote.exists(f"{remote_dir}/made-remotely")
    assert not Path(remote_dir).exists()
    assert not Path(remote_dir, "made-remotely").exists()
    # Local -> remote: a file made locally under the same root is not seen over SSH.
    local = sshd.isolated_root / f"made-locally-{uuid.uuid4().hex}"
    local.write_text("local\n")
    try:
        assert not remote.exists(str(local))
    finally:
        local.unlink()
    assert f" {sshd.isolated_root} tmpfs " in remote.sh("cat /proc/self/mounts")


def test_remote_helper_round_trips_hostile_names_and_bytes(remote, remote_dir: str) -> None:
    path = f'{remote_dir}/-we\'ird "name" $(touch pwned) ;\n.bin'
    data = bytes(range(256)) * 64
    assert not remote.exists(path)
    remote.write_bytes(path, data)
    assert remote.exists(path)
    assert remote.read_bytes(path) == data
    # Exactly one entry: the name was not split or executed on the way.
    assert remote.sh(f"find {remote_dir} -mindepth 1 -printf x") == "x"
    assert remote.sh("printf 'a\\377b'") == "a\udcffb"
    rc, _, err = remote.run("ls /nonexistent-remote-mcp")
    assert rc != 0 and err


def test_without_namespaces_isolation_is_off_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PATH without unshare stands in for a machine without mount namespaces.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    keygen = shutil.which("ssh-keygen")
    assert keygen is not None
    (bin_dir / "ssh-keygen").symlink_to(keygen)
    monkeypatch.setenv("PATH", str(bin_dir))
    root = tmp_path / "area"
    with pytest.warns(RuntimeWarning, match="ISOLATION IS OFF"):
        server = start_sshd(tmp_path / "w", isolated_root=root)
    with server:
        assert not server.isolated
        assert server.isolated_root == root
        remote_exec(server, f"echo shared > {root}/f")
        assert (root / "f").read_text() == "shared\n"  # same file system: not isolated

    # The test fixtures' policy on such a server: fail under CI and as root ...
    for ci, euid in (("1", 1000), ("", 0)):
        monkeypatch.setenv("CI", ci)
        monkeypatch.setattr(os, "geteuid", lambda euid=euid: euid)
        with pytest.raises(pytest.fail.Exception, match="private mount namespace"):
            require_isolation(server)
    # ... and skip, saying why, only on a developer machine.
    monkeypatch.setenv("CI", "false")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="cannot tell remote files from local"):
        require_isolation(server)


def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    with pytest.raises(SshdError, match="NoSuchOption"):
        start_sshd(tmp_path / "w", extra_config="NoSuchOption yes")


def test_workdir_inside_isolated_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside"):
        start_sshd(tmp_path / "root" / "w", isolated_root=tmp_path / "root")


def test_extra_config_overrides_defaults_and_stop_is_idempotent(tmp_path: Path) -> None:
    extra = "MaxSessions 7\nMatch User nobody\n    PermitTTY no"
    with start_sshd(tmp_path / "w", extra_config=extra) as server:
        assert not server.isolated
        assert server.config_path is not None
        effective = subprocess.run(
            ["/usr/sbin/sshd", "-T", "-f", str(server.config_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        assert "maxsessions 7\n" in effective
        assert remote_exec(server, "echo up")[1] == b"up\n"
    assert server.process.returncode is not None
    server.stop()  # second stop is a no-op
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


# ---------------------------------------------------------------------- LinkProxy


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A TCP echo server that closes its side after the client's EOF."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except ConnectionResetError:
                pass  # the proxy cut the link: expected in fault tests

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield listener.getsockname()[1]
    stop.set()
    t.join(2)
    listener.close()


def test_proxy_keeps_bytes_in_order_with_delay_and_passes_eof(echo_server: int) -> None:
    rng = random.Random(1)
    data = rng.randbytes(2_000_000)
    got = bytearray()
    with LinkProxy("127.0.0.1", echo_server, delay_s=0.01) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:

            def send() -> None:
                i = 0
                while i < len(data):
                    n = rng.randint(1, 70_000)
                    s.sendall(data[i : i + n])
                    i += n
                s.shutdown(socket.SHUT_WR)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            while chunk := s.recv(65536):  # ends only if the echo server's FIN came through
                got += chunk
            sender.join(10)
        assert bytes(got) == data
        assert proxy.bytes_up == proxy.bytes_down == len(data)
        assert proxy.connections == 1


def test_proxy_forwards_ssh_and_counts_bytes(sshd: SshdServer) -> None:
    with LinkProxy(sshd.host, sshd.port) as proxy, connect(sshd, via=proxy) as client:
        assert exec_out(client, "echo via-proxy") == b"via-proxy\n"
        up, down = proxy.bytes_up, proxy.bytes_down
        assert up > 0 and down > 0
        assert len(exec_out(client, "head -c 100000 /dev/urandom")) == 100_000
        assert proxy.bytes_up > up
        assert proxy.bytes_down > down + 100_000
        assert proxy.connections == 1


def test_proxy_delay_adds_round_trip(sshd: SshdServer) -> None:
    with LinkProxy(sshd.host, sshd.port) as fast, connect(sshd, via=fast) as client:
        baseline = best_round_trip(open_cat(client))
    with LinkProxy(sshd.host, sshd.port, delay_s=0.05) as slow, connect(sshd, via=slow) as client:
        delayed = best_round_trip(open_cat(client))
    assert baseline < 0.05, baseline
    assert 0.1 <= delayed < 0.1 + 0.1, delayed


def test_proxy_cut_breaks_open_session(sshd: SshdServer) -> None:
    with LinkProxy(sshd.host, sshd.port) as proxy:
        with connect(sshd, via=proxy) as client:
            assert exec_out(client, "echo before") == b"before\n"
            t0 = time.monotonic()
            proxy.cut()
            with pytest.raises(LINK_ERRORS):
                exec_out(client, "echo after")
            assert time.monotonic() - t0 < 5
        # The link comes back for new connections.
        with connect(sshd, via=proxy) as client:
            assert exec_out(client, "echo again") == b"again\n"
        assert proxy.connections == 2


def test_proxy_stall_holds_data_until_resume(sshd: SshdServer) -> None:
    with LinkProxy(sshd.host, sshd.port) as proxy, connect(sshd, via=proxy) as client:
        chan = open_cat(client)
        assert echo(chan) == b"ping\n"
        proxy.stall()
        before = (proxy.bytes_up, proxy.bytes_down)
        chan.sendall(b"held\n")
        chan.settimeout(0.5)
        with pytest.raises(TimeoutError):
            chan.recv(100)
        assert (proxy.bytes_up, proxy.bytes_down) == before
        proxy.resume()
        chan.settimeout(5)
        got = b""
        while len(got) < 5:
            got += chan.recv(100)
        assert got == b"held\n"


def test_proxy_stall_after_stops_the_link_at_a_byte_count(sshd: SshdServer) -> None:
    """stall_after: the link stops by itself once that many bytes went up,
    whatever the speed of either end; resume lets the rest through."""
    with LinkProxy(sshd.host, sshd.port) as proxy, connect(sshd, via=proxy) as client:
        chan = open_cat(client)
        assert echo(chan) == b"ping\n"
        assert not proxy.wait_stalled(0.1)
        proxy.stall_after(100 << 10)
        start = proxy.bytes_up
        sender = threading.Thread(target=chan.sendall, args=(b"x" * (1 << 20),))
        sender.start()
        assert proxy.wait_stalled(20)
        held = proxy.bytes_up - start
        assert 100 << 10 <= held < 1 << 20, held
        time.sleep(0.2)
        assert proxy.bytes_up - start == held  # nothing more while stalled
        proxy.resume()
        sender.join(20)
        chan.settimeout(20)
        got = 0
        while got < 1 << 20:
            got += len(chan.recv(1 << 16))
        assert got == 1 << 20


def test_proxy_refuse_closes_new_connections(sshd: SshdServer) -> None:
    with LinkProxy(sshd.host, sshd.port) as proxy:
        proxy.refuse(True)
        with pytest.raises(LINK_ERRORS):
            connect(sshd, via=proxy)
        assert proxy.refused == 1 and proxy.connections == 0
        proxy.refuse(False)
        with connect(sshd, via=proxy) as client:
            assert exec_out(client, "echo in") == b"in\n"
        assert proxy.connections == 1


def test_proxy_close_stops_everything(echo_server: int) -> None:
    proxy = LinkProxy("127.0.0.1", echo_server).start()
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    proxy.close()
    proxy.close()  # idempotent
    with pytest.raises(ConnectionResetError):  # cut with RST, not a polite FIN
        s.recv(1)
    s.close()
    deadline = time.monotonic() + 3
    while any(t.name.startswith("LinkProxy") for t in threading.enumerate()):
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.02)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()


def test_wait_until_polls_until_true_and_gives_up_at_the_deadline() -> None:
    calls = iter(range(100))
    assert wait_until(lambda: next(calls) == 3, timeout=30, interval=0.001)
    assert next(calls) == 4  # stopped polling as soon as it was true
    assert not wait_until(lambda: False, timeout=0.05, interval=0.01)


def test_proxy_rate_limit_paces_a_transfer_and_keeps_the_bytes(echo_server: int) -> None:
    """1 MB at 2 MB/s each way cannot arrive back in under 0.5 s, whatever the
    load (a lower bound only: a slow machine may take longer, never shorter)."""
    data = random.Random(2).randbytes(1_000_000)
    rate = 2_000_000
    got = bytearray()
    with LinkProxy("127.0.0.1", echo_server, rate_bytes_per_s=rate) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
            start = time.monotonic()
            sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            sender.start()
            while chunk := s.recv(65536):
                got += chunk
            elapsed = time.monotonic() - start
            sender.join(10)
    assert bytes(got) == data
    assert proxy.bytes_up == proxy.bytes_down == len(data)
    # One ~10 ms piece and the 50 ms burst credit may go at once; the rest waits its turn.
    assert elapsed >= (len(data) - rate / 100 - rate * 0.05) / rate


def test_proxy_rate_limit_can_be_lifted_while_running(echo_server: int) -> None:
    """At 1 KB/s, 200 KB would need 200 s; lifting the limit lets it through."""
    data = bytes(200_000)
    with LinkProxy("127.0.0.1", echo_server, rate_bytes_per_s=1000) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as s:
            s.sendall(data)
            assert wait_until(lambda: proxy.bytes_up > 0)
            proxy.rate_bytes_per_s = None
            got = bytearray()
            while len(got) < len(data):
                chunk = s.recv(65536)
                assert chunk
                got += chunk
    assert bytes(got) == data


def test_proxy_rejects_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="rate_bytes_per_s must be positive"):
        LinkProxy("127.0.0.1", 9, rate_bytes_per_s=0)
