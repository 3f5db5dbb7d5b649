"""ripgrep regexes as POSIX ERE for the grep fallback, or a refusal that says why.

Grep's pattern is a ripgrep (Rust ``regex`` crate) pattern. Without rg on
the remote, Grep runs GNU ``grep -E`` bytewise in the C locale, so
:func:`translate_regex` rewrites the pattern in ERE where the translation
matches the same lines: Perl classes become brackets, escapes become
literal bytes, non-capturing and named groups become plain groups, lazy
quantifiers become greedy ones. What ERE cannot say (look-around and
backreferences, which rg rejects too; Unicode classes, most inline flags,
class set operations, multiline mode) raises a ToolError naming the
construct and the fix, never a silently different search. :func:`refuse`
words those refusals, for Grep's other fallback limits as well.
"""

from __future__ import annotations

import re

from ..errors import ToolError
from .posix_patterns import bracket, literal, word

__all__ = ["refuse", "translate_regex"]


class _Unsupported(ToolError):
    """A search the grep fallback cannot run faithfully (rg could)."""


def refuse(
    construct: str, fix: str = "rephrase the pattern with plain regex syntax"
) -> _Unsupported:
    """The fallback's refusal: names the construct, then the two ways out."""
    return _Unsupported(
        f"The Grep fallback on this host (no ripgrep, so GNU grep -E) cannot run this "
        f"search faithfully: {construct}. Install ripgrep (rg) on the remote host, or {fix}."
    )


def _rg_error(message: str) -> ToolError:
    """An error ripgrep itself would give for the pattern (any backend)."""
    return ToolError(f"regex parse error: {message}")


# \w also takes every non-ASCII byte: grep runs bytewise (C locale), and in
# source code and text those bytes are nearly always parts of letters.
_PERL_CLASSES = {"d": ("0-9", ""), "s": ("", "space"), "w": ("_\x80-\xff", "alnum")}
_CONTROL = {"t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_HEX = re.compile(
    r"x([0-9A-Fa-f]{2})|x\{([0-9A-Fa-f]{1,8})\}|u([0-9A-Fa-f]{4})|"
    r"u\{([0-9A-Fa-f]{1,8})\}|U([0-9A-Fa-f]{8})"
)
_GROUP_NAME = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_NEWLINE = "the literal '\"\\n\"' is not allowed in a regex"  # ripgrep's own wording
_HIGH_BYTES = frozenset(range(0x80, 0x100))
# One UTF-8 encoded non-ASCII character: grep counts bytes in the C locale,
# rg counts characters, so `.` and negated classes must take it whole.
_UTF8_CHAR = (
    word(bracket(range(0xC0, 0x100), fnmatch=False) + bracket(range(0x80, 0xC0), fnmatch=False))
    + "*"
)


def _negated_class(members: set[int], named: list[str]) -> str:
    """A negated class as rg means it: one character, ASCII or not."""
    if _HIGH_BYTES <= members:  # \w's bytes: no non-ASCII character matches
        return word(bracket(members, named, fnmatch=False, negated=True))
    ascii_part = bracket(members | _HIGH_BYTES, named, fnmatch=False, negated=True)
    return f"({word(ascii_part)}|{_UTF8_CHAR})"


def translate_regex(pattern: str) -> tuple[str, bool]:
    """A ripgrep (Rust regex) pattern as a GNU ``grep -E`` pattern, plus
    whether a leading ``(?i)`` asked for case-insensitivity. Raises
    ToolError naming the construct when no faithful translation exists."""
    lead = re.match(r"\(\?([imsU]+)\)", pattern)
    icase = bool(lead and "i" in lead.group(1))
    text = pattern[lead.end() :] if lead else pattern
    names = _GROUP_NAME.findall(text)
    if len(names) != len(set(names)):
        raise _rg_error("duplicate capture group name")
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            atom, i = _escape(text, i)
            out.append(atom)
        elif c == "[":
            atom, i = _rust_class(text, i)
            out.append(atom)
        elif c == "(":
            atom, i = _group_open(text, i)
            out.append(atom)
        elif c in "*+?":
            out.append(c)
            i += 1
            i += 1 if i < n and text[i] == "?" else 0  # lazy: same lines match
        elif c == "{":
            m = _REPEAT.match(text, i)
            if not m:
                raise _rg_error("repetition quantifier expects a valid decimal")
            out.append(m.group(0))
            i = m.end()
            i += 1 if i < n and text[i] == "?" else 0
        elif c == "\n":
            raise ToolError(_NEWLINE)
        elif c == ".":
            out.append(_negated_class(set(), []))
            i += 1
        elif ord(c) > 127:
            out.append(f"({c})")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), icase


def _group_open(text: str, i: int) -> tuple[str, int]:
    if not text.startswith("(?", i):
        return "(", i + 1
    if text.startswith("(?:", i):
        return "(", i + 3
    if text.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
        raise _rg_error("look-around, including look-ahead and look-behind, is not supported")
    named = _GROUP_NAME.match(text, i)
    if named:
        return "(", named.end()
    flags = re.compile(r"\(\?([a-zA-Z-]*)([:)])").match(text, i)
    if flags and set(flags.group(1)) <= set("msU"):
        # No effect on which lines match: lines hold no newline, and
        # greediness only moves match boundaries.
        return ("(" if flags.group(2) == ":" else ""), flags.end()
    shown = flags.group(0) if flags else text[i : i + 4]
    raise refuse(f"the inline flag group {shown!r} (only a leading (?i) is supported)")


def _escape_char(text: str, i: int) -> tuple[str, int]:
    """A backslash escape that stands for one character; any other escape
    left by the caller is one that ripgrep does not know."""
    c = text[i + 1]
    if c in _CONTROL:
        return _CONTROL[c], i + 2
    m = _HEX.match(text, i + 1)
    if m:
        code = int(next(g for g in m.groups() if g), 16)
        if code > 0x10FFFF:
            raise _rg_error("invalid Unicode scalar value in escape")
        return chr(code), m.end()
    if not c.isalnum() and c != "\n":
        return c, i + 2
    raise _rg_error(f"unrecognized escape sequence \\{c}")


def _escape(text: str, i: int) -> tuple[str, int]:
    if i + 1 >= len(text):
        raise _rg_error("incomplete escape sequence, reached end of pattern prematurely")
    c = text[i + 1]
    if c.lower() in _PERL_CLASSES:
        extra, named = _PERL_CLASSES[c.lower()]
        members = _class_members(extra)
        if c.isupper():
            return _negated_class(members, [named] if named else []), i + 2
        return word(bracket(members, [named] if named else [], fnmatch=False)), i + 2
    if c in "bB":
        return "\\" + c, i + 2
    if c == "n":
        raise ToolError(_NEWLINE)
    if c.isdigit():
        raise _rg_error("backreferences are not supported")
    if c in "pP":
        raise refuse(f"the Unicode class escape \\{c}")
    if c in "Az":
        raise refuse(f"the anchor \\{c} (use ^ or $)")
    char, end = _escape_char(text, i)
    if char == "\n":
        raise ToolError(_NEWLINE)
    if ord(char) > 127:
        return f"({char})", end
    return literal(char, fnmatch=False).decode(), end


def _rust_class(text: str, i: int) -> tuple[str, int]:
    """A Rust character class as an ERE bracket (ASCII members only)."""
    start, n = i, len(text)
    i += 1
    negated = i < n and text[i] == "^"
    i += 1 if negated else 0
    members: set[int] = set()
    named: list[str] = []
    first = True
    while True:
        if i >= n:
            raise _rg_error("unclosed character class")
        c = text[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[":
            posix = re.compile(r"\[:(\^?)([a-z]+):\]").match(text, i)
            if not posix or posix.group(1):
                raise refuse("a nested or negated class inside a character class")
            named.append(posix.group(2))
            i = posix.end()
            continue
        if text.startswith(("&&", "--", "~~"), i) and text[i + 2 : i + 3] != "]":
            raise refuse(f"the class set operation {text[i : i + 2]!r}")
        if c == "\\" and i + 1 < n and text[i + 1].lower() in _PERL_CLASSES:
            if text[i + 1].isupper():
                raise refuse(f"the negated class \\{text[i + 1]} inside [...]")
            extra, name = _PERL_CLASSES[text[i + 1]]
            members.update(_class_members(extra))
            named.extend([name] if name else [])
            i += 2
            continue
        lo, i = _class_char(text, i)
        hi = lo
        if i + 1 < n and text[i] == "-" and text[i + 1] != "]":
            hi, i = _class_char(text, i + 1)
            if hi < lo:
                raise _rg_error("invalid character class range")
        members.update(range(ord(lo), ord(hi) + 1))
    if not members and not named:
        raise refuse(f"the empty class {text[start:i]!r}")
    if negated:
        return _negated_class(members, named), i
    return word(bracket(members, named, fnmatch=False)), i


def _class_members(spec: str) -> set[int]:
    """Bytes named by a tiny range spec such as ``0-9`` or ``_\\x80-\\xff``."""
    out: set[int] = set()
    for m in re.finditer(r"(.)-(.)|(.)", spec, re.S):
        lo, hi, one = m.groups()
        out.update(range(ord(lo), ord(hi) + 1) if one is None else [ord(one)])
    return out


def _class_char(text: str, i: int) -> tuple[str, int]:
    if text[i] == "\\":
        if i + 1 >= len(text):
            raise _rg_error("unclosed character class")
        char, end = _escape_char(text, i)
    else:
        char, end = text[i], i + 1
    if char == "\n":
        raise ToolError(_NEWLINE)
    if ord(char) > 127:
        raise refuse(f"the non-ASCII character {char!r} inside [...] (grep runs bytewise)")
    return char, end
