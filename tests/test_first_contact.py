"""First contact with a host (issue 10): hosts from ~/.ssh/config alone,
ProxyJump chains, and every connection failure as one line, no traceback.

The ssh_config is written into the test HOME (hermetic, see conftest) and
removed afterwards; tests that must see no config.yaml move it aside.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp.config import HostConfig, load_config
from remote_mcp.connection import HostConnection
from remote_mcp.errors import ConfigError
from remote_mcp.testing import SshdServer, free_port, start_sshd

HOME = Path(os.environ["HOME"])
SSH_CONFIG = HOME / ".ssh" / "config"
CONFIG_YAML = HOME / ".config" / "remote-mcp" / "config.yaml"
KEY = HOME / ".ssh" / "id_ed25519"


@pytest.fixture
def ssh_config(sshd: SshdServer) -> Iterator[Path]:
    """~/.ssh/config of the test HOME; the test writes it, this removes it."""
    yield SSH_CONFIG
    SSH_CONFIG.unlink(missing_ok=True)


@pytest.fixture
def no_config_yaml(sshd: SshdServer) -> Iterator[None]:
    """No ~/.config/remote-mcp/config.yaml for the duration of the test."""
    aside = CONFIG_YAML.with_suffix(".aside")
    CONFIG_YAML.rename(aside)
    try:
        yield
    finally:
        aside.rename(CONFIG_YAML)


def extra_sshd(tmp_path: Path, name: str, main: SshdServer) -> SshdServer:
    """Another sshd accepting the test client key (its host key is known nowhere)."""
    server = start_sshd(tmp_path / name)
    for path in (tmp_path / name).glob("authorized_keys*"):
        path.write_text(main.client_key.with_suffix(".pub").read_text())
    return server


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remote_mcp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ},
        check=False,
    )


def test_ssh_config_only_host_with_its_own_known_hosts_file(
    sshd: SshdServer, tmp_path: Path, ssh_config: Path, no_config_yaml: None
) -> None:
    """Host alias only in ~/.ssh/config (via Include), a UserKnownHostsFile
    that is not ~/.ssh/known_hosts, and no config.yaml at all."""
    other = extra_sshd(tmp_path, "other", sshd)
    try:
        own_known = tmp_path / "known_hosts_other"
        own_known.write_text(other.known_hosts_line + "\n")
        included = HOME / ".ssh" / "conf.d" / "other.conf"
        included.parent.mkdir(exist_ok=True)
        included.write_text(
            f"Host myalias\n  HostName {other.host}\n  Port {other.port}\n  User {other.user}\n"
            f"  IdentityFile {KEY}\n  UserKnownHostsFile {own_known}\n"
            "  StrictHostKeyChecking yes\n  Compression no\n  ConnectTimeout 7\n"
        )
        ssh_config.write_text("Include conf.d/*.conf\n")
        host = load_config().host("myalias")
        conn = HostConnection(host)
        assert conn.target().connect_timeout_s == 7 and conn.target().compression is False
        fabric_conn = conn.open()
        assert int(fabric_conn.port) == other.port
        assert fabric_conn.run("echo via-alias", hide=True, in_stream=False).stdout == "via-alias\n"
        conn.close()
        # The CLI self-test works with the alias alone, too.
        proc = run_cli("--host", "myalias", "--test")
        assert proc.stdout == f"Connected to myalias ({other.user}@127.0.0.1). All tools: OK\n"
        assert proc.returncode == 0, proc.stderr
    finally:
        other.stop()
        included.unlink(missing_ok=True)


def test_strict_host_key_checking_no_is_refused(sshd: SshdServer, ssh_config: Path) -> None:
    ssh_config.write_text(f"Host lax\n  HostName {sshd.host}\n  StrictHostKeyChecking no\n")
    with pytest.raises(ConfigError, match="never accepts unknown host keys silently"):
        HostConnection(HostConfig(name="lax", hostname="lax")).open()


def test_two_hop_proxy_jump_from_ssh_config(
    sshd: SshdServer, tmp_path: Path, ssh_config: Path
) -> None:
    hop1 = extra_sshd(tmp_path, "hop1", sshd)
    hop2 = extra_sshd(tmp_path, "hop2", sshd)
    try:
        jumps_known = tmp_path / "known_hosts_jumps"
        jumps_known.write_text(f"{hop1.known_hosts_line}\n{hop2.known_hosts_line}\n")
        hop = "Host {}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n"
        ssh_config.write_text(
            hop.format("hop1", hop1.port, hop1.user, KEY)
            + f"  UserKnownHostsFile {jumps_known}\n"
            + hop.format("hop2", hop2.port, hop2.user, KEY)
            + f"  UserKnownHostsFile {jumps_known}\n"
            + hop.format("inner", sshd.port, sshd.user, KEY)
            + "  ProxyJump hop1,hop2\n"
        )
        conn = HostConnection(HostConfig(name="inner", hostname="inner"))
        fabric_conn = conn.open()
        try:
            assert int(fabric_conn.gateway.port) == hop2.port
            assert int(fabric_conn.gateway.gateway.port) == hop1.port
            result = fabric_conn.run("echo two-hops", hide=True, in_stream=False)
            assert result.stdout == "two-hops\n"
        finally:
            conn.close()
        assert not fabric_conn.gateway.is_connected
        # A hop whose key is unknown is refused like any host (strict).
        jumps_known.write_text(hop1.known_hosts_line + "\n")
        with pytest.raises(Exception, match=rf"Host key for \[127.0.0.1\]:{hop2.port} is not"):
            HostConnection(HostConfig(name="inner", hostname="inner")).open()
    finally:
        hop1.stop()
        hop2.stop()


def test_literal_user_at_host_port(sshd: SshdServer) -> None:
    host = load_config().host(f"{sshd.user}@127.0.0.1:{sshd.port}")
    assert (host.user, host.hostname, host.port) == (sshd.user, "127.0.0.1", sshd.port)
    conn = HostConnection(host)
    conn.open()
    conn.close()


def test_bad_other_host_entry_does_not_stop_this_one(sshd: SshdServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "# my hosts\nhosts:\n"
        "  broken:\n    hostname: x\n    port: '22'\n"
        f"  good:\n    hostname: 127.0.0.1\n    port: {sshd.port}\n    user: {sshd.user}\n"
    )
    cfg = load_config(config)
    assert cfg.host("good").port == sshd.port
    with pytest.raises(ConfigError) as err:
        cfg.host("broken")
    assert str(err.value).startswith(f"{config}:5: hosts.broken.port: expected int")
    proc = run_cli("--config", str(config), "--host", "good", "--test")
    assert proc.stdout == f"Connected to good ({sshd.user}@127.0.0.1). All tools: OK\n"


def test_yaml_syntax_error_is_one_line_with_position(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("hosts:\n  a:\n    allowed_paths: [/srv, /tmp\n")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert str(err.value).startswith(f"{config}:4:1: expected ',' or ']'")
    assert "\n" not in str(err.value) and "<unicode string>" not in str(err.value)


# -- every connection failure: one line, printed once, no traceback ----------


class SilentListener:
    """A TCP port that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def failing_config(tmp_path: Path, sshd: SshdServer, **keys: object) -> Path:
    values = {
        "hostname": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "key_path": str(KEY),
        "connect_timeout_s": 3,
        **keys,
    }
    lines = ["hosts:", "  h:"] + [f"    {k}: {v}" for k, v in values.items() if v is not None]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_one_failure_line(proc: subprocess.CompletedProcess[str], needle: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr  # no log copy, no traceback
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    assert lines[0].startswith("remote-mcp --test h: connect failed: "), lines[0]
    assert needle in lines[0], lines[0]
    assert lines[0].endswith("Run `remote-mcp doctor --host h` for a step-by-step diagnosis.")
    assert ".." not in lines[0] and "?." not in lines[0]
    return lines[0]


def test_silent_host_fails_within_connect_timeout(sshd: SshdServer, tmp_path: Path) -> None:
    listener = SilentListener()
    try:
        config = failing_config(tmp_path, sshd, port=listener.port, connect_timeout_s=2)
        # Time the connect alone, in-process (interpreter start-up is not ours to judge).
        host = load_config(config).host("h")
        start = time.monotonic()
        with pytest.raises(Exception, match="accepted the connection but sent no SSH banner"):
            HostConnection(host).open()
        assert time.monotonic() - start < 2 + 5  # was 16 s: the banner wait follows the setting
        proc = run_cli("--config", str(config), "--host", "h", "--test")
        assert_one_failure_line(
            proc,
            f"127.0.0.1:{listener.port} accepted the connection but sent no SSH banner within 2 s",
        )
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("refused", "refused the connection: no SSH server listens on port"),
        ("dns", "cannot resolve host name 'no-such-host.invalid'"),
        ("unknown-key", "is not in known_hosts"),
        ("changed-key", "HOST KEY CHANGED"),
        ("wrong-key", "authentication failed for"),
        ("key-missing", "does not exist: fix key_path"),
        ("key-dir", "is a directory, not a private key file"),
        ("key-pub", "is a public key: give the private key file"),
        ("key-encrypted", "is encrypted with a passphrase and no ssh-agent is running"),
        ("key-unreadable", "cannot be read"),
    ],
)
def test_connection_failures_are_one_line(
    sshd: SshdServer, tmp_path: Path, case: str, needle: str
) -> None:
    keys: dict[str, object] = {}
    hidden = None
    if case == "refused":
        keys["port"] = free_port()
    elif case == "dns":
        keys["hostname"] = "no-such-host.invalid"
    elif case in ("unknown-key", "changed-key"):
        store = tmp_path / "kh"
        stale = f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{'B' * 43}\n"
        store.write_text("" if case == "unknown-key" else stale)
        # Only this file: move the HOME's known_hosts line out of reach.
        hidden = HOME / ".ssh" / "known_hosts"
        hidden.rename(hidden.with_suffix(".aside"))
        keys["known_hosts"] = str(store)
    elif case == "wrong-key":
        other = tmp_path / "other_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True
        )
        keys["key_path"] = str(other)
    elif case == "key-missing":
        keys["key_path"] = str(tmp_path / "nope")
    elif case == "key-dir":
        keys["key_path"] = str(tmp_path)
    elif case == "key-pub":
        keys["key_path"] = str(sshd.client_key.with_suffix(".pub"))
    elif case == "key-encrypted":
        enc = tmp_path / "enc_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(enc)], check=True
        )
        keys["key_path"] = str(enc)
    elif case == "key-unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        unreadable = tmp_path / "k"
        unreadable.write_text("x")
        unreadable.chmod(0)
        keys["key_path"] = str(unreadable)
    default_key = KEY.with_suffix(".hidden")
    if case == "wrong-key":
        KEY.rename(default_key)  # else the default ~/.ssh/id_ed25519 is tried too
    try:
        config = failing_config(tmp_path, sshd, **keys)
        line = assert_one_failure_line(
            run_cli("--config", str(config), "--host", "h", "--test"), needle
        )
    finally:
        if hidden is not None:
            hidden.with_suffix(".aside").rename(hidden)
        if case == "wrong-key":
            default_key.rename(KEY)
    if case == "changed-key":
        assert f"ssh-keygen -f {tmp_path / 'kh'} -R '[127.0.0.1]:{sshd.port}'" in line
    if case == "wrong-key":
        assert f"key {tmp_path / 'other_key'}" in line and "no ssh-agent" in line


def test_verbose_shows_paramiko_details(sshd: SshdServer, tmp_path: Path) -> None:
    config = failing_config(tmp_path, sshd, port=free_port())
    quiet = run_cli("--config", str(config), "--host", "h", "--test")
    assert quiet.stderr == ""
    loud = run_cli("--host", "test", "--test", "--verbose")
    assert loud.stdout == f"Connected to test ({sshd.user}@127.0.0.1). All tools: OK\n"
    assert "remote-mcp: paramiko.transport: " in loud.stderr


# -- a broken config still answers the MCP client --------------------------


def test_config_errors_reach_the_agent(sshd: SshdServer, tmp_path: Path) -> None:
    """The server answers initialize and tools/list; each tool call returns
    the one-line config error (file, line, what, fix) as an isError result."""
    import anyio
    from mcp import Client, StdioServerParameters

    config = tmp_path / "config.yaml"
    config.write_text("hosts:\n  prod:\n    hostname: x\n    port: 'ssh'\n")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "remote_mcp", "--config", str(config), "--host", "prod"],
        env={**os.environ},
    )

    async def main() -> tuple[list[str], list[tuple[bool, str]]]:
        async with Client(params, mode="legacy") as client:
            names = [t.name for t in (await client.list_tools()).tools]
            replies = []
            for tool, args in (
                ("Read", {"file_path": "/etc/hostname"}),
                ("Bash", {"command": "id"}),
            ):
                result = await client.call_tool(tool, args)
                replies.append((bool(result.is_error), result.content[0].text))
            return names, replies

    names, replies = anyio.run(main)
    assert "Read" in names and "Bash" in names
    for is_error, text in replies:
        assert is_error
        assert f"{config}:4: hosts.prod.port: expected int, got str 'ssh'." in text
        assert "\n" not in text and "restart this MCP server" in text


def test_jump_hosts_own_proxy_jump_comes_first_and_loops_are_refused(ssh_config: Path) -> None:
    from remote_mcp.target import resolve_target

    ssh_config.write_text(
        "Host bastion\n  HostName 10.0.0.1\n  User jump\n"
        "Host inner\n  HostName 10.0.0.2\n  ProxyJump bastion\n"
        "Host target\n  HostName 10.0.0.3\n  ProxyJump inner\n"
        "Host loop\n  ProxyJump loop\n"
    )
    target = resolve_target(HostConfig(name="target", hostname="target"))
    assert [(hop.alias, hop.hostname) for hop in target.jumps] == [
        ("bastion", "10.0.0.1"),
        ("inner", "10.0.0.2"),
    ]
    assert target.jumps[0].user == "jump"
    with pytest.raises(ConfigError, match="is there a loop in ~/.ssh/config"):
        resolve_target(HostConfig(name="loop", hostname="loop"))


def test_an_edited_ssh_config_is_seen_at_the_next_lookup(ssh_config: Path) -> None:
    from remote_mcp.ssh_config import load_ssh_config

    ssh_config.write_text("Host gpu1\n  User first\n")
    assert load_ssh_config().lookup("gpu1")["user"] == "first"
    ssh_config.write_text("Host gpu1\n  User second\n")
    assert load_ssh_config().lookup("gpu1")["user"] == "second"


def test_a_host_is_looked_up_once_per_config_text(ssh_config: Path, monkeypatch) -> None:
    """paramiko matches every Host pattern at each lookup: a fleet's hosts
    (and each reconnect) take the answer kept for the unchanged text."""
    import paramiko

    from remote_mcp.ssh_config import load_ssh_config

    asked: list[str] = []
    real_lookup = paramiko.SSHConfig.lookup
    monkeypatch.setattr(
        paramiko.SSHConfig, "lookup", lambda self, h: asked.append(h) or real_lookup(self, h)
    )
    ssh_config.write_text("".join(f"Host node{i:02d}\n  Port {2200 + i}\n" for i in range(40)))
    for _ in range(3):
        entry = load_ssh_config().lookup("node07")
        assert entry["port"] == "2207"
        entry["port"] = "mutated by a caller"  # callers get copies
    assert asked == ["node07"]


def test_match_exec_is_run_again_at_each_lookup(ssh_config: Path, tmp_path: Path) -> None:
    """An answer that depends on a command (on the VPN or not) is not kept."""
    from remote_mcp.ssh_config import load_ssh_config

    flag = tmp_path / "on-vpn"
    ssh_config.write_text(
        f'Match host gpu1 exec "test -e {flag}"\n  User inside\nHost gpu1\n  User outside\n'
    )
    assert load_ssh_config().lookup("gpu1")["user"] == "outside"
    flag.touch()
    assert load_ssh_config().lookup("gpu1")["user"] == "inside"
