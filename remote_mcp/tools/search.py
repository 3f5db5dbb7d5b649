"""Glob and Grep: Claude Code's search tools, run on the remote in one command.

Claude Code (v2.0.77, reference/claude-code-tools.md sections 8-9) answers both
with ripgrep. remote-mcp uses the remote's ``rg`` when it has one, with the
same arguments, so results match; otherwise it falls back to ``find`` (Glob)
or ``find`` + GNU ``grep`` (Grep) and makes them behave like ripgrep:

* ripgrep's glob language (gitignore-style globs over the path relative to
  the search root, ``globset`` 0.4 syntax: ``**``, ``{a,b}``, classes) is
  parsed here in Python. The parsed glob becomes ``find`` tests (``-name``
  where exact, ``-regex`` on GNU find, a ``-path`` superset on POSIX find),
  and, for Glob, an exact matcher applied to what comes back.
* ripgrep's regex syntax is translated to POSIX ERE for ``grep -E`` where a
  translation is faithful; anything else is refused with a message naming
  the construct (never a silently different search).

Output text is formatted in Python from NUL-separated records, the same for
every backend. Differences that remain are listed in
docs/reference/search-backends.md.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import ToolError
from .base import Runner, ToolOutput, ToolState, decode_text, run_template

__all__ = ["GlobSyntaxError", "RipgrepGlob", "glob", "grep", "translate_regex"]

GLOB_LIMIT = 100  # Claude Code's Glob cap (limit:100)
GREP_MAX_CHARS = 20000  # MC0: longer Grep results are cut with a note
MAX_COLUMNS = 500  # rg --max-columns 500 as Claude Code passes it
VCS_DIRS = (".git", ".svn", ".hg", ".bzr")  # Claude Code's nr5 (--glob '!.git' ...)
_TRUNCATED = "(Results are truncated. Consider using a more specific path or pattern.)"

# ripgrep 13's definitions of common file types (`rg --type-list`), for the
# grep fallback; rg itself knows many more.
_RG_TYPE_LIST = """
asm: *.S *.asm *.s
c: *.[chH] *.[chH].in *.cats
clojure: *.clj *.cljc *.cljs *.cljx
cmake: *.cmake CMakeLists.txt
config: *.cfg *.conf *.config *.ini
cpp: *.[ChH] *.[ChH].in *.[ch]pp *.[ch]pp.in *.[ch]xx *.[ch]xx.in *.cc *.cc.in *.hh *.hh.in
    *.inl
cs: *.cs
csharp: *.cs
css: *.css *.scss
csv: *.csv
dart: *.dart
docker: *Dockerfile*
elixir: *.eex *.ex *.exs
erlang: *.erl *.hrl
go: *.go
gradle: *.gradle
groovy: *.gradle *.groovy
haskell: *.c2hs *.cpphs *.hs *.hsc *.lhs
html: *.ejs *.htm *.html
java: *.java *.jsp *.jspx *.properties
js: *.js *.jsx *.vue
json: *.json composer.lock
jsonl: *.jsonl
julia: *.jl
kotlin: *.kt *.kts
less: *.less
log: *.log
lua: *.lua
make: *.mak *.mk [Gg][Nn][Uu]makefile [Gg][Nn][Uu]makefile.am [Gg][Nn][Uu]makefile.in
    [Mm]akefile [Mm]akefile.am [Mm]akefile.in
markdown: *.markdown *.md *.mdown *.mkdn
md: *.markdown *.md *.mdown *.mkdn
objc: *.h *.m
ocaml: *.ml *.mli *.mll *.mly
perl: *.PL *.perl *.pl *.plh *.plx *.pm *.t
php: *.php *.php3 *.php4 *.php5 *.phtml
py: *.py
r: *.R *.Rmd *.Rnw *.r
rst: *.rst
ruby: *.gemspec *.rb *.rbw .irbrc Gemfile Rakefile config.ru
rust: *.rs
sass: *.sass *.scss
scala: *.sbt *.scala
sh: *.bash *.bashrc *.csh *.cshrc *.ksh *.kshrc *.sh *.tcsh *.zsh .bash_login .bash_logout
    .bash_profile .bashrc .cshrc .kshrc .login .logout .profile .tcshrc .zlogin .zlogout
    .zprofile .zshenv .zshrc bash_login bash_logout bash_profile bashrc profile zlogin zlogout
    zprofile zshenv zshrc
sql: *.psql *.sql
swift: *.swift
tex: *.bib *.cls *.dtx *.ins *.ltx *.sty *.tex
tf: *.tf
toml: *.toml Cargo.lock
ts: *.ts *.tsx
txt: *.txt
xml: *.dtd *.rng *.sch *.xhtml *.xjb *.xml *.xml.dist *.xsd *.xsl *.xslt
yaml: *.yaml *.yml
zig: *.zig
"""
RG_TYPES: dict[str, tuple[str, ...]] = {
    name: tuple(globs.split())
    for name, globs in re.findall(r"^(\w+): (.*?)(?=^\w|\Z)", _RG_TYPE_LIST, re.M | re.S)
}


# =============================================================================
# ripgrep's glob language
# =============================================================================
class GlobSyntaxError(ValueError):
    """A glob ripgrep would reject; the message is ripgrep's own wording."""


@dataclass(frozen=True)
class _Tok:
    """One globset token. ``kind``: lit any star rprefix rsuffix rzom class alt."""

    kind: str
    char: str = ""
    negated: bool = False
    ranges: tuple[tuple[str, str], ...] = ()
    alts: tuple[tuple[_Tok, ...], ...] = ()


_ANY, _STAR = _Tok("any"), _Tok("star")
_RPREFIX, _RSUFFIX, _RZOM = _Tok("rprefix"), _Tok("rsuffix"), _Tok("rzom")


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
        self.stack: list[list[_Tok]] = [[]]

    def error(self, kind: str) -> GlobSyntaxError:
        return GlobSyntaxError(kind)

    def bump(self) -> str | None:
        self.prev = self.cur
        self.cur = self.chars[self.pos] if self.pos < len(self.chars) else None
        self.pos += 1
        return self.cur

    def peek(self) -> str | None:
        return self.chars[self.pos] if self.pos < len(self.chars) else None

    def push(self, tok: _Tok) -> None:
        self.stack[-1].append(tok)

    def parse(self) -> tuple[_Tok, ...]:
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
                alts: list[tuple[_Tok, ...]] = []
                while len(self.stack) >= 2:
                    alts.append(tuple(self.stack.pop()))
                self.push(_Tok("alt", alts=tuple(alts)))
            elif c == "," and len(self.stack) > 1:
                self.stack.append([])
            elif c == "\\":
                escaped = self.bump()
                if escaped is None:
                    raise self.error("dangling '\\'")
                self.push(_Tok("lit", escaped))
            else:
                self.push(_Tok("lit", c))
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
        self.push(_Tok("class", negated=negated, ranges=tuple(ranges)))

    def _extend(self, ranges: list[tuple[str, str]], end: str) -> None:
        start = ranges[-1][0]
        if end < start:
            raise self.error(f"invalid range; '{start}' > '{end}'")
        ranges[-1] = (start, end)


def _class_bytes(tok: _Tok) -> frozenset[int]:
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
class _Override:
    """One ``--glob`` as ripgrep's override matcher reads it (a gitignore line
    with ``!`` meaning exclude)."""

    original: str
    tokens: tuple[_Tok, ...]
    exclude: bool
    only_dir: bool


def _parse_override(line: str) -> _Override | None:
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
        for tok in _walk(tokens):
            if tok.kind == "class":
                _class_bytes(tok)
    except GlobSyntaxError as err:
        raise GlobSyntaxError(f"error parsing glob '{original}': {err}") from None
    return _Override(original, tokens, exclude, only_dir)


def _walk(tokens: Iterable[_Tok]) -> Iterable[_Tok]:
    for tok in tokens:
        yield tok
        for alt in tok.alts:
            yield from _walk(alt)


# -- exact matching in Python (globset's strategies + its regex) ---------------
def _py_regex(tokens: Sequence[_Tok]) -> bytes:
    if len(tokens) == 1 and tokens[0].kind == "rprefix":
        return b".*"  # globset's special case for the whole glob `**`
    return _py_regex_body(tokens)


def _py_regex_body(tokens: Sequence[_Tok]) -> bytes:
    out = []
    for tok in tokens:
        if tok.kind == "lit":
            out.append(re.escape(tok.char.encode("utf-8", "surrogateescape")))
        elif tok.kind == "any":
            out.append(b"[^/]")
        elif tok.kind == "star":
            out.append(b"[^/]*")
        elif tok.kind == "rprefix":
            out.append(b"(?:/?|.*/)")
        elif tok.kind == "rsuffix":
            out.append(b"/.*")
        elif tok.kind == "rzom":
            out.append(b"(?:/|/.*/)")
        elif tok.kind == "class":
            members = sorted(_class_bytes(tok))
            out.append(b"[" + b"".join(b"\\x%02x" % m for m in members) + b"]" if members
                       else b"(?!)")  # fmt: skip
        else:
            parts = [p for p in (_py_regex_body(a) for a in tok.alts) if p]
            if parts:
                out.append(b"(?:" + b"|".join(parts) + b")")
    return b"".join(out)


def _literal(tokens: Sequence[_Tok]) -> str | None:
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
    def _compile(tokens: tuple[_Tok, ...]) -> Callable[[bytes], bool]:
        enc = lambda s: s.encode("utf-8", "surrogateescape")  # noqa: E731
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
        regex = re.compile(rb"\A(?:" + _py_regex(tokens) + rb")\Z")
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


# -- glob -> find tests ------------------------------------------------------------
_ERE_SPECIAL = frozenset(b".[]()*+?{}|^$\\")


def _bracket(members: Iterable[int], named: Sequence[str] = (), *, fnmatch: bool,
             negated: bool = False) -> bytes:  # fmt: skip
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


def _lit(text: str, *, fnmatch: bool) -> bytes:
    return b"".join(_lit_byte(b, fnmatch=fnmatch) for b in text.encode("utf-8", "surrogateescape"))


def _ere(tokens: Sequence[_Tok]) -> bytes:
    """globset's regex in POSIX ERE (GNU find -regex, C locale)."""
    if len(tokens) == 1 and tokens[0].kind == "rprefix":
        return b".*"
    return _ere_body(tokens)


def _ere_body(tokens: Sequence[_Tok]) -> bytes:
    simple = {"any": b"[^/]", "star": b"[^/]*", "rprefix": b"(/?|.*/)", "rsuffix": b"/.*",
              "rzom": b"(/|/.*/)"}  # fmt: skip
    out = []
    for tok in tokens:
        if tok.kind in simple:
            out.append(simple[tok.kind])
        elif tok.kind == "lit":
            out.append(_lit(tok.char, fnmatch=False))
        elif tok.kind == "class":
            out.append(_bracket(_class_bytes(tok), fnmatch=False))
        else:
            parts = [p for p in (_ere_body(a) for a in tok.alts) if p]
            if parts:
                out.append(b"(" + b"|".join(parts) + b")")
    return b"".join(out)


_MAX_EXPANSIONS = 64


def _fnmatch(tokens: Sequence[_Tok], *, superset: bool) -> list[bytes] | None:
    """fnmatch patterns (brace sets expanded) equal to the tokens over a file
    name, or -- ``superset`` -- matching at least what they match over a path
    (``*`` of -path crosses ``/``). None when that cannot be written."""
    outs = [b""]
    for tok in tokens:
        if tok.kind == "lit":
            piece = [_lit(tok.char, fnmatch=True)]
        elif tok.kind == "any":
            piece = [b"?"]
        elif tok.kind == "star":
            piece = [b"*"]
        elif tok.kind == "class":
            piece = [_bracket(_class_bytes(tok), fnmatch=True)]
        elif tok.kind == "alt":
            piece = []
            for alt in tok.alts or ((),):
                sub = _fnmatch(alt, superset=superset)
                if sub is None:
                    return None
                piece.extend(sub)
        elif superset:
            piece = [b"*" if tok.kind == "rprefix" else b"/*"]
        else:
            return None
        outs = [o + p for o in outs for p in piece]
        if len(outs) > _MAX_EXPANSIONS:
            return None
    return outs


def _basename_patterns(over: _Override) -> list[bytes] | None:
    """-name patterns when the glob only looks at the file name (``*.py``)."""
    tokens = over.tokens
    if len(tokens) < 2 or tokens[0].kind != "rprefix":
        return None
    rest = tokens[1:]
    if any(t.kind in ("rprefix", "rsuffix", "rzom") or (t.kind == "lit" and t.char == "/")
           for t in _walk(rest)):  # fmt: skip
        return None
    return _fnmatch(rest, superset=False)


@dataclass
class _Expr:
    """A tiny boolean algebra over find tests that folds constants away."""

    words: list[str] = field(default_factory=list)
    const: bool | None = None

    @staticmethod
    def test(words: list[str]) -> _Expr:
        return _Expr(["(", *words, ")"])

    def negate(self) -> _Expr:
        if self.const is not None:
            return _Expr(const=not self.const)
        return _Expr(["!", "(", *self.words, ")"])

    def or_(self, other: _Expr) -> _Expr:
        if self.const is not None:
            return self if self.const else other
        if other.const is not None:
            return other if other.const else self
        return _Expr(["(", *self.words, "-o", *other.words, ")"])

    def and_(self, other: _Expr) -> _Expr:
        if self.const is not None:
            return other if self.const else self
        if other.const is not None:
            return self if other.const else other
        return _Expr([*self.words, *other.words])

    def render(self, true: list[str], false: list[str]) -> list[str]:
        if self.const is None:
            return self.words
        return true if self.const else false


def _word(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _find_test(over: _Override, *, gnu: bool, exact: bool) -> _Expr | None:
    """A find test true for the paths the glob matches (exactly, or a
    superset when ``exact`` is false); None when find cannot express it."""
    names = _basename_patterns(over)
    if len(over.tokens) == 1 and over.tokens[0].kind == "rprefix":
        return _Expr(const=True)
    if names is not None:
        return _or_tests([["-name", _word(n)] for n in names])
    if gnu:
        return _Expr.test(["-regex", _word(b"\\./" + _ere(over.tokens))])
    if exact:
        return None
    paths = _fnmatch(over.tokens, superset=True)
    if paths is None:
        return _Expr(const=True)
    return _or_tests([["-path", _word(b"./" + p)] for p in paths])


def _or_tests(tests: list[list[str]]) -> _Expr:
    expr = _Expr(const=False)
    for words in tests:
        expr = expr.or_(_Expr.test(words))
    return expr


def find_filter(matcher: RipgrepGlob, types: Sequence[str] = (), *, gnu: bool,
                exact: bool) -> list[str] | None:  # fmt: skip
    """find arguments selecting what ripgrep's overrides (+ ``--type`` globs)
    select: prune excluded directories, keep the files that the last
    matching glob includes. With ``exact`` false the selection may be a
    superset (the caller filters again); with ``exact`` true, None means
    POSIX find cannot express it."""
    prune, files = _Expr(const=False), _Expr(const=not matcher.has_include)
    if not matcher.has_include and types:
        files = _Expr(const=False)
        for over in RipgrepGlob(types).overrides:
            test = _find_test(over, gnu=gnu, exact=True)
            assert test is not None  # type globs are file-name globs
            files = files.or_(test)
    for over in matcher.overrides:
        test = _find_test(over, gnu=gnu, exact=exact or over.exclude)
        if test is None:
            if exact:
                return None
            continue  # leave it to the caller's exact filter
        if over.exclude:
            prune = test.or_(prune)
            files = files if over.only_dir else test.negate().and_(files)
        else:
            prune = test.negate().and_(prune)
            files = files if over.only_dir else test.or_(files)
    words = ["-regextype", "posix-extended"] if gnu else []
    if prune.const is not False:
        dirs = ["-type", "d", "!", "-path", ".", *prune.render([], [])]
        words += ["(", *dirs, ")", "-prune", "-o"]
    return [*words, "-type", "f", *files.render([], ["!", "-type", "f"])]


# =============================================================================
# ripgrep regex -> POSIX ERE (grep fallback)
# =============================================================================
class _Unsupported(ToolError):
    pass


def _refuse(
    construct: str, fix: str = "rephrase the pattern with plain regex syntax"
) -> _Unsupported:
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
_HEX = re.compile(r"x([0-9A-Fa-f]{2})|x\{([0-9A-Fa-f]{1,8})\}|u([0-9A-Fa-f]{4})|"
                  r"u\{([0-9A-Fa-f]{1,8})\}|U([0-9A-Fa-f]{8})")  # fmt: skip
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")


def translate_regex(pattern: str) -> tuple[str, bool]:
    """A ripgrep (Rust regex) pattern as a GNU ``grep -E`` pattern, plus
    whether a leading ``(?i)`` asked for case-insensitivity. Raises
    ToolError naming the construct when no faithful translation exists."""
    lead = re.match(r"\(\?([imsU]+)\)", pattern)
    icase = bool(lead and "i" in lead.group(1))
    text = pattern[lead.end() :] if lead else pattern
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
            raise ToolError("the literal '\"\\n\"' is not allowed in a regex")
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
    named = re.compile(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>").match(text, i)
    if named:
        return "(", named.end()
    flags = re.compile(r"\(\?([a-zA-Z-]*)([:)])").match(text, i)
    if flags and set(flags.group(1)) <= set("msU"):
        # No effect on which lines match: lines hold no newline, and
        # greediness only moves match boundaries.
        return ("(" if flags.group(2) == ":" else ""), flags.end()
    shown = flags.group(0) if flags else text[i : i + 4]
    raise _refuse(f"the inline flag group {shown!r} (only a leading (?i) is supported)")


def _escape_char(text: str, i: int) -> tuple[str, int] | None:
    """A backslash escape that stands for one character, or None."""
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
    return None


def _escape(text: str, i: int) -> tuple[str, int]:
    if i + 1 >= len(text):
        raise _rg_error("incomplete escape sequence, reached end of pattern prematurely")
    c = text[i + 1]
    if c.lower() in _PERL_CLASSES:
        extra, named = _PERL_CLASSES[c.lower()]
        members = _class_members(extra)
        body = _bracket(members, [named] if named else [], fnmatch=False, negated=c.isupper())
        return _word(body), i + 2
    if c in "bB":
        return "\\" + c, i + 2
    if c == "n":
        raise ToolError("the literal '\"\\n\"' is not allowed in a regex")
    if c.isdigit():
        raise _rg_error("backreferences are not supported")
    if c in "pP":
        raise _refuse(f"the Unicode class escape \\{c}")
    if c in "Az":
        raise _refuse(f"the anchor \\{c} (use ^ or $)")
    single = _escape_char(text, i)
    if single is None:
        raise _rg_error(f"unrecognized escape sequence \\{c}")
    char, end = single
    if char == "\n":
        raise ToolError("the literal '\"\\n\"' is not allowed in a regex")
    if ord(char) > 127:
        return f"({char})", end
    return _lit(char, fnmatch=False).decode(), end


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
                raise _refuse("a nested or negated class inside a character class")
            named.append(posix.group(2))
            i = posix.end()
            continue
        if text.startswith(("&&", "--", "~~"), i) and text[i + 2 : i + 3] != "]":
            raise _refuse(f"the class set operation {text[i : i + 2]!r}")
        if c == "\\" and i + 1 < n and text[i + 1].lower() in _PERL_CLASSES:
            if text[i + 1].isupper():
                raise _refuse(f"the negated class \\{text[i + 1]} inside [...]")
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
        raise _refuse(f"the empty class {text[start:i]!r}")
    return _word(_bracket(members, named, fnmatch=False, negated=negated)), i


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
        single = _escape_char(text, i)
        if single is None:
            raise _rg_error(f"unrecognized escape sequence \\{text[i + 1]}")
        char, end = single
    else:
        char, end = text[i], i + 1
    if char == "\n":
        raise ToolError("the literal '\"\\n\"' is not allowed in a regex")
    if ord(char) > 127:
        raise _refuse(f"the non-ASCII character {char!r} inside [...] (grep runs bytewise)")
    return char, end


# =============================================================================
# shared helpers
# =============================================================================
def _records(data: bytes) -> list[bytes]:
    """NUL-terminated records (a cut-short last one is dropped)."""
    parts = data.split(b"\0")
    return parts[:-1]


def _reply(result_stdout: str) -> tuple[str, bytes]:
    """Status word and the rest of a template's reply, as bytes."""
    data = result_stdout.encode("utf-8", "surrogateescape")
    status, _, rest = data.partition(b"\n")
    return status.decode("ascii", "replace").strip(), rest


def _exit_code(stderr: str) -> int | None:
    m = re.search(r"(?:^|\n)rc=(\d+)\n?$", stderr)
    return int(m.group(1)) if m else None


def _stderr_text(stderr: str) -> str:
    return re.sub(r"(?:^|\n)rc=\d+\n?$", "", stderr).strip()


def _join(root: str, rel: bytes) -> str:
    name = decode_text(rel[2:] if rel.startswith(b"./") else rel)
    return root.rstrip("/") + "/" + name


def _cwd(state: ToolState, runner: Runner) -> str:
    return state.cwd or state.resolve("~", runner)


# =============================================================================
# Glob
# =============================================================================
def _split_absolute(pattern: str) -> tuple[str, str]:
    """Claude Code's hF7: an absolute pattern searches from its literal
    directory part, with the rest as the glob."""
    m = re.search(r"[*?[{]", pattern)
    if m is None:
        return posixpath.dirname(pattern) or "/", posixpath.basename(pattern)
    head = pattern[: m.start()]
    cut = head.rfind("/")
    return (pattern[:cut] or "/"), pattern[cut + 1 :]


def _glob_backend(state: ToolState, runner: Runner) -> str:
    want = state.backends.get("find", "auto")
    if want != "auto":
        return want
    has = state.remote_info(runner).has
    return "rg" if "rg" in has else "gnu" if "gnu_find" in has else "posix"


def glob(
    runner: Runner,
    pattern: str,
    path: str | None = None,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    """Claude Code's Glob: absolute paths of the files an ``rg --glob``
    pattern selects, oldest first (as its rg 14 ``--sort=modified`` orders
    them), at most 100, hidden and git-ignored files included. A pattern
    starting with ``/`` searches from its literal directory part, as Claude
    Code does. One remote command."""
    state = state if state is not None else ToolState()
    root = state.resolve(path, runner) if path else _cwd(state, runner)
    from_pattern = False
    if pattern.startswith("/"):
        root, pattern = _split_absolute(pattern)
        root, from_pattern = posixpath.normpath(root), True
    state.check_allowed(root, write=False)
    backend = _glob_backend(state, runner)
    has = state.remote_info(runner).has
    values: dict[str, object] = {
        "root": root, "backend": backend, "pattern": pattern, "cap": GLOB_LIMIT + 1,
        "find_args": [], "mtime_tool": "find" if "gnu_find" in has else "stat",
    }  # fmt: skip
    matcher: RipgrepGlob | None = None
    if backend != "rg":
        try:
            matcher = RipgrepGlob([pattern])
        except GlobSyntaxError as err:
            raise ToolError(str(err)) from None
        words = find_filter(matcher, gnu=backend == "gnu", exact=False)
        assert words is not None  # a superset is always expressible
        values["find_args"] = words
    result = run_template(runner, "glob.sh.j2", **values)
    status, body = _reply(result.stdout)
    shown = path if path else root
    if status in ("missing", "notdir") and from_pattern:
        return ToolOutput("No files found", structured={"files": [], "truncated": False})
    if status == "missing":
        raise ToolError(f"Directory does not exist: {shown}")
    if status == "notdir":
        raise ToolError(f"Path is not a directory: {shown}")
    if status == "unreadable":
        raise ToolError(f"EACCES: permission denied, scandir '{shown}'")
    if status != "ok":
        raise ToolError(f"Glob: unexpected reply from the remote: {result.stdout[:200]!r} "
                        f"{result.stderr.strip()[-300:]}")  # fmt: skip
    if matcher is None:
        _raise_rg_error(result.stderr, body)
    rels = _oldest_first(body, matcher)
    files = [_join(root, r) for r in rels[:GLOB_LIMIT]]
    truncated = len(rels) > GLOB_LIMIT
    if not files:
        return ToolOutput("No files found", structured={"files": [], "truncated": False})
    text = "\n".join([*files, *([_TRUNCATED] if truncated else [])])
    return ToolOutput(text, structured={"files": files, "truncated": truncated,
                                        "backend": backend})  # fmt: skip


def _oldest_first(body: bytes, matcher: RipgrepGlob | None) -> list[bytes]:
    """``MTIME ./PATH`` records, oldest first as Claude Code's rg 14 sorts
    them (ties by name, where rg keeps directory order); with a matcher,
    only the paths ripgrep's glob semantics select."""
    rows = []
    for rec in _records(body):
        mtime, _, rel = rec.partition(b" ")
        if rel.startswith(b"./") and (matcher is None or matcher.selects(rel[2:])):
            rows.append((_mtime_ns(mtime), rel))
    rows.sort()
    return [rel for _, rel in rows]


def _mtime_ns(text: bytes) -> int:
    """``1700000000.1234567890`` (find %T@, stat %.9Y or %Y) as exact
    nanoseconds: a float would blur near-ties that ``sort -n`` keeps apart."""
    whole, _, frac = text.partition(b".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return 0
    return int(whole) * 1_000_000_000 + int(frac[:9].ljust(9, b"0"))


def _raise_rg_error(stderr: str, body: bytes) -> None:
    """ripgrep exits 2 for a bad glob, regex or type (and for unreadable
    files, with results). Claude Code then shows "No files found"; an error
    naming the problem serves the agent better."""
    if _exit_code(stderr) == 2 and not body.strip(b"\0\n"):
        message = _stderr_text(stderr)
        if message:
            raise ToolError(message)


# =============================================================================
# Grep
# =============================================================================
@dataclass
class _GrepRequest:
    pattern: str
    mode: str
    before: int | None
    after: int | None
    line_numbers: bool
    case_insensitive: bool
    multiline: bool
    globs: list[str]
    type: str | None
    head_limit: int | None
    offset: int

    @property
    def context(self) -> bool:
        return bool(self.before or self.after)


def _split_globs(value: str | None) -> list[str]:
    """Claude Code splits ``glob`` on whitespace, then on commas unless the
    piece has a ``{...}`` set."""
    if not value:
        return []
    out: list[str] = []
    for piece in re.split(r"\s+", value):
        out.extend([piece] if "{" in piece and "}" in piece else [p for p in piece.split(",") if p])
    return [g for g in out if g]


def _context_args(req: _GrepRequest) -> list[str]:
    out = []
    for flag, value in (("-B", req.before), ("-A", req.after)):
        if value is not None:
            out += [flag, str(value)]
    return out


def _rg_args(req: _GrepRequest, sep: str) -> list[str]:
    """Claude Code's argument list (S1 Grep.call), plus --null and a random
    context separator so that any file name and line text parse back."""
    args = ["--hidden"]
    for vcs in VCS_DIRS:
        args += ["--glob", f"!{vcs}"]
    args += ["--max-columns", str(MAX_COLUMNS)]
    if req.multiline:
        args += ["-U", "--multiline-dotall"]
    if req.case_insensitive:
        args.append("-i")
    args.append({"files_with_matches": "-l", "count": "-c", "content": "-n"}[req.mode])
    if req.mode == "content":
        args += _context_args(req)
    args += ["--null", "--context-separator", sep, "-e", req.pattern]
    if req.type:
        args += ["--type", req.type]
    for g in req.globs:
        args += ["--glob", g]
    return args


def _grep_args(req: _GrepRequest, sep: str) -> tuple[list[str], list[str]]:
    """(search arguments, match-only arguments) for GNU grep."""
    if req.multiline:
        raise _refuse("multiline mode (-U), which GNU grep cannot do line by line")
    ere, icase = translate_regex(req.pattern)
    match = ["-E", *(["-i"] if icase or req.case_insensitive else []), "-e", ere]
    mode = {"files_with_matches": ["-l", "-Z"], "count": ["-c"],
            "content": ["-n", f"--group-separator={sep}", *_context_args(req)]}  # fmt: skip
    return [*mode[req.mode], *match], match


def _grep_backend(state: ToolState, runner: Runner) -> str:
    want = state.backends.get("grep", "auto")
    has = state.remote_info(runner).has
    if want == "auto":
        want = "rg" if "rg" in has else "grep"
    if want == "grep" and "gnu_grep" not in has:
        raise ToolError(
            f"Grep needs ripgrep (rg) or GNU grep on {state.host_name}, and this host has "
            "neither. Install ripgrep there, or search with Bash."
        )
    return want


def grep(  # noqa: PLR0913 - Claude Code's schema, one keyword per field
    runner: Runner,
    pattern: str,
    path: str | None = None,
    *,
    glob: str | None = None,
    type: str | None = None,  # noqa: A002 - the schema's name
    output_mode: str | None = None,
    before: int | None = None,
    after: int | None = None,
    context: int | None = None,
    line_numbers: bool | None = None,
    case_insensitive: bool | None = None,
    head_limit: int | None = None,
    offset: int | None = None,
    multiline: bool | None = None,
    state: ToolState | None = None,
) -> ToolOutput:
    """Claude Code's Grep (ripgrep semantics and output), in one command."""
    state = state if state is not None else ToolState()
    mode = output_mode or "files_with_matches"
    if mode not in ("content", "files_with_matches", "count"):
        raise ToolError(f"output_mode must be content, files_with_matches or count, not {mode!r}.")
    for name, value in (("-A", after), ("-B", before), ("-C", context),
                        ("head_limit", head_limit), ("offset", offset)):  # fmt: skip
        if value is not None and value < 0:
            raise ToolError(f"{name} must be zero or a positive number.")
    if context is not None:
        before = after = context
    req = _GrepRequest(
        pattern, mode, before if mode == "content" else None,
        after if mode == "content" else None, line_numbers is not False,
        bool(case_insensitive), bool(multiline), _split_globs(glob), type or None,
        head_limit, offset or 0,
    )  # fmt: skip
    cwd = _cwd(state, runner)
    target = state.resolve(path, runner) if path else cwd
    state.check_allowed(target, write=False)
    backend = _grep_backend(state, runner)
    sep = "RMCP_SEP_" + secrets.token_hex(8)
    parent, name = posixpath.split(target)
    values: dict[str, object] = {
        "path": target, "parent": parent or "/", "name": name or ".", "backend": backend,
        "mode": mode, "rg_args": [], "grep_args": [], "match_args": [], "find_args": [],
        "mtime_tool": "stat",
    }  # fmt: skip
    has = state.remote_info(runner).has
    gnu_find = "gnu_find" in has and state.backends.get("find", "auto") != "posix"
    if mode == "files_with_matches":
        values["mtime_tool"] = "find" if gnu_find else "stat"
    if backend == "rg":
        values["rg_args"] = _rg_args(req, sep)
    else:
        values["grep_args"], values["match_args"] = _grep_args(req, sep)
        values["find_args"] = _fallback_find_args(req, gnu=gnu_find)
    result = run_template(runner, "grep.sh.j2", **values)
    status, body = _reply(result.stdout)
    if status == "missing":
        raise ToolError(f"Path does not exist: {path if path else target}")
    if status == "unreadable":
        raise ToolError(f"EACCES: permission denied, scandir '{path if path else target}'")
    if status == "badregex":
        raise ToolError(f"regex parse error: {decode_text(body).strip()}")
    if status not in ("dir", "file"):
        raise ToolError(f"Grep: unexpected reply from the remote: {result.stdout[:200]!r} "
                        f"{result.stderr.strip()[-300:]}")  # fmt: skip
    if backend == "rg":
        _raise_rg_error(result.stderr, body)
    view = _View(root=target if status == "dir" else (parent or "/"), cwd=cwd,
                 single=status == "file", req=req, sep=sep.encode(),
                 fix_columns=backend != "rg")  # fmt: skip
    return view.render(body, backend)


def _fallback_find_args(req: _GrepRequest, *, gnu: bool) -> list[str]:
    """find arguments doing what ripgrep's overrides and ``--type`` do."""
    globs = [f"!{vcs}" for vcs in VCS_DIRS] + req.globs
    try:
        matcher = RipgrepGlob(globs)
    except GlobSyntaxError as err:
        raise ToolError(str(err)) from None
    types: tuple[str, ...] = ()
    if req.type:
        if req.type not in RG_TYPES:
            known = ", ".join(sorted(RG_TYPES))
            raise ToolError(f"unrecognized file type: {req.type} (the grep fallback knows: "
                            f"{known})")  # fmt: skip
        types = RG_TYPES[req.type]
    words = find_filter(matcher, types, gnu=gnu, exact=True)
    if words is None:
        raise _refuse(
            f"a glob with a directory part ({', '.join(req.globs)}) without GNU find",
            "give that directory as path and a file-name glob such as *.py",
        )
    return words


@dataclass
class _View:
    """Turns the records of either backend into Claude Code's Grep text."""

    root: str
    cwd: str
    single: bool
    req: _GrepRequest
    sep: bytes
    fix_columns: bool

    def shown(self, rel: bytes) -> str:
        """Relative to the cwd when under it, else absolute (Claude Code's jC0)."""
        absolute = _join(self.root, rel)
        relative = posixpath.relpath(absolute, self.cwd)
        return absolute if relative.startswith("..") else relative

    def render(self, body: bytes, backend: str) -> ToolOutput:
        req = self.req
        if req.mode == "files_with_matches":
            return self._files(body, backend)
        if req.mode == "count":
            return self._count(body, backend)
        return self._content(body, backend)

    def _page(self, items: list[str]) -> list[str]:
        start = self.req.offset
        limit = self.req.head_limit
        return items[start:] if not limit else items[start : start + limit]

    def _pagination(self) -> str:
        """Claude Code's TC0, "undefined" included when only offset is set."""
        limit, offset = self.req.head_limit, self.req.offset
        if not limit and not offset:
            return ""
        return f"limit: {'undefined' if limit is None else limit}, offset: {offset}"

    def _files(self, body: bytes, backend: str) -> ToolOutput:
        rows = []
        for rec in _records(body):
            mtime, _, rel = rec.partition(b" ")
            rows.append((-_mtime_ns(mtime), _join(self.root, rel), rel))
        rows.sort()
        paths = self._page([self.shown(rel) for _, _, rel in rows])
        info = {"mode": "files_with_matches", "filenames": paths, "backend": backend}
        if not paths:
            return ToolOutput("No files found", structured=info)
        n, page = len(paths), self._pagination()
        header = f"Found {n} file{'' if n == 1 else 's'}{' ' + page if page else ''}"
        return ToolOutput(_cap("\n".join([header, *paths])), structured=info)

    def _count(self, body: bytes, backend: str) -> ToolOutput:
        entries: list[tuple[bytes, int]] = []
        if self.single:
            entries = [(b"", int(n)) for n in body.split(b"\n") if n.strip().isdigit()]
        else:
            entries = [(rel, int(rest)) for rel, rest in _path_records(body)
                       if rel is not None and rest.isdigit()]  # fmt: skip
        entries = [(rel, n) for rel, n in entries if n > 0]
        entries.sort(key=lambda e: e[0])
        lines = self._page([f"{self.shown(rel)}:{c}" if not self.single else str(c)
                            for rel, c in entries])  # fmt: skip
        total = sum(int(line.rpartition(":")[2]) for line in lines)
        files, page = len(lines), self._pagination()
        text = _cap("\n".join(lines) or "No matches found") + (
            f"\n\nFound {total} total {'occurrence' if total == 1 else 'occurrences'} across "
            f"{files} {'file' if files == 1 else 'files'}."
            f"{' with pagination = ' + page if page else ''}"
        )
        info = {"mode": "count", "numMatches": total, "numFiles": files, "backend": backend}
        return ToolOutput(text, structured=info)

    def _content(self, body: bytes, backend: str) -> ToolOutput:
        lines = self._content_lines(body)
        paged = self._page(lines)
        text = _cap("\n".join(paged) or "No matches found")
        page = self._pagination()
        if page:
            text += f"\n\n[Showing results with pagination = {page}]"
        info = {"mode": "content", "numLines": len(paged), "backend": backend}
        return ToolOutput(text, structured=info)

    def _content_lines(self, body: bytes) -> list[str]:
        if self.single:
            lines = [self._line(line) for line in body.split(b"\n") if line]
            blocks = [(b"", [t for t in lines if t[0] != "sep" or self.req.context])]
        else:
            blocks = sorted(self._blocks(body).items())
        out: list[str] = []
        for rel, block in blocks:
            if out and self.req.context:
                out.append("--")
            prefix = "" if self.single else self.shown(rel)
            for kind, number, text in block:
                out.append(self._format(prefix, kind, number, text))
        return out

    def _blocks(self, body: bytes) -> dict[bytes, list[tuple[str, bytes, bytes]]]:
        """PATH\\0REST records grouped per file, in-file separators kept."""
        blocks: dict[bytes, list[tuple[str, bytes, bytes]]] = {}
        pending_sep = False
        for rel, rest in _path_records(body, self.sep):
            if rel is None:
                pending_sep = True
                continue
            block = blocks.setdefault(rel, [])
            if pending_sep and block and self.req.context:  # grep -C0 still separates
                block.append(("sep", b"", b""))
            pending_sep = False
            block.append(self._line(rest))
        return blocks

    def _line(self, rest: bytes) -> tuple[str, bytes, bytes]:
        if rest == self.sep:
            return ("sep", b"", b"")
        m = re.match(rb"(\d+)([:-])", rest)
        if not m:
            return ("msg", b"", rest)
        kind = "match" if m.group(2) == b":" else "ctx"
        text = rest[m.end() :]
        if self.fix_columns and len(text) + 1 > MAX_COLUMNS:
            text = b"[Omitted long matching line]" if kind == "match" else (
                b"[Omitted long context line]")  # fmt: skip
        return (kind, m.group(1), text)

    def _format(self, prefix: str, kind: str, number: bytes, text: bytes) -> str:
        if kind == "sep":
            return "--"
        if kind == "msg":
            return (prefix + ":" if prefix else "") + decode_text(text)
        mark = ":" if kind == "match" else "-"
        head = prefix + mark if prefix else ""
        if self.req.line_numbers:
            head += number.decode() + mark
        return head + decode_text(text)


def _path_records(body: bytes, sep: bytes = b"") -> Iterator[tuple[bytes | None, bytes]]:
    """``PATH\\0REST\\n`` records (and bare ``SEP\\n`` lines, yielded with
    PATH None). The path is read up to its NUL first, so a newline in a
    file name cannot split a record."""
    pos, sep_line = 0, sep + b"\n"
    while pos < len(body):
        if sep and body.startswith(sep_line, pos):
            pos += len(sep_line)
            yield None, b""
            continue
        nul = body.find(b"\0", pos)
        end = body.find(b"\n", nul + 1) if nul >= 0 else -1
        if nul < 0 or end < 0:
            return
        yield body[pos:nul], body[nul + 1 : end]
        pos = end + 1


def _cap(text: str) -> str:
    """Claude Code's RC0: over 20000 characters (JavaScript counts UTF-16
    units), keep the first 20000 and say how many lines were dropped."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > GREP_MAX_CHARS:
            rest = text[index:]
            return f"{text[:index]}\n\n... [{len(rest.split(chr(10)))} lines truncated] ..."
    return text
