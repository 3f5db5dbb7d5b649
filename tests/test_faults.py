"""Dropped links: nothing lost, nothing applied twice, the agent is told.

A LinkProxy sits between the Session and the test sshd and cuts the TCP
connection (RST) at chosen moments.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import threading
import time
from pathlib import Path

import anyio
import pytest

from remote_mcp.errors import ConnectionLost, RemoteTimeout
from remote_mcp.server import RemoteServer
from remote_mcp.session import Session
from remote_mcp.testing import LinkProxy, SshdServer
from remote_mcp.tools import files
from remote_mcp.tools.base import ToolState
from tests.conftest import make_host


@pytest.fixture
def proxy(sshd: SshdServer, tmp_path: Path):
    with LinkProxy("127.0.0.1", sshd.port) as link:
        known = tmp_path / "known_hosts"
        known.write_text(sshd.known_hosts_line.replace(f"]:{sshd.port} ", f"]:{link.port} ") + "\n")
        link.known_hosts = str(known)  # type: ignore[attr-defined]
        yield link


def proxied_host(sshd: SshdServer, proxy: LinkProxy, **extra: object):
    return make_host(sshd, port=proxy.port, known_hosts=proxy.known_hosts, **extra)  # type: ignore[attr-defined]


def call(server: RemoteServer, tool: str, args: dict) -> tuple[bool, str]:
    """One tool call through the server's dispatch (as over stdio)."""

    async def main():
        return await server._call_tool(_Ctx(), _Params(tool, args))

    result = anyio.run(main)
    return bool(result.is_error), result.content[0].text


class _Ctx:
    meta: dict = {}


class _Params:
    def __init__(self, name: str, arguments: dict) -> None:
        self.name, self.arguments = name, arguments


def test_read_after_a_cut_reconnects_and_warns(sshd, proxy, remote, remote_dir) -> None:
    remote.write_bytes(f"{remote_dir}/f.txt", b"hello\n")
    server = RemoteServer(proxied_host(sshd, proxy))
    try:
        assert call(server, "Read", {"file_path": f"{remote_dir}/f.txt"}) == (
            False,
            "     1\u2192hello",
        )
        proxy.cut()
        is_error, text = call(server, "Read", {"file_path": f"{remote_dir}/f.txt"})
        assert not is_error, text
        assert text.startswith("[WARNING] SSH connection to test was lost")
        assert text.endswith("     1\u2192hello")
        # Told once only.
        assert call(server, "Read", {"file_path": f"{remote_dir}/f.txt"})[1] == "     1\u2192hello"
        assert server.session.reconnects == 1
    finally:
        server.close()


def test_a_write_cut_mid_flight_is_not_rerun_and_never_half_written(
    sshd, proxy, remote, remote_dir
) -> None:
    path = f"{remote_dir}/big.txt"
    old = b"old content\n"
    remote.write_bytes(path, old)
    new = "".join(f"{i:09d} new content line\n" for i in range(300_000))  # ~7.5 MB
    server = RemoteServer(proxied_host(sshd, proxy))
    try:
        call(server, "Read", {"file_path": path})
        # The link stops once the first 64 KB of the Write are on the wire (of
        # about 1 MB even compressed), and is cut there: in flight whatever
        # either end's speed.
        proxy.stall_after(64 << 10)
        stalled: list[bool] = []

        def cut_mid_request() -> None:
            stalled.append(proxy.wait_stalled(60))
            proxy.cut()
            proxy.resume()

        timer = threading.Thread(target=cut_mid_request)
        timer.start()
        is_error, text = call(server, "Write", {"file_path": path, "content": new})
        timer.join()
        assert stalled == [True], "the Write never sent 64 KB"
        assert is_error, "the cut should have hit the write in flight"
        # Cut in the command: may or may not; cut while a large content is still
        # being sent over SFTP (tools/write_large.py): surely not.
        assert "may or may not have been applied" in text or f"{path} was not changed" in text
        digest = remote.sh(f"sha256sum < {shlex.quote(path)}").split()[0]
        assert digest in (
            hashlib.sha256(old).hexdigest(),
            hashlib.sha256(new.encode()).hexdigest(),
        ), "file was left half-written"
        leftovers = remote.sh(f"ls -A {shlex.quote(remote_dir)}").split()
        assert leftovers == ["big.txt"], leftovers
    finally:
        server.close()


def test_an_edit_cut_mid_flight_is_applied_exactly_once(sshd, proxy, remote, remote_dir) -> None:
    """The agent retries an Edit that a cut interrupted. Whether the first
    attempt landed or not, the line is added once: a landed first attempt
    makes the retry stale (the content hash moved), not a second insert."""
    path = f"{remote_dir}/e.txt"
    remote.sh(f"seq -f 'row %.0f' 1 400000 > {shlex.quote(path)}")
    edit = {"file_path": path, "old_string": "row 1\n", "new_string": "row 1\nADDED\n"}
    server = RemoteServer(proxied_host(sshd, proxy))
    try:
        call(server, "Read", {"file_path": path, "offset": 1, "limit": 1})
        # The request leaves at once; the reply (after a ~4 MB rewrite on the
        # remote) cannot beat the stall, so the first call always loses its link.
        timers = [threading.Timer(0.05, proxy.stall), threading.Timer(0.5, proxy.cut)]
        for t in timers:
            t.start()
        first_error, first = call(server, "Edit", edit)
        for t in timers:
            t.join()
        proxy.resume()
        assert first_error, first
        second_error, second = call(server, "Edit", edit)
        added = int(remote.sh(f"grep -c '^ADDED$' {shlex.quote(path)} || true"))
        assert "may or may not have been applied" in first, first
        if second_error:
            assert "modified since read" in second, second
        else:
            assert "has been updated" in second
        assert added == 1, (first, second)
    finally:
        server.close()


def test_session_reconnects_when_the_link_died_between_calls(sshd, proxy) -> None:
    session = Session(proxied_host(sshd, proxy))
    try:
        session.connect()
        assert session.run("echo ok").stdout == "ok\n"
        proxy.cut()
        deadline = time.monotonic() + 5
        while session.conn.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)  # paramiko notices the RST in its reader thread
        assert session.run("echo again").stdout == "again\n"
        assert session.take_warning().startswith("[WARNING] SSH connection to test was lost")
        assert session.take_warning() is None
    finally:
        session.close()


def test_a_command_cut_mid_flight_raises_connection_lost(sshd, proxy) -> None:
    session = Session(proxied_host(sshd, proxy))
    try:
        session.connect()
        threading.Timer(0.3, proxy.cut).start()
        with pytest.raises(ConnectionLost):
            session.run("sleep 3; echo late")
    finally:
        session.close()


def test_stalled_link_is_detected_by_the_operation_timeout(sshd, proxy, remote_dir) -> None:
    session = Session(proxied_host(sshd, proxy, op_timeout_s=2.0))
    try:
        session.connect()
        state = ToolState(info=session.info)
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(RemoteTimeout, match="did not answer within 2 s"):
            files.file_stat(session, [remote_dir], state=state)
        assert time.monotonic() - started < 10
    finally:
        proxy.resume()
        session.close()


def test_an_upload_temp_file_is_private_during_the_transfer_and_after_a_cut(
    sshd, proxy, remote, remote_dir, tmp_path
) -> None:
    """The temp file is 0600 before any data is in it, and a cut leaves at most
    that private partial file, with an error that says what happened."""
    src = tmp_path / "id_secret"
    src.write_bytes(os.urandom(16 << 20))  # incompressible
    server = RemoteServer(proxied_host(sshd, proxy))
    modes: list[str] = []
    listing = (
        f"cd {shlex.quote(remote_dir)} && for f in .rmcp-upload-*; do "
        '[ -s "$f" ] && stat -c %a -- "$f"; done; true'
    )

    def stall_mid_transfer_then_cut() -> None:
        # The link holds once 1 MB of the file is on its way: look at the
        # partial temp file through our own connection, then cut.
        deadline = time.monotonic() + 60
        if proxy.wait_stalled(60):
            while not modes and time.monotonic() < deadline:
                modes.extend(remote.sh(listing).split())
        proxy.cut()
        proxy.resume()

    try:
        assert call(server, "FileStat", {"paths": [remote_dir]})[0] is False  # connected
        proxy.stall_after(1 << 20)
        watcher = threading.Thread(target=stall_mid_transfer_then_cut)
        watcher.start()
        args = {"local_path": str(src), "remote_path": f"{remote_dir}/id_secret"}
        is_error, text = call(server, "Upload", args)
        watcher.join()
        assert modes == ["600"], modes
        assert is_error, "the cut should have hit the upload"
        assert "Internal error" not in text
        assert text.startswith(
            f"Upload of {src} to {remote_dir}/id_secret failed (the SSH connection dropped); "
            f"{remote_dir}/id_secret was not replaced."
        ), text
        assert not remote.exists(f"{remote_dir}/id_secret")
        left = remote.sh(listing.replace('[ -s "$f" ] && ', '[ -e "$f" ] && ')).split()
        assert set(left) <= {"600"}, left
    finally:
        server.close()
