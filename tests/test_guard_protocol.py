"""The guards as an MCP client sees them: a read-only server lists only the
tools that work there, says the mode in every description, and a call to a
tool it does not offer is refused with the setting's name."""

from __future__ import annotations

import shlex
from pathlib import Path

import anyio
from mcp import Client

from remote_mcp.testing import SshdServer
from tests.test_protocol import server_params, write_config

# A word list: packed lines read better than one word a line (fmt: skip).
ALL_TOOLS = {
    "Read",
    "Write",
    "Edit",
    "MultiEdit",
    "MultiRead",
    "FileStat",
    "Glob",
    "Grep",
    "Bash",
    "BashOutput",
    "KillShell",
    "Feedback",
    "Upload",
    "Download",
}


def test_read_only_server_lists_only_what_works_and_refuses_the_rest(
    sshd: SshdServer, tmp_path: Path, remote, remote_dir: str
) -> None:
    path = f"{remote_dir}/keep.txt"
    remote.write_bytes(path, b"keep\n")
    config = write_config(tmp_path, sshd, sshd.port, read_only="true")

    async def main() -> None:
        async with Client(
            server_params("--config", str(config), "--host", "test"), mode="legacy"
        ) as client:
            tools = (await client.list_tools()).tools
            # A word list: packed lines read better than one word a line (fmt: skip).
            assert {t.name for t in tools} == ALL_TOOLS - {
                "Write",
                "Edit",
                "MultiEdit",
                "Upload",
                "Bash",
                "BashOutput",
                "KillShell",
            }
            for tool in tools:
                assert tool.description.endswith(
                    "Host test is read-only: no tool changes its files."
                ), tool.name
            r = await client.call_tool("Read", {"file_path": path})
            assert not r.is_error and r.content[0].text.endswith("keep")
            r = await client.call_tool("Write", {"file_path": path, "content": "changed\n"})
            assert r.is_error and r.content[0].text.startswith(
                "Refused: host test is read_only, so Write is not available"
            )
            r = await client.call_tool("Bash", {"command": f"rm -f {shlex.quote(path)}"})
            assert r.is_error and "Add 'bash: allow'" in r.content[0].text
            r = await client.call_tool("KillShell", {"shell_id": "x"})
            assert r.is_error and r.content[0].text.startswith("Refused: host test is read_only")

    anyio.run(main)
    assert remote.read_bytes(path) == b"keep\n"


def test_bash_allow_on_a_read_only_server_lists_the_shell_and_says_so(
    sshd: SshdServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, sshd, sshd.port, read_only="true", bash="allow", allowed_paths="[/srv/app]"
    )

    async def main() -> None:
        async with Client(
            server_params("--config", str(config), "--host", "test"), mode="legacy"
        ) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == ALL_TOOLS - {"Write", "Edit", "MultiEdit", "Upload"}
            assert tools["Bash"].description.endswith(
                "Host test is read-only: no tool changes its files (Bash is allowed by the "
                "config and can change anything); only paths under /srv/app (symlinks "
                "resolved on test) are accessible."
            )

    anyio.run(main)


def test_selftest_on_a_read_only_host_connects_but_changes_nothing(
    sshd: SshdServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    config = write_config(tmp_path, sshd, sshd.port, read_only="true")
    proc = subprocess.run(
        [sys.executable, "-m", "remote_mcp", "--config", str(config), "--host", "test", "--test"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Connected to test (")
    assert "Tools not exercised: the host is guarded (test: read-only, Bash disabled" in (
        proc.stdout
    )
