"""ripgrep's ``--glob`` overrides as ``find`` arguments (the fallbacks' walk).

Without rg on the remote, Glob and Grep walk the tree with ``find``, which
must select what ripgrep would: prune the directories a glob excludes, keep
the files the last matching glob includes. A glob that looks only at the
file name becomes ``-name`` tests (any find); one with a directory part
becomes a ``-regex`` in POSIX ERE on GNU find, or on POSIX find a ``-path``
superset that Glob filters again in Python with ``rg_globs.RipgrepGlob``
(Grep needs the exact set, so there it refuses such a glob).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .posix_patterns import bracket, literal, word
from .rg_globs import (
    Override,
    RegexSyntax,
    RipgrepGlob,
    Token,
    class_bytes,
    glob_regex,
    walk_tokens,
)

__all__ = ["find_filter"]

# globset's regex in POSIX ERE, for GNU find -regex in the C locale.
_ERE = RegexSyntax(
    b"(",
    lambda char: literal(char, fnmatch=False),
    lambda tok: bracket(class_bytes(tok), fnmatch=False),
)

_MAX_EXPANSIONS = 64


def _fnmatch(tokens: Sequence[Token], *, superset: bool) -> list[bytes] | None:
    """fnmatch patterns (brace sets expanded) equal to the tokens over a file
    name, or -- ``superset`` -- matching at least what they match over a path
    (``*`` of -path crosses ``/``). None when that cannot be written."""
    outs = [b""]
    for tok in tokens:
        if tok.kind == "lit":
            piece = [literal(tok.char, fnmatch=True)]
        elif tok.kind == "any":
            piece = [b"?"]
        elif tok.kind == "star":
            piece = [b"*"]
        elif tok.kind == "class":
            piece = [bracket(class_bytes(tok), fnmatch=True)]
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


def _basename_patterns(over: Override) -> list[bytes] | None:
    """-name patterns when the glob only looks at the file name (``*.py``)."""
    tokens = over.tokens
    if len(tokens) < 2 or tokens[0].kind != "rprefix":
        return None
    rest = tokens[1:]
    if any(
        t.kind in ("rprefix", "rsuffix", "rzom") or (t.kind == "lit" and t.char == "/")
        for t in walk_tokens(rest)
    ):
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


def _find_test(over: Override, *, gnu: bool, exact: bool) -> _Expr | None:
    """A find test true for the paths the glob matches (exactly, or a
    superset when ``exact`` is false); None when find cannot express it."""
    names = _basename_patterns(over)
    if len(over.tokens) == 1 and over.tokens[0].kind == "rprefix":
        return _Expr(const=True)
    if names is not None:
        return _or_tests([["-name", word(n)] for n in names])
    if gnu:
        return _Expr.test(["-regex", word(b"\\./" + glob_regex(over.tokens, _ERE))])
    if exact:
        return None
    paths = _fnmatch(over.tokens, superset=True)
    if paths is None:
        return _Expr(const=True)
    return _or_tests([["-path", word(b"./" + p)] for p in paths])


def _or_tests(tests: list[list[str]]) -> _Expr:
    expr = _Expr(const=False)
    for words in tests:
        expr = expr.or_(_Expr.test(words))
    return expr


def find_filter(
    matcher: RipgrepGlob, types: Sequence[str] = (), *, gnu: bool, exact: bool
) -> list[str] | None:
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
