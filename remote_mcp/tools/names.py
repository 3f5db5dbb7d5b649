"""File names that are not UTF-8, shown to the agent and taken back.

A remote file name is bytes; JSON carries only Unicode text. In a name
that is not valid UTF-8, each byte that does not decode is shown as
``\\xNN`` (Python's ``backslashreplace``: always NN >= 80, since ASCII always
decodes). A path argument with such escapes is taken back to those bytes,
unless the escapes could not have come from us (the bytes they stand for
would be valid UTF-8) or a file with the literal name exists (the caller
checks that on the remote). docs/reference/search-backends.md has the rule.
"""

from __future__ import annotations

import re

__all__ = ["show_name", "unescape_name"]

_ESCAPE = re.compile(r"\\x([89a-fA-F][0-9a-fA-F])")


def show_name(name: str | bytes) -> str:
    """A remote name as text: undecodable bytes (or their surrogate escapes) as ``\\xNN``."""
    raw = name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def unescape_name(path: str) -> str | None:
    """The name ``path`` stands for if it holds ``\\xNN`` escapes of ours
    (undecodable bytes as surrogate escapes), else None."""
    if not _ESCAPE.search(path):
        return None
    named = _ESCAPE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), path)
    raw = named.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")
    return None  # valid UTF-8 bytes are never escaped: this is literal text
