"""``remote-mcp --group``: the real server over stdio, driven by the mcp client,
against a group of real sshds."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from remote_mcp.testing import SshdServer

from .fleet_support import marker_path

pytestmark = pytest.mark.slow


def group_config(tmp_path: Path, servers: list[SshdServer]) -> Path:
    lines = ["hosts:"]
    for index, server in enumerate(servers):
        lines += [
            f"  node{index:02d}:",
            f"    hostname: {server.host}",
            f"    port: {server.port}",
            f"    user: {server.user}",
            f"    key_path: {server.client_key}",
            f"    known_hosts: {server.known_hosts}",
        ]
    lines += ["groups:", f"  nodes: ['node[00-{len(servers) - 1:02d}]']"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def params(*extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "remote_mcp", *extra], env={**os.environ}
    )


def test_a_group_server_fans_out_and_groups_answers(
    fleet: list[SshdServer],
    tmp_path: Path,
) -> None:
    config = group_config(tmp_path, fleet)
    last = f"node{len(fleet) - 1:02d}"
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with Client(params("--config", str(config), "--group", "nodes"), mode="legacy") as c:
            tools = (await c.list_tools()).tools
            seen["tools"] = {t.name: t for t in tools}
            seen["instructions"] = c.instructions or ""
            r = await c.call_tool("Bash", {"command": "echo same"}, progress_callback=on_progress)
            seen["same"] = r.content[0].text
            r = await c.call_tool("Read", {"file_path": marker_path(fleet[0])})
            seen["markers"] = r.content[0].text
            r = await c.call_tool("Bash", {"command": "echo one", "hosts": [last]})
            seen["one"] = r.content[0].text
            r = await c.call_tool("Bash", {"command": "true", "hosts": ["zz9"]})
            seen["stranger"] = (r.is_error, r.content[0].text)
        return seen

    seen = anyio.run(main)
    span = f"node[00-{len(fleet) - 1:02d}]"
    assert all("hosts" in t.input_schema["properties"] for t in seen["tools"].values())
    assert span in seen["tools"]["Read"].description and "GROUP" in seen["instructions"]
    assert seen["same"].count("same") == 1 and span in seen["same"], seen["same"]
    assert progress and progress[-1][1] == f"{len(fleet)}/{len(fleet)} hosts done", progress
    for index in range(len(fleet)):
        assert f"node{index:02d}" in seen["markers"]
    assert last in seen["one"] and "node00" not in seen["one"]
    assert seen["stranger"][0] and "zz9 not in group nodes" in seen["stranger"][1]


def test_an_unknown_group_is_the_answer_of_every_call(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("hosts:\n  a: {hostname: 127.0.0.1}\ngroups:\n  gpu: [a]\n")

    async def main() -> tuple[bool, str]:
        async with Client(params("--config", str(config), "--group", "cpu"), mode="legacy") as c:
            r = await c.call_tool("Bash", {"command": "true"})
            return r.is_error, r.content[0].text

    is_error, text = anyio.run(main)
    assert is_error and "group 'cpu' is not configured (groups: gpu)" in text, text
