"""``remote-mcp --test`` and ``invoke smoke``: exercise every tool on a host.

The steps go through the real MCP server in-process (argument checking,
dispatch, content conversion), in a private temporary directory on the
remote that is removed at the end. Each step checks what the agent would
see, so a host where a tool "runs" but answers wrongly fails too.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from .config import HostConfig
from .errors import ToolError
from .schemas import TOOLS
from .server import RemoteServer
from .session import describe
from .tools.guard import guard_summary, hidden_tools

__all__ = ["StepResult", "run_selftest", "run_steps"]


@dataclass
class StepResult:
    tool: str
    ok: bool
    seconds: float
    detail: str


class StepFailed(Exception):
    pass


def run_selftest(host: HostConfig) -> tuple[bool, str]:
    """Run every step; return (ok, the one line to print).

    A guarded host (read_only, bash off, allowed_paths) is only connected to:
    the steps write files and run commands in a temp dir, which is what the
    user's guard forbids, and running them anyway would break that promise."""
    if host.read_only or host.allowed_paths or hidden_tools(host):
        return _connect_only(host)
    results, destination = run_steps(host)
    failed = next((r for r in results if not r.ok), None)
    if failed is None:
        return True, f"Connected to {host.name} ({destination}). All tools: OK"
    detail = failed.detail.strip()
    end = "" if detail.endswith((".", "?", "!")) else "."
    return False, (
        f"remote-mcp --test {host.name}: {failed.tool} failed: {detail}{end} "
        f"Run `remote-mcp doctor --host {host.name}` for a step-by-step diagnosis."
    )


def _connect_only(host: HostConfig) -> tuple[bool, str]:
    server = RemoteServer(host)
    try:
        server.wait_connected()
        destination = server.session.conn.destination
    except ToolError as err:
        return False, f"remote-mcp --test {host.name}: {err}"
    finally:
        server.close()
    return True, (
        f"Connected to {host.name} ({destination}). Tools not exercised: the host is guarded "
        f"({guard_summary(host)}) and --test writes files and runs commands; "
        f"`remote-mcp doctor --host {host.name}` checks it without changing anything."
    )


def run_steps(host: HostConfig) -> tuple[list[StepResult], str]:
    """The steps with timings (``invoke smoke`` prints them as a table)."""
    server = RemoteServer(host)
    try:
        return anyio.run(_run, server), server.session.conn.destination
    finally:
        server.close()


async def _run(server: RemoteServer) -> list[StepResult]:
    results: list[StepResult] = []
    start = time.perf_counter()
    try:
        await anyio.to_thread.run_sync(server.wait_connected)
    except Exception as exc:
        # The cause alone: "the next tool call will try again" means nothing here.
        cause = exc.__cause__ or exc
        return [StepResult("connect", False, time.perf_counter() - start, describe(cause))]
    results.append(StepResult("connect", True, time.perf_counter() - start, "connected"))
    with tempfile.TemporaryDirectory(prefix="remote-mcp-test-") as local:
        os.environ.setdefault("REMOTE_MCP_FEEDBACK", str(Path(local) / "feedback.jsonl"))
        async with Client(server.server, mode="legacy") as client:
            steps = _Steps(client, Path(local))
            for name, step in steps.plan():
                t0 = time.perf_counter()
                try:
                    detail = await step()
                    results.append(StepResult(name, True, time.perf_counter() - t0, detail))
                except Exception as exc:  # reported as a failed step
                    results.append(StepResult(name, False, time.perf_counter() - t0, str(exc)))
                    break
            if steps.dir:
                await steps.call("Bash", {"command": f"rm -rf -- {shlex.quote(steps.dir)}"})
    return results


class _Steps:
    def __init__(self, client: Client, local: Path) -> None:
        self.client = client
        self.local = local
        self.dir = ""

    def plan(self) -> list[tuple[str, Callable[[], Any]]]:
        steps = [
            ("tools/list", self.tools_list),
            ("Bash", self.bash),
            ("Write", self.write),
            ("Read", self.read),
            ("Edit", self.edit),
            ("MultiEdit", self.multi_edit),
            ("MultiRead", self.multi_read),
            ("FileStat", self.file_stat),
            ("Glob", self.glob),
            ("Grep", self.grep),
            ("BashOutput", self.background),
            ("KillShell", self.kill),
            ("Upload", self.upload),
            ("Download", self.download),
            ("Feedback", self.feedback),
        ]
        return steps

    async def call(self, tool: str, args: dict[str, Any], expect_error: bool = False) -> str:
        result = await self.client.call_tool(tool, args)
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        if bool(result.is_error) != expect_error:
            raise StepFailed(text.strip().splitlines()[0] if text.strip() else "no output")
        return text

    @staticmethod
    def expect(text: str, needle: str) -> None:
        if needle not in text:
            raise StepFailed(f"expected {needle!r} in the reply, got {text[:200]!r}")

    async def tools_list(self) -> str:
        names = {t.name for t in (await self.client.list_tools()).tools}
        missing = sorted(set(TOOLS) - names)
        if missing:
            raise StepFailed(f"tools missing from tools/list: {', '.join(missing)}")
        return f"{len(names)} tools"

    async def bash(self) -> str:
        text = await self.call("Bash", {"command": "mktemp -d -t remote-mcp-test.XXXXXX"})
        self.dir = text.strip().splitlines()[-1]
        if not self.dir.startswith("/"):
            raise StepFailed(f"mktemp gave {self.dir!r}")
        command = f"cd {shlex.quote(self.dir)} && export RMCP_SELFTEST=1"
        await self.call("Bash", {"command": command})
        text = await self.call("Bash", {"command": 'pwd; echo "x$RMCP_SELFTEST"'})
        self.expect(text, f"{self.dir}\nx1")
        return "cwd and env persist"

    @property
    def file(self) -> str:
        return f"{self.dir}/selftest.txt"

    async def write(self) -> str:
        text = await self.call("Write", {"file_path": self.file, "content": "alpha\nbeta\ngamma\n"})
        self.expect(text, "File created successfully at:")
        return "created"

    async def read(self) -> str:
        text = await self.call("Read", {"file_path": self.file})
        self.expect(text, "     2\u2192beta")
        return "3 lines"

    async def edit(self) -> str:
        args = {"file_path": self.file, "old_string": "beta", "new_string": "BETA"}
        self.expect(await self.call("Edit", args), "has been updated")
        return "1 replacement"

    async def multi_edit(self) -> str:
        edits = [
            {"old_string": "alpha", "new_string": "ALPHA"},
            {"old_string": "gamma", "new_string": "GAMMA"},
        ]
        text = await self.call("MultiEdit", {"file_path": self.file, "edits": edits})
        self.expect(text, "Applied 2 edits")
        return "2 edits"

    async def multi_read(self) -> str:
        files = [{"file_path": self.file}, {"file_path": f"{self.dir}/missing"}]
        text = await self.call("MultiRead", {"files": files})
        self.expect(text, "     1\u2192ALPHA\n     2\u2192BETA\n     3\u2192GAMMA")
        self.expect(text, "File does not exist.")
        return "2 files"

    async def file_stat(self) -> str:
        text = await self.call("FileStat", {"paths": [self.file]})
        self.expect(text, "file, 17 bytes")
        return "stat ok"

    async def glob(self) -> str:
        text = await self.call("Glob", {"pattern": "**/*.txt", "path": self.dir})
        self.expect(text, self.file)
        return "found"

    async def grep(self) -> str:
        args = {"pattern": "BE.A", "path": self.dir, "output_mode": "content"}
        text = await self.call("Grep", args)
        self.expect(text, "BETA")
        return "matched"

    async def _start_background(self, command: str) -> str:
        text = await self.call("Bash", {"command": command, "run_in_background": True})
        found = re.search(r"with ID: (\S+?)\.? ", text) or re.search(r"with ID: (\S+)", text)
        if not found:
            raise StepFailed(f"no job id in {text[:200]!r}")
        return found.group(1).rstrip(".")

    async def background(self) -> str:
        job = await self._start_background("echo background-ok")
        text = await self.call("BashOutput", {"bash_id": job, "block": True, "timeout": 20000})
        self.expect(text, "background-ok")
        return f"job {job}"

    async def kill(self) -> str:
        job = await self._start_background("sleep 300")
        self.expect(await self.call("KillShell", {"shell_id": job}), "Successfully killed")
        return f"job {job}"

    async def upload(self) -> str:
        blob = bytes(range(256)) * 64
        (self.local / "up.bin").write_bytes(blob)
        args = {"local_path": str(self.local / "up.bin"), "remote_path": f"{self.dir}/up.bin"}
        self.expect(await self.call("Upload", args), "Uploaded")
        return f"{len(blob)} bytes"

    async def download(self) -> str:
        target = self.local / "down.bin"
        args = {"remote_path": f"{self.dir}/up.bin", "local_path": str(target)}
        self.expect(await self.call("Download", args), "Downloaded")
        if target.read_bytes() != (self.local / "up.bin").read_bytes():
            raise StepFailed("downloaded bytes differ from the uploaded ones")
        return "round trip exact"

    async def feedback(self) -> str:
        args = {"message": "remote-mcp self-test", "tool": "Feedback"}
        self.expect(await self.call("Feedback", args), "Feedback recorded")
        return "recorded"
