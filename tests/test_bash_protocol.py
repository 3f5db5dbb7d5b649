"""Bash over the real server (``python -m remote_mcp --host test`` on stdio):
what only the protocol shows -- isError results, progress notifications
for a long command, MCP cancellation killing the remote command, and
invalid UTF-8 arriving as replacement characters on the wire.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
import uuid
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from remote_mcp.testing import SshdServer, remote_exec, wait_until


def server() -> StdioServerParameters:
    # env passed explicitly: the client's default keeps only a few variables,
    # and the test HOME (config, keys, known_hosts) must reach the server.
    return StdioServerParameters(
        command=sys.executable, args=["-m", "remote_mcp", "--host", "test"], env={**os.environ}
    )


def text_of(result: Any) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def remote_processes(remote: Any, marker: str) -> list[str]:
    out = remote.sh("ps -A -o stat= -o args=")
    return [line for line in out.splitlines() if marker in line and line.split()[0][0] not in "ZX"]


def test_bash_results_and_errors(sshd: SshdServer, remote_dir: str) -> None:
    async def main() -> list[Any]:
        async with Client(server(), mode="legacy") as c:
            return [
                await c.call_tool("Bash", {"command": f"cd '{remote_dir}' && echo hi >&2"}),
                await c.call_tool("Bash", {"command": "pwd", "description": "Show directory"}),
                await c.call_tool("Bash", {"command": "echo out; exit 3"}),
                await c.call_tool("Bash", {"command": "sleep 5", "timeout": 1000}),
                await c.call_tool("Bash", {"command": "printf 'a\\377b'"}),
                await c.call_tool("Bash", {"command": "echo still here"}),
            ]

    started = time.monotonic()
    hi, pwd, failed, timed_out, binary, after = anyio.run(main)
    assert time.monotonic() - started < 20
    assert (hi.is_error, text_of(hi)) == (False, "hi")
    assert (pwd.is_error, text_of(pwd)) == (False, remote_dir)
    assert (failed.is_error, text_of(failed)) == (True, "Exit code 3\nout")
    assert timed_out.is_error
    assert text_of(timed_out) == "Exit code 143\nCommand timed out after 1s"
    assert text_of(binary) == "a\ufffdb"  # invalid UTF-8 shown, never a crash
    assert text_of(after) == "still here"


def test_progress_notifications_for_a_long_command(sshd: SshdServer) -> None:
    """A 12 s command with a progressToken: notifications while it runs, with
    the elapsed time and the last output line (timing is the bench's job)."""
    seen: list[tuple[float, str | None, float]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message, time.monotonic()))

    async def main() -> Any:
        async with Client(server(), mode="legacy") as c:
            await c.call_tool("Bash", {"command": "true"})  # connected and initialised
            command = "for i in $(seq 12); do echo tick$i; sleep 1; done"
            return await c.call_tool("Bash", {"command": command}, progress_callback=on_progress)

    result = anyio.run(main)
    assert not result.is_error
    assert text_of(result).endswith("tick12")
    assert len(seen) >= 2, seen
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress) and progress[-1] >= 9
    assert all(m and m.startswith("Running for ") for _, m, _ in seen)
    # Streamed while the command ran, not after: an early line is in a message.
    ticks = [int(t) for _, m, _ in seen for t in re.findall(r"tick(\d+)", m or "")]
    assert ticks and min(ticks) < 12, seen


def test_mcp_cancellation_kills_the_remote_command(sshd: SshdServer, remote: Any) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**8}"

    async def main() -> tuple[Any, float]:
        async with Client(server(), mode="legacy") as c:
            await c.call_tool("Bash", {"command": "true"})
            with anyio.move_on_after(1.5):  # the client gives up: notifications/cancelled
                await c.call_tool("Bash", {"command": f"sleep {marker}"})
            deadline = time.monotonic() + 10
            while remote_processes(remote, f"sleep {marker}"):
                assert time.monotonic() < deadline, "the cancelled command still runs"
                await anyio.sleep(0.1)
            started = time.monotonic()
            after = await c.call_tool("Bash", {"command": "echo next"})
            return after, time.monotonic() - started

    after, latency = anyio.run(main)
    assert text_of(after) == "next"
    assert latency < 5  # the shell was left usable, not waiting on the killed command
    assert remote_processes(remote, f"sleep {marker}") == []


def test_background_job_over_mcp(sshd: SshdServer) -> None:
    async def main() -> list[Any]:
        async with Client(server(), mode="legacy") as c:
            started = await c.call_tool(
                "Bash", {"command": "echo from-job; sleep 30", "run_in_background": True}
            )
            job = text_of(started).split("ID: ")[1].split(".")[0]
            log = shlex.quote(text_of(started).split("written to: ")[1])
            written = lambda: remote_exec(sshd, f"cat -- {log}")[1] == b"from-job\n"  # noqa: E731
            assert wait_until(written)
            output = await c.call_tool("BashOutput", {"bash_id": job})
            killed = await c.call_tool("KillShell", {"shell_id": job})
            again = await c.call_tool("KillShell", {"shell_id": job})
            missing = await c.call_tool("BashOutput", {"bash_id": "bash_nope"})
            return [started, output, killed, again, missing, job]

    started, output, killed, again, missing, job = anyio.run(main)
    assert text_of(started).startswith(f"Command running in background with ID: {job}. ")
    assert text_of(output).startswith("<status>running</status>\n\n<stdout>\nfrom-job\n</stdout>")
    assert text_of(killed) == (
        f'{{"message":"Successfully killed shell: {job} (echo from-job; sleep 30)",'
        f'"shell_id":"{job}"}}'
    )
    assert again.is_error
    assert text_of(again) == f"Shell {job} is not running, so cannot be killed (status: killed)"
    assert (missing.is_error, text_of(missing)) == (True, "No shell found with ID: bash_nope")


def test_two_servers_cannot_reach_each_others_jobs(sshd: SshdServer, remote) -> None:
    """Two server processes on one host: neither lists, reads or kills the
    other's job; all_sessions is the explicit way across."""
    marker = f"93{uuid.uuid4().int % 10**6}"

    async def main() -> dict[str, Any]:
        async with Client(server(), mode="legacy") as a, Client(server(), mode="legacy") as b:
            started = await a.call_tool(
                "Bash", {"command": f"sleep 1{marker}", "run_in_background": True}
            )
            job = text_of(started).split("ID: ")[1].split(".")[0]
            return {
                "job": job,
                "list_a": text_of(await a.call_tool("BashOutput", {"bash_id": "list"})),
                "list_b": text_of(await b.call_tool("BashOutput", {"bash_id": "list"})),
                "read_b": await b.call_tool("BashOutput", {"bash_id": job}),
                "kill_b": await b.call_tool("KillShell", {"shell_id": job}),
                "alive": remote_processes(remote, f"sleep 1{marker}") != [],
                "kill_b_all": await b.call_tool(
                    "KillShell", {"shell_id": job, "all_sessions": True}
                ),
            }

    got = anyio.run(main)
    job = got["job"]
    assert job in got["list_a"]
    assert job not in got["list_b"]
    assert "of other remote-mcp sessions on test not shown" in got["list_b"]
    for refused in (got["read_b"], got["kill_b"]):
        assert refused.is_error
        assert text_of(refused).startswith(f"Shell {job} belongs to another remote-mcp session")
    assert got["alive"]  # the refused kill left it running
    assert not got["kill_b_all"].is_error
    assert text_of(got["kill_b_all"]).startswith('{"message":"Successfully killed shell:')
