"""ripgrep's glob language: parsing ``--glob`` and matching paths as rg does.

Glob takes an ``rg --glob`` pattern and Grep's ``glob`` becomes ``--glob``
arguments, so both mean what ripgrep 13 means: gitignore-style override
lines (``!`` excludes, a ``/`` anchors at the search root, a bare name
matches at any depth) in ``globset`` 0.4 syntax (``**``, ``{a,b}``,
classes). When the remote has no rg, this module decides the same
questions in Python: :class:`RipgrepGlob` parses the globs (raising
:class:`GlobSyntaxError` with rg's wording) and tells whether rg would
select a path. The parsed tokens and :func:`glob_regex` also feed
``glob_to_find``, which turns them into ``find`` tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "GlobSyntaxError",
    "Override",
    "RegexSyntax",
    "RipgrepGlob",
    "Token",
    "class_bytes",
    "glob_regex",
    "walk_tokens",
]


class GlobSyntaxError(ValueError):
    """A glob ripgrep would reject; the message is ripgrep's own wording."""


@dataclass(frozen=True)
class Token:
    """One globset token. ``kind``: lit any star rprefix rsuffix rzom class alt."""

    kind: str
    char: str = ""
    negated: bool = False
    ranges: tuple[tuple[str, str], ...] = ()
    alts: tuple[tuple[Token, ...], ...] = ()


_ANY, _STAR = Token("any"), Token("star")
_RPREFIX, _RSUFFIX, _RZOM = Token("rprefix"), Token("rsuffix"), Token("rzom")


class _GlobParser:
    """globset 0.4 (ripgrep 13) tokenizer with gitignore options: literal
    separator, backslash escapes, no nested ``{}``. Mirrors its quirks, e.g.
    ``a**`` is two stars and a stray ``}`` is an empty alternation."""

    def __init__(self, glob: str) -> None:
        self.glob = glob
        self.chars = glob
        self.pos = 0
        self.prev: str | None = None
        self.cur: str | None = None
        self.stack: list[list[Token]] = [[]]

    def error(self, kind: str) -> GlobSyntaxError:
        return GlobSyntaxError(kind)

    def bump(self) -> str | None:
        self.prev = self.cur
        self.cur = self.chars[self.pos] if self.pos < len(self.chars) else None
        self.pos += 1
        return self.cur

    def peek(self) -> str | None:
        return self.chars[self.pos] if self.pos < len(self.chars) else None

    def push(self, tok: Token) -> None:
        self.stack[-1].append(tok)

    def parse(self) -> tuple[Token, ...]:
        while (c := self.bump()) is not None:
            if c == "?":
                self.push(_ANY)
            elif c == "*":
                self.star()
            elif c == "[":
                self.klass()
            elif c == "{":
                if len(self.stack) > 1:
                    raise self.error("nested alternate groups are not allowed")
                self.stack.append([])
            elif c == "}":
                alts: list[tuple[Token, ...]] = []
                while len(self.stack) >= 2:
                    alts.append(tuple(self.stack.pop()))
                self.push(Token("alt", alts=tuple(alts)))
            elif c == "," and len(self.stack) > 1:
                self.stack.append([])
            elif c == "\\":
                escaped = self.bump()
                if escaped is None:
                    raise self.error("dangling '\\'")
                self.push(Token("lit", escaped))
            else:
                self.push(Token("lit", c))
        if len(self.stack) > 1:
            raise self.error("unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)")
        return tuple(self.stack[0])

    def star(self) -> None:
        prev = self.prev
        if self.peek() != "*":
            self.push(_STAR)
            return
        self.bump()
        if not self.stack[-1]:
            if self.peek() not in (None, "/"):
                self.push(_STAR)
                self.push(_STAR)
            else:
                self.push(_RPREFIX)
                self.bump()
            return
        if prev != "/" and (len(self.stack) <= 1 or prev not in (",", "{")):
            self.push(_STAR)
            self.push(_STAR)
            return
        nxt = self.peek()
        if nxt is None:
            self.bump()
            is_suffix = True
        elif nxt in (",", "}") and len(self.stack) >= 2:
            is_suffix = True
        elif nxt == "/":
            self.bump()
            is_suffix = False
        else:
            self.push(_STAR)
            self.push(_STAR)
            return
        last = self.stack[-1].pop()
        if last.kind in ("rprefix", "rsuffix"):
            self.push(last)
        else:
            self.push(_RSUFFIX if is_suffix else _RZOM)

    def klass(self) -> None:
        ranges: list[tuple[str, str]] = []
        negated = self.peek() in ("!", "^")
        if negated:
            self.bump()
        first, in_range = True, False
        while True:
            c = self.bump()
            if c is None:
                raise self.error("unclosed character class; missing ']'")
            if c == "]" and not first:
                break
            if c == "-" and not first:
                if in_range:
                    self._extend(ranges, "-")
                    in_range = False
                else:
                    in_range = True
            elif in_range:
                self._extend(ranges, c)
                in_range = False
            else:
                ranges.append((c, c))
            first = False
        if in_range:
            ranges.append(("-", "-"))
        self.push(Token("class", negated=negated, ranges=tuple(ranges)))

    def _extend(self, ranges: list[tuple[str, str]], end: str) -> None:
        start = ranges[-1][0]
        if end < start:
            raise self.error(f"invalid range; '{start}' > '{end}'")
        ranges[-1] = (start, end)


def class_bytes(tok: Token) -> frozenset[int]:
    """The bytes a globset class matches: it is compiled into a byte regex,
    so a multi-byte character in a class stands for its separate bytes."""
    members: set[int] = set()
    for lo, hi in tok.ranges:
        a, b = lo.encode(), hi.encode()
        if lo == hi:
            members.update(a)
            continue
        members.update(a[:-1])
        members.update(b[1:])
        if a[-1] > b[0]:
            raise GlobSyntaxError(f"invalid range; '{lo}' > '{hi}'")
        members.update(range(a[-1], b[0] + 1))
    if tok.negated:
        members = set(range(256)) - members
    members.discard(0)  # no path contains NUL
    return frozenset(members)


@dataclass(frozen=True)
class Override:
    """One ``--glob`` as ripgrep's override matcher reads it (a gitignore line
    with ``!`` meaning exclude)."""

    original: str
    tokens: tuple[Token, ...]
    exclude: bool
    only_dir: bool


def _parse_override(line: str) -> Override | None:
    """ignore::gitignore add_line: comments, ``!``, anchoring, ``**/`` prefix."""
    if line.startswith("#"):
        return None
    if not line.endswith("\\ "):
        line = line.rstrip()
    if not line:
        return None
    original, exclude, anchored = line, False, False
    if line.startswith(("\\!", "\\#")):
        line = line[1:]
        anchored = line.startswith("/")
    else:
        if line.startswith("!"):
            exclude, line = True, line[1:]
        if line.startswith("/"):
            line, anchored = line[1:], True
    only_dir = line.endswith("/")
    if only_dir:
        line = line[:-1]
    actual = line
    if not anchored and "/" not in line and not (actual.startswith("**/") or actual == "**"):
        actual = "**/" + actual
    if actual.endswith("/**"):
        actual += "/*"
    try:
        tokens = _GlobParser(actual).parse()
        for tok in walk_tokens(tokens):
            if tok.kind == "class":
                class_bytes(tok)
    except GlobSyntaxError as err:
        raise GlobSyntaxError(f"error parsing glob '{original}': {err}") from None
    return Override(original, tokens, exclude, only_dir)


def walk_tokens(tokens: Iterable[Token]) -> Iterable[Token]:
    """Every token, those inside ``{a,b}`` alternations included."""
    for tok in tokens:
        yield tok
        for alt in tok.alts:
            yield from walk_tokens(alt)


# -- globset's regex, written in Python's or POSIX ERE syntax ---------------------
@dataclass(frozen=True)
class RegexSyntax:
    """How one regex dialect writes the pieces of globset's regex: ``group``
    opens a non-capturing (or plain) group, ``literal`` writes a character,
    ``klass`` a class token."""

    group: bytes
    literal: Callable[[str], bytes]
    klass: Callable[[Token], bytes]


def glob_regex(tokens: Sequence[Token], syntax: RegexSyntax) -> bytes:
    """globset's regex for a parsed glob (unanchored), in ``syntax``."""
    if len(tokens) == 1 and tokens[0].kind == "rprefix":
        return b".*"  # globset's special case for the whole glob `**`
    return _regex_body(tokens, syntax)


def _regex_body(tokens: Sequence[Token], syntax: RegexSyntax) -> bytes:
    group = syntax.group
    fixed = {
        "any": b"[^/]",
        "star": b"[^/]*",
        "rprefix": group + b"/?|.*/)",
        "rsuffix": b"/.*",
        "rzom": group + b"/|/.*/)",
    }
    out = []
    for tok in tokens:
        if tok.kind in fixed:
            out.append(fixed[tok.kind])
        elif tok.kind == "lit":
            out.append(syntax.literal(tok.char))
        elif tok.kind == "class":
            out.append(syntax.klass(tok))
        else:
            parts = [p for p in (_regex_body(a, syntax) for a in tok.alts) if p]
            if parts:
                out.append(group + b"|".join(parts) + b")")
    return b"".join(out)


def _python_class(tok: Token) -> bytes:
    members = sorted(class_bytes(tok))
    return b"[" + b"".join(b"\\x%02x" % m for m in members) + b"]" if members else b"(?!)"


_PYTHON = RegexSyntax(
    b"(?:", lambda char: re.escape(char.encode("utf-8", "surrogateescape")), _python_class
)


# -- exact matching in Python (globset's strategies + its regex) ---------------
def _literal(tokens: Sequence[Token]) -> str | None:
    return "".join(t.char for t in tokens) if all(t.kind == "lit" for t in tokens) else None


class RipgrepGlob:
    """Decides whether ripgrep's ``--glob`` overrides select a path.

    Paths are bytes relative to the search root, without ``./``. globset
    answers many globs with a literal/extension/suffix check instead of its
    regex; the two disagree on names containing a newline (the regex's
    ``.`` stops there), so the same strategy is picked here."""

    def __init__(self, globs: Sequence[str]) -> None:
        parsed = [_parse_override(g) for g in globs]
        self.overrides = [o for o in parsed if o is not None]
        self.has_include = any(not o.exclude for o in self.overrides)
        self._tests = [self._compile(o.tokens) for o in self.overrides]

    @staticmethod
    def _compile(tokens: tuple[Token, ...]) -> Callable[[bytes], bool]:
        def enc(text: str) -> bytes:
            return text.encode("utf-8", "surrogateescape")

        rest = tokens[1:]
        if tokens and tokens[0].kind == "rprefix" and rest:
            lit = _literal(rest)
            if lit is not None and "/" not in lit:
                name = enc(lit)
                return lambda p: p.rpartition(b"/")[2] == name
        lit = _literal(tokens)
        if lit is not None:
            whole = enc(lit)
            return lambda p: p == whole
        start = 1 if tokens and tokens[0].kind == "rprefix" else 0
        tail = tokens[start + 1 :]
        if start == 1 and len(tokens) > 2 and tokens[1].kind == "star":
            ext_tail = _literal(tail)
            if ext_tail and ext_tail.startswith(".") and not set("./") & set(ext_tail[1:]):
                ext = enc(ext_tail)
                return lambda p: _extension(p) == ext
        if start == 1 and len(tokens) > 1 and tokens[1].kind == "lit":
            suffix_lit = _literal(tokens[1:])
            if suffix_lit is not None:
                suffix = enc("/" + suffix_lit)
                return lambda p: p.endswith(suffix) or p == suffix[1:]
        regex = re.compile(rb"\A(?:" + glob_regex(tokens, _PYTHON) + rb")\Z")
        return lambda p: regex.match(p) is not None

    def _decide(self, path: bytes, is_dir: bool) -> bool | None:
        """True include, False exclude, None no glob matched (last match wins)."""
        for over, test in zip(reversed(self.overrides), reversed(self._tests), strict=True):
            if (not over.only_dir or is_dir) and test(path):
                return not over.exclude
        return None

    def selects(self, path: bytes) -> bool:
        """Would ``rg --files`` with these globs list this file?"""
        parts = path.split(b"/")
        for depth in range(1, len(parts)):
            if self._decide(b"/".join(parts[:depth]), True) is False:
                return False  # an excluded directory is never entered
        verdict = self._decide(path, False)
        return (not self.has_include) if verdict is None else verdict


def _extension(path: bytes) -> bytes:
    name = path.rpartition(b"/")[2]
    dot = name.rfind(b".")
    return name[dot:] if dot >= 0 else b""
