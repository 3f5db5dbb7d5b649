"""The real server over stdio: what an MCP client sees.

These launch ``python -m remote_mcp`` as a subprocess, as Claude Code does,
and talk to it with the ``mcp`` client or with raw JSON-RPC lines (for the
shutdown tests, where we need the process handle).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from remote_mcp.testing import LinkProxy, SshdServer

SNAPSHOT = Path(__file__).parent / "_support" / "tools_list.json"


def server_params(*extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "remote_mcp", *extra], env={**os.environ}
    )


def write_config(tmp_path: Path, sshd: SshdServer, port: int, **extra: Any) -> Path:
    """A config for the test sshd reached on ``port`` (a proxy), whose host key
    is then known under that port too."""
    known_hosts = Path(os.environ["HOME"], ".ssh", "known_hosts")
    line = sshd.known_hosts_line.replace(f"]:{sshd.port} ", f"]:{port} ", 1)
    if line not in known_hosts.read_text():
        with known_hosts.open("a") as fh:
            fh.write(line + "\n")
    lines = [
        "hosts:",
        "  test:",
        "    hostname: 127.0.0.1",
        f"    port: {port}",
        f"    user: {sshd.user}",
        f"    key_path: {os.environ['HOME']}/.ssh/id_ed25519",
    ]
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tools_list_matches_snapshot(sshd: SshdServer) -> None:
    async def main() -> list[dict[str, Any]]:
        async with Client(server_params("--host", "test"), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]

    tools = anyio.run(main)
    if os.environ.get("REMOTE_MCP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(tools, indent=2, ensure_ascii=False) + "\n")
    assert tools == json.loads(SNAPSHOT.read_text()), (
        "tools/list changed; if intended, rerun with REMOTE_MCP_UPDATE_SNAPSHOTS=1 and review "
        "the diff of tests/_support/tools_list.json"
    )


def test_every_description_names_the_remote_host(sshd: SshdServer) -> None:
    tools = json.loads(SNAPSHOT.read_text())
    assert {t["name"] for t in tools} >= {"Read", "Write", "Edit", "Bash", "Glob", "Grep"}
    for tool in tools:
        assert "remote host test" in tool["description"], tool["name"]
        # MCP: the destructive and idempotent hints mean nothing on a read-only tool.
        hints = {"readOnlyHint", "openWorldHint"}
        if not tool["annotations"]["readOnlyHint"]:
            hints |= {"destructiveHint", "idempotentHint"}
        assert set(tool["annotations"]) == hints, tool["name"]


def test_tools_list_fits_its_byte_budget() -> None:
    """Every conversation pays for tools/list in tokens: the result as it goes
    over the wire (compact JSON) stays within 11 KB for a host named "test"."""
    tools = json.loads(SNAPSHOT.read_text())
    wire = json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False)
    assert len(wire.encode()) <= 11_000


def test_tool_failures_are_results_with_is_error(sshd: SshdServer, remote_dir: str) -> None:
    async def main() -> None:
        async with Client(server_params("--host", "test"), mode="legacy") as client:
            assert "remote host test" in (client.instructions or "")
            r = await client.call_tool("Read", {"file_path": f"{remote_dir}/nope"})
            assert r.is_error and r.content[0].text == "File does not exist."
            r = await client.call_tool("Read", {"file_path": 7})
            assert r.is_error and r.content[0].text.startswith("InputValidationError: Read")
            r = await client.call_tool("Read", {"file_path": "/x", "bogus": 1})
            assert r.is_error and "An unexpected parameter `bogus` was provided" in (
                r.content[0].text
            )
            r = await client.call_tool("Write", {"file_path": f"{remote_dir}/ok", "content": "1"})
            assert not r.is_error, r.content[0].text

    anyio.run(main)


def test_initialize_does_not_wait_for_a_dead_host(sshd: SshdServer, tmp_path: Path) -> None:
    """A stalled link must not delay initialize/tools/list; calls then fail clearly."""
    with LinkProxy("127.0.0.1", sshd.port) as proxy:
        proxy.stall()  # TCP connects, the SSH banner never comes
        config = write_config(tmp_path, sshd, proxy.port, connect_timeout_s=2)

        async def main() -> None:
            params = server_params("--config", str(config), "--host", "test")
            started = time.monotonic()
            async with Client(params, mode="legacy") as client:
                assert len((await client.list_tools()).tools) >= 10
                listed = time.monotonic() - started
                r = await client.call_tool("Read", {"file_path": "/etc/hostname"})
            assert listed < 10, f"tools/list took {listed:.1f}s"
            assert r.is_error
            text = r.content[0].text
            assert text.startswith("Cannot connect to remote host test (")
            assert "The next tool call will try again." in text

        anyio.run(main)


def test_a_later_call_retries_the_connection(sshd: SshdServer, tmp_path: Path) -> None:
    with LinkProxy("127.0.0.1", sshd.port) as proxy:
        proxy.refuse(True)
        config = write_config(tmp_path, sshd, proxy.port, connect_timeout_s=3)

        async def main() -> None:
            params = server_params("--config", str(config), "--host", "test")
            async with Client(params, mode="legacy") as client:
                first = await client.call_tool("FileStat", {"paths": ["/"]})
                proxy.refuse(False)
                second = await client.call_tool("FileStat", {"paths": ["/"]})
            assert first.is_error and "Cannot connect to remote host test" in first.content[0].text
            assert not second.is_error, second.content[0].text
            assert second.content[0].text.startswith("/: directory")

        anyio.run(main)


# -- shutdown ----------------------------------------------------------------------------
class RawServer:
    """The server as a subprocess spoken to in newline-delimited JSON-RPC."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "remote_mcp", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                return reply
        raise AssertionError(f"no reply to {method}")

    def initialize(self) -> dict[str, Any]:
        reply = self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply


def sshd_sessions(sshd: SshdServer) -> list[str]:
    """Per-connection sshd processes (children of the listener) other than our probe's."""
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(sshd.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("how", ["eof", "SIGINT", "SIGTERM"])
def test_clean_exit_closes_every_ssh_session(sshd: SshdServer, remote_dir: str, how: str) -> None:
    before = len(sshd_sessions(sshd))
    server = RawServer("--host", "test")
    try:
        assert server.initialize()["result"]["protocolVersion"] == "2025-06-18"
        reply = server.request(
            "tools/call", {"name": "FileStat", "arguments": {"paths": [remote_dir]}}
        )
        assert reply["result"]["isError"] is False
        assert len(sshd_sessions(sshd)) == before + 1  # one SSH connection, many channels
        if how == "eof":
            assert server.proc.stdin is not None
            server.proc.stdin.close()
        else:
            server.proc.send_signal(getattr(signal, how))
        assert server.proc.wait(timeout=15) == 0
        assert server.proc.stderr is not None
        assert b"Traceback" not in server.proc.stderr.read()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    deadline = time.monotonic() + 10
    while len(sshd_sessions(sshd)) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(sshd_sessions(sshd)) == before, sshd_sessions(sshd)
