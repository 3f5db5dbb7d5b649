"""Cancellation over stdio: a change the client cancelled never starts.

The server runs calls in worker threads that it abandons on cancel; a Write
waiting for a free worker must not be sent once the client was told it was
interrupted (issue 9, item 2).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from remote_mcp.testing import SshdServer
from tests.test_protocol import server_params, write_config

# Bytes waiting in a process's stdin (a pipe or socket): the command sent to a
# stopped worker shell, which it has not read yet.
QUEUED = (
    "import array, fcntl, os, sys, termios\n"
    "fd = os.open('/proc/%s/fd/0' % sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)\n"
    "n = array.array('i', [0]); fcntl.ioctl(fd, termios.FIONREAD, n); print(n[0])\n"
)


def worker_shell(remote, sshd_pid: str, bash_pid: str) -> str:
    """The one worker shell of a ``workers: 1`` server: the other shell that
    the server's sshd connection process started besides the Bash tool's."""
    rows = remote.sh(f"ps -o pid=,args= --ppid {shlex.quote(sshd_pid)}").splitlines()
    shells = [r.split()[0] for r in rows if "-s" in r.split() and r.split()[0] != bash_pid]
    assert len(shells) == 1, rows
    return shells[0]


def test_a_write_cancelled_while_waiting_for_a_worker_never_runs(
    sshd: SshdServer, remote, remote_dir: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sshd, sshd.port, workers=1)
    held, target = f"{remote_dir}/held.txt", f"{remote_dir}/cancelled.txt"
    remote.write_bytes(held, b"held\n")
    results: dict[str, Any] = {}

    async def main() -> None:
        params = server_params("--config", str(config), "--host", "test")
        async with Client(params, mode="legacy") as client:
            ids = await client.call_tool("Bash", {"command": "echo $PPID $$"})
            worker = worker_shell(remote, *ids.content[0].text.split())
            remote.sh(f"kill -STOP {worker}")
            try:
                async with anyio.create_task_group() as tg:

                    async def hold() -> None:
                        results["read"] = await client.call_tool("Read", {"file_path": held})

                    probe = f"python3 -c {shlex.quote(QUEUED)} {worker}"
                    print("BASELINE", remote.sh(probe).strip())
                    tg.start_soon(hold)  # takes the only worker, which cannot answer
                    deadline = time.monotonic() + 10
                    while remote.sh(probe).strip() == "0":
                        assert time.monotonic() < deadline, "the Read never reached the worker"
                        await anyio.sleep(0.05)
                    with anyio.move_on_after(1.0):  # the Write waits for the worker meanwhile
                        results["write"] = await client.call_tool(
                            "Write", {"file_path": target, "content": "too late\n"}
                        )
                    # The client only queued its cancel notification; a tools/list answered
                    # proves the server read it (stdin is read in order) before the
                    # worker is let go, as a real client's prompt cancel would be.
                    await client.list_tools()
                    remote.sh(f"kill -CONT {worker}")
            finally:
                remote.run(f"kill -CONT {worker}")
            # The worker is free again; a cancelled Write that still ran would run now.
            for _ in range(3):
                results["after"] = await client.call_tool("FileStat", {"paths": [target]})

    anyio.run(main)
    assert "write" not in results, "the Write was not cancelled"
    assert not results["read"].is_error and "held" in results["read"].content[0].text
    assert not remote.exists(target)
    after = results["after"].content[0].text
    assert after == f"{target}: does not exist", after


def test_a_cancelled_write_that_had_started_is_reported_in_the_next_result(
    sshd: SshdServer, remote, remote_dir: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sshd, sshd.port, workers=1)
    target = f"{remote_dir}/started.txt"
    texts: list[str] = []

    async def main() -> None:
        params = server_params("--config", str(config), "--host", "test")
        async with Client(params, mode="legacy") as client:
            ids = await client.call_tool("Bash", {"command": "echo $PPID $$"})
            worker = worker_shell(remote, *ids.content[0].text.split())
            remote.sh(f"kill -STOP {worker}")
            try:
                async with anyio.create_task_group() as tg:

                    async def write() -> None:
                        await client.call_tool("Write", {"file_path": target, "content": "hi\n"})

                    tg.start_soon(write)  # sent to the stopped worker: it has started
                    deadline = time.monotonic() + 10
                    probe = f"python3 -c {shlex.quote(QUEUED)} {worker}"
                    while remote.sh(probe).strip() == "0":
                        assert time.monotonic() < deadline, "the Write never reached the worker"
                        await anyio.sleep(0.05)
                    tg.cancel_scope.cancel()
                remote.sh(f"kill -CONT {worker}")
            finally:
                remote.run(f"kill -CONT {worker}")
            while not any("[NOTE]" in t for t in texts):
                assert time.monotonic() < deadline + 10, texts
                result = await client.call_tool("FileStat", {"paths": [target]})
                texts.append(result.content[0].text)

    anyio.run(main)
    assert remote.read_bytes(target) == b"hi\n"
    note = texts[-1].split("\n\n")[0]
    assert note == (
        "[NOTE] A Write call cancelled by the client had already started on test when the "
        "cancel arrived, so it was not undone: it completed. Check the current state before "
        "repeating it."
    )
