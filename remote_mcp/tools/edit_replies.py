"""What ``edit.sh.j2`` and the edit engines answer, as typed values.

Three replies: the engine's verdict (:func:`parse_engine_reply`, the same
words from the python3 program, the perl port and the local fallback), the
commit's ``done`` line (:func:`parse_committed`), and the fallback's fetched
copy (:func:`parse_fetched`). A refusal (``notread``, ``refused B64`` ...) is
none of these: ``refusals.parse_refusal`` reads it. Edit words them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Committed",
    "EngineReply",
    "EngineWord",
    "Fetched",
    "parse_committed",
    "parse_engine_reply",
    "parse_fetched",
]


class EngineWord(StrEnum):
    """The engine's verdict: ``ok`` or why no edit was made (to edit ``index``)."""

    OK = "ok"  # REPLACED (FIRST_LINE HEX_SNIPPET | -)
    NOT_UTF8 = "notutf8"  # OFFSET of the first invalid byte
    CLASH = "clash"  # I: old_string inside an earlier edit's new_string
    EXISTS = "exists"  # I: creating, but the file has content
    NOT_FOUND = "notfound"  # I
    MULTIPLE = "multiple"  # I COUNT LINE,LINE,...
    NO_CHANGE = "nochange"  # I
    IDENTICAL = "identical"  # the edits together changed nothing


@dataclass(frozen=True)
class EngineReply:
    word: EngineWord
    index: int = 0  # the edit the verdict is about
    replaced: int = 0  # OK: how many replacements
    first_line: int | None = None  # OK: the snippet's first line; None: no snippet
    snippet: bytes = b""  # OK: the edited region (context lines around it)
    offset: int = 0  # NOT_UTF8
    count: int = 0  # MULTIPLE: how many matches
    lines: tuple[int, ...] = ()  # MULTIPLE: the first matches' line numbers


def parse_engine_reply(line: str) -> EngineReply | None:
    """The engine's reply line, or None if it is not one of its words."""
    word_text, *args = line.split(" ")
    try:
        word = EngineWord(word_text)
    except ValueError:
        return None
    if word is EngineWord.OK:
        if args[1] == "-":
            return EngineReply(word, replaced=int(args[0]))
        snippet = bytes.fromhex(args[2] if len(args) > 2 else "")
        return EngineReply(word, replaced=int(args[0]), first_line=int(args[1]), snippet=snippet)
    if word is EngineWord.NOT_UTF8:
        return EngineReply(word, offset=int(args[0]))
    if word is EngineWord.IDENTICAL:
        return EngineReply(word)
    if word is EngineWord.MULTIPLE:
        lines = tuple(int(n) for n in args[2].split(","))
        return EngineReply(word, index=int(args[0]), count=int(args[1]), lines=lines)
    return EngineReply(word, index=int(args[0]))


@dataclass(frozen=True)
class Committed:
    """The file as the commit left it: the next change's precondition."""

    sha256: str | None  # None: not hashed (too big; size and mtime are the record)
    size: int
    mtime: str


def parse_committed(line: str) -> Committed | None:
    """``done SHA256 SIZE MTIME`` (mtime has spaces: last), or None."""
    word, _, rest = line.partition(" ")
    if word != "done":
        return None
    sha256, size, mtime = rest.split(" ", 2)
    return Committed(None if sha256 == "-" else sha256, int(size), mtime)


@dataclass(frozen=True)
class Fetched:
    """The fallback's copy of the file (``content SIZE MISSING`` + bytes)."""

    data: bytes
    size: int  # as the remote counted it: fewer bytes in ``data`` means cut short
    missing: bool  # no file yet (creating)


def parse_fetched(raw: bytes) -> Fetched | None:
    """The fetch reply, or None if its first line is not ``content``."""
    header, _, body = raw.partition(b"\n")
    word, *fields = header.decode("ascii", "replace").split(" ")
    if word != "content":
        return None
    size = int(fields[0])
    return Fetched(body[:size], size, fields[1] == "1")
