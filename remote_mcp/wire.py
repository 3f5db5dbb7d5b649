"""The stdin side of the stdio transport: every request must get an answer.

The SDK parses each line strictly. A string with a lone UTF-16 surrogate
escape (JSON ``"\\ud800"``, which some clients send for bytes that are not
UTF-8) or raw bytes that are not UTF-8 make that parse fail; the SDK then
drops the line, and the client waits forever for the reply. This reader
repairs such a line before the SDK sees it -- each bad character becomes
U+FFFD -- and marks the request (``params._meta[BAD_TEXT]``), so the server
answers it with an error instead of acting on altered text.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio

__all__ = ["BAD_TEXT", "repair_line", "stdin_lines"]

BAD_TEXT = "remote-mcp/bad-text"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def repair_line(raw: bytes) -> str:
    """One JSON-RPC line as strict JSON text; a request with bad text is marked."""
    text = raw.decode("utf-8", "surrogateescape")
    if not _SURROGATE.search(text) and not _SURROGATE_ESCAPE.search(text):
        return text
    try:
        message = json.loads(text)  # Python's parser takes lone surrogates
    except ValueError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    bad = [False]
    message = _clean(message, bad)
    if not bad[0]:
        return text  # only valid surrogate pairs
    if isinstance(message, dict) and "method" in message:
        params = message.get("params")
        if not isinstance(params, dict):
            params = message["params"] = {}
        meta = params.get("_meta")
        if not isinstance(meta, dict):
            meta = params["_meta"] = {}
        meta[BAD_TEXT] = True
    return json.dumps(message, ensure_ascii=False)


def _clean(value: Any, bad: list[bool]) -> Any:
    if isinstance(value, str):
        fixed = _SURROGATE.sub("\ufffd", value)
        if fixed != value:
            bad[0] = True
        return fixed
    if isinstance(value, list):
        return [_clean(v, bad) for v in value]
    if isinstance(value, dict):
        return {_clean(k, bad): _clean(v, bad) for k, v in value.items()}
    return value


async def stdin_lines() -> AsyncIterator[str]:
    """The process's stdin as repaired lines.

    Like the SDK, it takes fd 0 for itself and points fd 0 at /dev/null, so
    nothing else in the process (or a child) can read the protocol stream.
    """
    wire = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull, encoding="utf-8")  # lives as long as the process
    async with anyio.wrap_file(os.fdopen(wire, "rb")) as stream:
        async for raw in stream:
            yield repair_line(raw)
