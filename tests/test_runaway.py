"""Nothing runs on after its call: special files are refused before they are
opened, a worker command that runs over op_timeout_s or whose call is
cancelled is stopped on the remote, and every way the server exits (stdin EOF,
SIGINT, SIGTERM) stops what its in-flight calls started.

Remote processes are found by a unique marker in their command line; every
wait is a poll with a deadline.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
import uuid
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from remote_mcp.errors import RemoteTimeout, ToolError
from remote_mcp.session import Session
from remote_mcp.testing import SshdServer
from remote_mcp.tools import files, search
from remote_mcp.tools.base import ToolState
from tests.conftest import make_host
from tests.test_protocol import RawServer


def remote_processes(remote: Any, marker: str) -> list[str]:
    """Live remote processes whose command line has ``marker``."""
    out = remote.sh("ps -A -o stat= -o args=")
    return [line for line in out.splitlines() if marker in line and line.split()[0][0] not in "ZX"]


def wait_until_gone(remote: Any, marker: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while remote_processes(remote, marker):
        assert time.monotonic() < deadline, f"still running: {remote_processes(remote, marker)}"
        time.sleep(0.1)


def wait_until_running(remote: Any, marker: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while not remote_processes(remote, marker):
        assert time.monotonic() < deadline, f"never started: {marker}"
        time.sleep(0.1)


# -- special files ---------------------------------------------------------------
def test_read_refuses_a_fifo_at_once(
    session: Session, state: ToolState, remote, remote_dir
) -> None:
    fifo = f"{remote_dir}/pipe"
    remote.sh(f"mkfifo {shlex.quote(fifo)}")
    started = time.monotonic()
    with pytest.raises(ToolError, match="it is a FIFO"):
        files.read(session, fifo, state=state)
    out = files.multi_read(session, [{"file_path": fifo}, {"file_path": "/dev/zero"}], state=state)
    assert time.monotonic() - started < 10  # before the fix: blocked until op_timeout_s
    assert "it is a FIFO" in out.text and "it is a character device" in out.text


def test_read_of_devices_is_refused_before_opening(session: Session, state: ToolState) -> None:
    for device in ("/dev/zero", "/dev/urandom"):
        with pytest.raises(ToolError, match="character device"):
            files.read(session, device, offset=1, limit=5, state=state)


def test_proc_files_are_read_by_content(session: Session, state: ToolState, remote) -> None:
    expected = remote.sh("cat /proc/version").rstrip("\n")
    out = files.read(session, "/proc/version", state=state)
    assert out.text == f"     1\u2192{expected}"


def test_grep_refuses_a_fifo_given_as_path(session: Session, state: ToolState, remote, remote_dir):
    fifo = f"{remote_dir}/pipe"
    remote.sh(f"mkfifo {shlex.quote(fifo)}")
    with pytest.raises(ToolError, match="FIFO, socket or device"):
        search.grep(session, "x", fifo, output_mode="content", state=state)


# -- timeouts and cancellation of worker commands --------------------------------------
def sparse_file(remote: Any, remote_dir: str) -> tuple[str, str]:
    """A 64 GiB sparse file under a marker name: a Grep of it runs for minutes."""
    marker = f"rmcpslow{uuid.uuid4().hex[:10]}"
    path = f"{remote_dir}/{marker}"
    remote.sh(f"truncate -s 64G {shlex.quote(path)}")
    return marker, path


def test_a_grep_over_op_timeout_is_stopped_and_the_link_not_blamed(
    sshd: SshdServer, remote, remote_dir
) -> None:
    marker, path = sparse_file(remote, remote_dir)
    session = Session(make_host(sshd, op_timeout_s=2))
    try:
        session.connect()
        state = ToolState(host_name="test", info=session.info, cwd=session.info.home)  # type: ignore[union-attr]
        with pytest.raises(RemoteTimeout) as err:
            search.grep(session, marker, path, output_mode="content", state=state)
        assert "was stopped there (the link is fine" in str(err.value)
        assert "link may be down" not in str(err.value)
        wait_until_gone(remote, marker)
        # The worker shell survived: no reconnect, no warning.
        assert files.read(session, "/proc/version", state=state).text.startswith("     1")
        assert session.take_warning() is None
    finally:
        session.close()


def server() -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "remote_mcp", "--host", "test"], env={**os.environ}
    )


def test_a_cancelled_grep_is_stopped_on_the_remote(sshd: SshdServer, remote, remote_dir) -> None:
    marker, path = sparse_file(remote, remote_dir)

    async def main() -> Any:
        async with Client(server(), mode="legacy") as c:
            await c.call_tool("FileStat", {"paths": ["/"]})  # connected
            with anyio.move_on_after(2):  # the client gives up: notifications/cancelled
                await c.call_tool("Grep", {"pattern": marker, "path": path, "output_mode": "count"})
            deadline = time.monotonic() + 15
            while remote_processes(remote, marker):
                assert time.monotonic() < deadline, "the cancelled Grep still runs"
                await anyio.sleep(0.1)
            return await c.call_tool("FileStat", {"paths": ["/"]})

    after = anyio.run(main)
    assert not after.is_error


# -- every exit path stops in-flight commands ----------------------------------------
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_running_bash_loop(sshd: SshdServer, remote, how: str) -> None:
    marker = f"rmcploop{uuid.uuid4().hex[:10]}"
    server = RawServer("--host", "test")
    try:
        server.initialize()
        assert server.request("tools/call", {"name": "Bash", "arguments": {"command": "true"}})
        loop = f"sh -c 'while :; do :; done; : {marker}'"
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 999,
                "method": "tools/call",
                "params": {"name": "Bash", "arguments": {"command": loop}},
            }
        )
        wait_until_running(remote, marker)
        server.proc.send_signal(getattr(signal, how))
        assert server.proc.wait(timeout=20) == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    wait_until_gone(remote, marker)
