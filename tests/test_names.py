"""File names that are not UTF-8 can be listed and then addressed (issue 9,
item 10): Glob and Grep show undecodable bytes as \\xNN, and every path
argument takes that form back. End to end over stdio, as a client sees it."""

from __future__ import annotations

import shlex
from typing import Any

import anyio
from mcp import Client

from remote_mcp.testing import SshdServer
from tests.test_protocol import server_params

ARROW = "\u2192"


def q(path: bytes) -> str:
    return shlex.quote(path.decode("utf-8", "surrogateescape"))


def test_a_listed_non_utf8_name_can_be_read_edited_and_written(
    sshd: SshdServer, remote, remote_dir: str
) -> None:
    raw = remote_dir.encode() + b"/caf\xe9 \xff.txt"
    remote.write_bytes(raw.decode("utf-8", "surrogateescape"), b"hello\n")
    texts: dict[str, Any] = {}

    async def main() -> None:
        async with Client(server_params("--host", "test"), mode="legacy") as client:
            listed = await client.call_tool("Glob", {"pattern": "*.txt", "path": remote_dir})
            texts["glob"] = name = listed.content[0].text
            grep = await client.call_tool("Grep", {"pattern": "hel", "path": remote_dir})
            texts["grep"] = grep.content[0].text
            read = await client.call_tool("Read", {"file_path": name})
            texts["read"] = read.content[0].text
            edit = await client.call_tool(
                "Edit", {"file_path": name, "old_string": "hello", "new_string": "salut"}
            )
            texts["edit"] = (edit.is_error, edit.content[0].text)
            stat = await client.call_tool("FileStat", {"paths": [name]})
            texts["stat"] = stat.content[0].text

    anyio.run(main)
    shown = f"{remote_dir}/caf\\xe9 \\xff.txt"
    assert texts["glob"] == shown
    assert texts["grep"] == f"Found 1 file\n{shown}"
    assert texts["read"] == f"     1{ARROW}hello"
    assert texts["edit"][0] is False, texts["edit"]
    assert texts["stat"].startswith(f"{shown}: file, 6 bytes")
    assert remote.sh(f"cat -- {q(raw)}") == "salut\n"


def test_a_literal_backslash_name_wins_over_the_escape(
    sshd: SshdServer, remote, remote_dir: str
) -> None:
    literal = f"{remote_dir}/x\\xff.txt"  # a backslash, an x and two f's
    remote.write_bytes(literal, b"literal\n")
    remote.write_bytes(f"{remote_dir}/x\udcff.txt", b"byte\n")
    texts: list[str] = []

    async def main() -> None:
        async with Client(server_params("--host", "test"), mode="legacy") as client:
            read = await client.call_tool("Read", {"file_path": literal})
            texts.append(read.content[0].text)

    anyio.run(main)
    assert texts == [f"     1{ARROW}literal"]


def test_the_escape_round_trips() -> None:
    from remote_mcp.tools.names import show_name, unescape_name

    name = b"/d/caf\xe9-\xc3\xa9-\xff\xfe".decode("utf-8", "surrogateescape")
    assert show_name(name) == "/d/caf\\xe9-\u00e9-\\xff\\xfe"
    assert unescape_name(show_name(name)) == name
    assert unescape_name("/d/plain") is None
    # Escapes of bytes that form valid UTF-8 are never ours: literal text.
    assert unescape_name("/d/\\xc3\\xa9") is None
