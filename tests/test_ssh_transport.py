"""Connection set-up without waits: the authentication request follows the
service request at once, and the session channels a session opens at
connect ride behind the authentication request (remote_mcp.ssh_transport),
against the real sshd, with and without compression."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from remote_mcp.session import Session
from remote_mcp.ssh_transport import Transport
from remote_mcp.testing import LinkProxy, SshdServer
from tests.conftest import make_host

SERVICE_REQUEST, USERAUTH_REQUEST, CHANNEL_OPEN = 5, 50, 90


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, bool, bool]]]:
    """Every message our client transports send: (type, authenticated,
    service accepted)."""
    log: list[tuple[int, bool, bool]] = []
    send = paramiko.Transport._send_message  # type: ignore[attr-defined]

    def record(self: paramiko.Transport, data: paramiko.Message) -> None:
        if isinstance(self, Transport):  # not a test's own server
            accepted = self._service_userauth_accepted
            log.append((data.asbytes()[0], self.authenticated, accepted))
        send(self, data)

    # The base class's: every message once, whichever layer sends it.
    monkeypatch.setattr(paramiko.Transport, "_send_message", record)
    yield log


def _run(channel: paramiko.Channel, command: str) -> bytes:
    channel.exec_command(command)
    out = b""
    while chunk := channel.recv(4096):
        out += chunk
    assert channel.recv_exit_status() == 0
    return out


@pytest.fixture
def slow_link(sshd: SshdServer, tmp_path: Path) -> Iterator[tuple[LinkProxy, str]]:
    """sshd behind a link of 200 ms RTT, far longer than signing a request
    takes here: an answer cannot arrive before the request that follows it."""
    with LinkProxy("127.0.0.1", sshd.port, delay_s=0.1) as link:
        known = tmp_path / "known_hosts"
        known.write_text(sshd.known_hosts_line.replace(f"]:{sshd.port} ", f"]:{link.port} ") + "\n")
        yield link, str(known)


@pytest.mark.parametrize("compression", [True, False])
def test_a_session_opens_its_channels_behind_the_auth_request(
    sshd: SshdServer,
    slow_link: tuple[LinkProxy, str],
    sent: list[tuple[int, bool, bool]],
    compression: bool,
) -> None:
    link, known = slow_link
    host = make_host(sshd, port=link.port, known_hosts=known, compression=compression)
    session = Session(host)
    try:
        info = session.connect()
        transport = session.conn.transport()
        assert isinstance(transport, Transport)
        assert transport.local_compression == ("zlib@openssh.com" if compression else "none")
        types = [t for t, _, _ in sent]
        # One service request, the auth request right behind it (before the
        # service was accepted), then every channel the session opens at
        # connect before the server's answer to the auth request.
        assert types.count(SERVICE_REQUEST) == 1
        auth = types.index(USERAUTH_REQUEST)
        assert sent[auth][2] is False
        opens = [i for i, t in enumerate(types) if t == CHANNEL_OPEN]
        assert len(opens) == host.channels_at_connect == 4
        assert opens == list(range(auth + 1, auth + 1 + len(opens)))
        assert all(not authenticated for _, authenticated, _ in sent[: opens[-1] + 1])
        assert transport.take_early_channel() is None  # all of them were used
        # They carry the probe and the worker shells.
        assert info.home
        result = session.run("printf '%s' ok")
        assert result.stdout == "ok"
    finally:
        session.close()


@pytest.mark.parametrize("compression", [True, False])
def test_a_failed_first_request_sends_the_opens_again(
    sshd: SshdServer, tmp_path: Path, sent: list[tuple[int, bool, bool]], compression: bool
) -> None:
    """OpenSSH answers an open that followed a failed request with
    UNIMPLEMENTED: the opens are sent again after success (uncompressed
    before it, in the new compression stream after it)."""
    stranger = paramiko.Ed25519Key.from_private_key_file(str(_other_key(tmp_path)))
    ours = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))
    transport = Transport(socket.create_connection((sshd.host, sshd.port)))
    transport.use_compression(compression)
    transport.early_sessions = 2
    transport.early_session_window = 1 << 20
    transport.early_session_timeout = 10.0
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_publickey(sshd.user, stranger)
        assert transport.auth_publickey(sshd.user, ours) == []
        outputs = []
        for _ in range(2):
            channel = transport.take_early_channel()
            assert channel is not None
            outputs.append(_run(channel, "echo early"))
        assert outputs == [b"early\n", b"early\n"]
        assert transport.take_early_channel() is None
        # A channel opened the usual way works after them.
        assert _run(transport.open_session(), "echo later") == b"later\n"
        types = [t for t, _, _ in sent]
        assert types.count(CHANNEL_OPEN) == 2 * 2 + 1  # the early ones twice, the later once
        assert types.count(SERVICE_REQUEST) == 1  # asked once for both attempts
    finally:
        transport.close()


def test_a_refused_key_alone_is_still_an_authentication_failure(
    sshd: SshdServer, tmp_path: Path
) -> None:
    stranger = paramiko.Ed25519Key.from_private_key_file(str(_other_key(tmp_path)))
    transport = Transport(socket.create_connection((sshd.host, sshd.port)))
    transport.early_sessions = 1
    transport.early_session_window = 1 << 20
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_publickey(sshd.user, stranger)
        assert not transport.is_authenticated()
        assert transport.is_active()  # the early open did not break the connection
    finally:
        transport.close()


def _other_key(tmp_path: Path) -> Path:
    """A key the server does not know."""
    path = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


class _KeyOnlyServer(paramiko.ServerInterface):
    """A server that is not OpenSSH (paramiko's own), accepting one key."""

    def __init__(self, key: paramiko.PKey) -> None:
        self.key = key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL if key == self.key else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED


def test_a_server_that_is_not_openssh_gets_no_early_open(
    sshd: SshdServer, sent: list[tuple[int, bool, bool]]
) -> None:
    """Only OpenSSH is known to queue an open sent during authentication
    (dropbear drops the connection): elsewhere the channel is opened after
    success, the usual way."""
    ours = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))
    listener = socket.create_server(("127.0.0.1", 0))
    server_side: list[paramiko.Transport] = []

    def serve() -> None:
        conn, _ = listener.accept()
        t = paramiko.Transport(conn)
        t.add_server_key(paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key)))
        t.start_server(server=_KeyOnlyServer(ours))
        server_side.append(t)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    transport = Transport(socket.create_connection(listener.getsockname()))
    transport.early_sessions = 2
    transport.early_session_window = 1 << 20
    try:
        transport.start_client(timeout=10)
        assert transport.remote_version.startswith("SSH-2.0-paramiko")
        assert transport.auth_publickey(sshd.user, ours) == []
        assert transport.take_early_channel() is None
        assert transport.open_session() is not None  # the usual way works
        client_sent = [t for t, _, _ in sent]
        assert CHANNEL_OPEN in client_sent
        first_open = client_sent.index(CHANNEL_OPEN)
        assert sent[first_open][1] is True  # sent once authenticated
    finally:
        transport.close()
        thread.join(10)
        for t in server_side:
            t.close()
        listener.close()


def test_an_answer_parsed_before_the_request_call_returns_is_not_lost(
    sshd: SshdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """paramiko made the event an auth answer sets only after sending the
    request: an answer parsed in between (the transport thread ran first, as
    it does while the server process imports the MCP SDK) was lost and the
    caller waited for the authentication timeout."""
    send = Transport._send_message

    def slow_caller(self: Transport, data: paramiko.Message) -> None:
        send(self, data)
        if data.asbytes()[0] == USERAUTH_REQUEST:
            deadline = time.monotonic() + 5
            while not self.auth_handler.authenticated and time.monotonic() < deadline:
                time.sleep(0.01)  # the answer is parsed before this call returns

    monkeypatch.setattr(Transport, "_send_message", slow_caller)
    ours = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))
    transport = Transport(socket.create_connection((sshd.host, sshd.port)))
    transport.auth_timeout = 3
    try:
        transport.start_client(timeout=10)
        assert transport.auth_publickey(sshd.user, ours) == []
        assert transport.is_authenticated()
    finally:
        transport.close()


def test_a_session_with_early_channels_survives_a_key_renegotiation(sshd: SshdServer) -> None:
    """Rekeying (paramiko: every 512 MB) starts new compression streams on
    both ends: the stream the early opens began must not outlive it."""
    session = Session(make_host(sshd, compression=True))
    try:
        session.connect()
        transport = session.conn.transport()
        assert transport.local_compression == "zlib@openssh.com"
        transport.renegotiate_keys()  # returns once the new keys are in use
        for i in range(3):
            result = session.run(f"printf '%s' after{i}-" + "x" * 3000)
            assert result.stdout == f"after{i}-" + "x" * 3000
        assert transport.is_active()
    finally:
        session.close()
