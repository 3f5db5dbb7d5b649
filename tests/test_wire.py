"""Every request gets an answer, even one whose text is not valid Unicode.

Raw JSON-RPC lines to the real server over its stdin (the ``mcp`` client
cannot send such lines), each reply awaited with a deadline.
"""

from __future__ import annotations

import json
import select
import shlex
import time

import pytest

from remote_mcp.testing import SshdServer
from tests.test_protocol import RawServer

BAD = (
    "The Write request contains text that is not valid Unicode (a lone UTF-16 surrogate "
    "such as \\ud800, or bytes that are not UTF-8), shown here as U+FFFD; nothing was done. "
    "Send valid text; for a file name with bytes that are not UTF-8, use the \\xNN form "
    "that Glob and Grep show."
)


@pytest.fixture
def server(sshd: SshdServer):
    raw = RawServer("--host", "test")
    try:
        raw.initialize()
        yield raw
    finally:
        raw.proc.kill()
        raw.proc.wait(10)


def test_a_lone_surrogate_escape_gets_an_error_reply(server, remote, remote_dir) -> None:
    path = f"{remote_dir}/a\ud800b.txt"  # json.dumps sends it as the escape \ud800
    arguments = {"file_path": path, "content": "x"}
    reply = server.request("tools/call", {"name": "Write", "arguments": arguments})
    assert reply["result"]["isError"] is True
    assert reply["result"]["content"][0]["text"] == BAD
    assert remote.sh(f"ls -A -- {shlex.quote(remote_dir)}") == ""
    # The server is still serving.
    ok = server.request("tools/call", {"name": "FileStat", "arguments": {"paths": [remote_dir]}})
    assert ok["result"]["isError"] is False


def test_bytes_that_are_not_utf8_get_an_error_reply(server, remote, remote_dir) -> None:
    server.next_id += 1
    message = {
        "jsonrpc": "2.0",
        "id": server.next_id,
        "method": "tools/call",
        "params": {
            "name": "Write",
            "arguments": {"file_path": f"{remote_dir}/NAME", "content": "x"},
        },
    }
    line = json.dumps(message).encode().replace(b"NAME", b"caf\xe9.txt")
    reply = send_line(server, line, server.next_id)
    assert reply["result"]["isError"] is True
    assert reply["result"]["content"][0]["text"] == BAD
    assert remote.sh(f"ls -A -- {shlex.quote(remote_dir)}") == ""


def send_line(server: RawServer, line: bytes, request_id: int, timeout: float = 30) -> dict:
    """Send one raw line; return the reply with ``request_id`` (or fail at the deadline)."""
    assert server.proc.stdin is not None and server.proc.stdout is not None
    server.proc.stdin.write(line + b"\n")
    server.proc.stdin.flush()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.proc.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        got = server.proc.stdout.readline()
        if not got:
            break
        reply = json.loads(got)
        if reply.get("id") == request_id:
            return reply
    raise AssertionError(f"no reply to request {request_id}")


def test_repair_line_marks_only_requests_with_bad_text() -> None:
    from remote_mcp.wire import BAD_TEXT, repair_line

    good = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\ud83d\\ude00"}}'
    assert repair_line(good.encode()) == good
    fixed = json.loads(
        repair_line(b'{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":"\\udc80"}}')
    )
    assert fixed["params"] == {"x": "\ufffd", "_meta": {BAD_TEXT: True}}
