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

from remote_mcp.testing import Fleet

from .fleet_support import MARKER

pytestmark = pytest.mark.slow


def params(*extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "remote_mcp", *extra], env={**os.environ}
    )


def test_a_group_server_fans_out_and_groups_answers(
    fleet: Fleet,
) -> None:
    config = fleet.config_path
    last = fleet.names[-1]
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with Client(
            params("--config", str(config), "--group", fleet.group), mode="legacy"
        ) as c:
            tools = (await c.list_tools()).tools
            seen["tools"] = {t.name: t for t in tools}
            seen["instructions"] = c.instructions or ""
            r = await c.call_tool("Bash", {"command": "echo same"}, progress_callback=on_progress)
            seen["same"] = r.content[0].text
            r = await c.call_tool("Read", {"file_path": MARKER})
            seen["markers"] = r.content[0].text
            r = await c.call_tool("Bash", {"command": "echo one", "hosts": [last]})
            seen["one"] = r.content[0].text
            r = await c.call_tool("Bash", {"command": "true", "hosts": ["zz9"]})
            seen["stranger"] = (r.is_error, r.content[0].text)
        return seen

    seen = anyio.run(main)
    span = fleet.pattern
    assert all("hosts" in t.input_schema["properties"] for t in seen["tools"].values())
    assert span in seen["tools"]["Read"].description and "GROUP" in seen["instructions"]
    assert seen["same"].count("same") == 1 and span in seen["same"], seen["same"]
    assert progress and progress[-1][1] == f"{len(fleet)}/{len(fleet)} hosts done", progress
    for name in fleet.names:
        assert seen["markers"].count(name) == 2  # its own name, under its name
    assert last in seen["one"] and fleet.names[0] not in seen["one"]
    assert seen["stranger"][0] and f"zz9 not in group {fleet.group}" in seen["stranger"][1]


def test_an_unknown_group_is_the_answer_of_every_call(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("hosts:\n  a: {hostname: 127.0.0.1}\ngroups:\n  gpu: [a]\n")

    async def main() -> tuple[bool, str]:
        async with Client(params("--config", str(config), "--group", "cpu"), mode="legacy") as c:
            r = await c.call_tool("Bash", {"command": "true"})
            return r.is_error, r.content[0].text

    is_error, text = anyio.run(main)
    assert is_error and "group 'cpu' is not configured (groups: gpu)" in text, text
