"""Connection set-up: the probe rides in the first worker shell's exec
request (OpenSSH grows a session channel's window only once that request is
handled, so a probe sent behind it would wait a round trip for the window)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from remote_mcp.session import Session
from remote_mcp.templates import render
from remote_mcp.testing import SshdServer
from tests.conftest import make_host, require_program

LOGIN_SHELLS = ["sh", "dash", "bash", "zsh", "csh", "tcsh", "busybox"]


@pytest.mark.parametrize("login_shell", LOGIN_SHELLS)
def test_the_folded_probe_runs_under_every_login_shell(login_shell: str) -> None:
    """The exec request runs under the user's login shell, whatever it is:
    one line, one pair of single quotes, no `!`, and the probe's answer
    framed by its sentinel before the shell reads its commands."""
    start = render("shell_start.sh.j2", marker="M_1", sentinel="S_1")
    assert start.count("\n") == 1 and start.count("'") == 2 and "!" not in start
    program = [require_program(login_shell)]
    if login_shell == "busybox":
        program.append("sh")
    proc = subprocess.run(
        [*program, "-c", start],
        input=b"echo the shell reads stdin\n",
        capture_output=True,
        timeout=30,
    )
    out = proc.stdout.decode()
    assert out.startswith("M_1\n"), out
    head, _, rest = out[4:].partition("\nS_1 0\n")
    assert rest == "the shell reads stdin\n", out
    assert "home=" in head and "has=" in head, out
    assert proc.stderr.decode() == "M_1\nS_1\n"


@pytest.fixture
def sent_data() -> Iterator[list[bytes]]:
    """Every payload sent on any channel (paramiko's own sendall, observed)."""
    sent: list[bytes] = []
    original = paramiko.Channel.sendall

    def sendall(self: paramiko.Channel, data: bytes) -> None:
        sent.append(bytes(data))
        original(self, data)

    paramiko.Channel.sendall = sendall  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        paramiko.Channel.sendall = original  # type: ignore[method-assign]


def test_connecting_sends_no_command_behind_an_exec_request(
    sshd: SshdServer, sent_data: list[bytes]
) -> None:
    session = Session(make_host(sshd))
    try:
        info = session.connect()
        assert info.home.startswith("/") and "gnu_grep" in info.has
        assert sent_data == []  # the probe went in the exec request
        # The shell the probe started is a worker like the others.
        assert session.run("echo $((6 * 7))").stdout == "42\n"
    finally:
        session.close()


EARLY_PROBE = """
import sys
import remote_mcp.early_connect as early

started = []
original = early.EarlyConnect.__init__


def spy(self, *args, **kwargs):
    started.append("mcp" in sys.modules)
    original(self, *args, **kwargs)


early.EarlyConnect.__init__ = spy
ready = []
original_skip = early.skip_sdk_extras


def spy_skip():
    module = sys.modules.get("remote_mcp.connection")  # there from the import's start
    ready.append(hasattr(module, "HostConnection"))  # defined once it has run
    original_skip()


early.skip_sdk_extras = spy_skip
from remote_mcp import cli

cli.main(["--config", sys.argv[1], "--host", "h"])
print("connect began with the MCP SDK imported:", started, file=sys.stderr)
print("handshake modules loaded before the SDK's import:", ready, file=sys.stderr)
unused = ("mcp.client", "mcp.server.mcpserver")
print("unused SDK parts imported:", [m for m in unused if m in sys.modules], file=sys.stderr)
"""


def test_the_server_starts_connecting_before_it_imports_the_mcp_sdk(tmp_path: Path) -> None:
    """The SDK's import takes most of a second: the handshake overlaps it;
    and the SDK's parts a stdio server never uses are not imported at all."""
    config = tmp_path / "config.yaml"
    # Port 1 on loopback: refused at once (the server starts anyway).
    config.write_text("hosts:\n  h:\n    hostname: 127.0.0.1\n    port: 1\n    user: nobody\n")
    proc = subprocess.run(
        [sys.executable, "-c", EARLY_PROBE, str(config)],
        input=b"",  # EOF at once: the server exits after starting
        capture_output=True,
        timeout=120,
    )
    assert b"connect began with the MCP SDK imported: [False]" in proc.stderr, proc.stderr
    # ... and the modules the handshake needs are in before the SDK's import
    # starts: two threads importing at once would slow each other down.
    assert b"handshake modules loaded before the SDK's import: [True]" in proc.stderr
    # A stdio server needs neither the SDK's client nor its high-level server.
    assert b"unused SDK parts imported: []" in proc.stderr, proc.stderr


def test_the_ssh_socket_sends_small_packets_at_once(sshd: SshdServer) -> None:
    """Nagle's algorithm would hold a command back until the previous packet
    is acknowledged: a round trip more on a real link."""
    session = Session(make_host(sshd))
    try:
        transport = session.conn.transport()
        assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        session.close()


def test_the_bash_shell_channel_opens_while_connecting(sshd: SshdServer) -> None:
    """Its channel open and exec round trips overlap the probe's, so the
    first Bash call pays only for initialising the shell and its command."""
    session = Session(make_host(sshd))
    try:
        session.connect()
        channel = session.bash.channel
        assert channel is not None and channel.alive
    finally:
        session.close()
    denied = Session(make_host(sshd, bash="deny"))
    try:
        denied.connect()
        assert denied.bash.channel is None  # no Bash tool: no shell for it
    finally:
        denied.close()
