"""Byte sets and literals written in POSIX pattern syntax, C locale.

Both fallbacks hand patterns to POSIX tools: globs become ``find -name`` /
``-path`` (fnmatch) or GNU ``find -regex`` (ERE) tests, and ripgrep regexes
become ``grep -E`` patterns. Both work bytewise in the C locale, so a
character class is written as the exact set of bytes it matches, and each
syntax has its own characters to escape. Written once here for
``glob_to_find`` and ``regex_translate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["bracket", "literal", "word"]

_ERE_SPECIAL = frozenset(b".[]()*+?{}|^$\\")


def bracket(
    members: Iterable[int], named: Sequence[str] = (), *, fnmatch: bool, negated: bool = False
) -> bytes:
    """A bracket expression for a set of bytes (C locale): ``]`` first, ``-``
    last, ``^``/``!``/``\\`` never where they would mean something else
    (fnmatch escapes them; ERE only needs ``^`` off the first place)."""
    chars = set(members)
    if len(chars) == 1 and not named and not negated:
        return _lit_byte(next(iter(chars)), fnmatch=fnmatch)
    special = set(b"][^!-\\")
    body = [b"]"] if ord("]") in chars else []
    normal = sorted(chars - special)
    start = 0
    while start < len(normal):
        stop = start
        while stop + 1 < len(normal) and normal[stop + 1] == normal[stop] + 1:
            stop += 1
        if stop - start >= 2:
            body.append(bytes([normal[start], ord("-"), normal[stop]]))
        else:
            body.extend(bytes([b]) for b in normal[start : stop + 1])
        start = stop + 1
    body.extend(f"[:{n}:]".encode() for n in named)
    for ch in b"[\\!^":
        if ch in chars:
            body.append((b"\\" if fnmatch and ch != ord("[") else b"") + bytes([ch]))
    if ord("-") in chars:
        body.insert(0, b"-") if body and body[0] == b"^" and not negated else body.append(b"-")
    return b"[" + (b"^" if negated else b"") + b"".join(body) + b"]"


def _lit_byte(byte: int, *, fnmatch: bool) -> bytes:
    special = b"*?[\\" if fnmatch else _ERE_SPECIAL
    return (b"\\" if byte in special else b"") + bytes([byte])


def literal(text: str, *, fnmatch: bool) -> bytes:
    """``text`` (as UTF-8 bytes) matched literally."""
    return b"".join(_lit_byte(b, fnmatch=fnmatch) for b in text.encode("utf-8", "surrogateescape"))


def word(data: bytes) -> str:
    """A pattern as a command-line word; surrogateescape keeps raw bytes."""
    return data.decode("utf-8", "surrogateescape")
