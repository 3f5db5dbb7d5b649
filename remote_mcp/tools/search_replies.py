"""Glob's and Grep's replies, typed: the first line is a status word (or a
refusal, see refusals.py), the rest the listing or the matches as bytes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from invoke.runners import Result

from ..errors import ToolError
from .refusals import Refused, parse_refusal

__all__ = ["SearchReply", "SearchStatus", "parse_search_reply", "unexpected_reply"]


class SearchStatus(StrEnum):
    OK = "ok"  # Glob: the listing follows
    DIR = "dir"  # Grep searched a directory
    FILE = "file"  # Grep searched one file
    SPECIAL = "special"  # Grep's path is a FIFO, socket or device: not searched
    BADREGEX = "badregex"  # Grep: the regex engine's message follows


@dataclass(frozen=True)
class SearchReply:
    """``status`` is a SearchStatus, the Refused the line carries, or None for
    a word neither knows (the remote replied something else)."""

    status: SearchStatus | Refused | None
    body: bytes


def parse_search_reply(stdout: str) -> SearchReply:
    data = stdout.encode("utf-8", "surrogateescape")
    line, _, body = data.partition(b"\n")
    word = line.decode("ascii", "replace").strip()
    status: SearchStatus | Refused | None
    try:
        status = SearchStatus(word)
    except ValueError:
        status = parse_refusal(word)
    return SearchReply(status, body)


def unexpected_reply(tool: str, result: Result) -> ToolError:
    return ToolError(
        f"{tool}: unexpected reply from the remote: {result.stdout[:200]!r} "
        f"{result.stderr.strip()[-300:]}"
    )
