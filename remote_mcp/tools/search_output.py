"""Search results: the remote's NUL-separated records as Claude Code's text.

The glob and grep templates reply with records that any file name survives
(``MTIME PATH\\0`` for file lists, ``PATH\\0REST\\n`` for counts and lines), the
same for ripgrep and for the find/grep fallbacks. Here they are parsed and
turned into exactly what Claude Code shows: Glob's oldest-first order, and
Grep's three output modes with its path display, ``head_limit``/``offset``
pages, long-line notes and 20000-character cap. Kept apart from search.py,
which decides what runs on the remote, because this part is pure: bytes in,
text out.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..host_settings import GrepEngine
from .base import ToolOutput, decode_text
from .names import show_name
from .rg_globs import RipgrepGlob

__all__ = ["GREP_MAX_CHARS", "MAX_COLUMNS", "GrepRequest", "GrepView", "join_path", "oldest_first"]

GREP_MAX_CHARS = 20000  # MC0: longer Grep results are cut with a note
MAX_COLUMNS = 500  # rg --max-columns 500 as Claude Code passes it
# Lines the cap can show at most (each joined line costs at least its newline),
# plus one so that the cap sees there is more.
DISPLAY_LINES = GREP_MAX_CHARS + 2
_DROPPED = (
    "[The remote sent more than remote-mcp keeps in memory; {n} bytes of results were "
    "dropped. Narrow the search (path, glob, type) or page with head_limit/offset.]"
)


def _records(data: bytes) -> list[bytes]:
    """NUL-terminated records (a cut-short last one is dropped)."""
    parts = data.split(b"\0")
    return parts[:-1]


def join_path(root: str, rel: bytes) -> str:
    """``root`` joined with a path relative to it (``./`` dropped), as text."""
    name = decode_text(rel[2:] if rel.startswith(b"./") else rel)
    return root.rstrip("/") + "/" + name


def oldest_first(body: bytes, matcher: RipgrepGlob | None) -> list[bytes]:
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


@dataclass
class GrepRequest:
    """One Grep call's arguments, checked and defaulted: search.py builds the
    command from them, :class:`GrepView` the text."""

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

    def remote_page(self) -> tuple[int, int]:
        """Content mode's output lines to send (1-based, inclusive): the page,
        but never more lines than the 20000-character cap can show, so a
        huge head_limit costs no more than the answer can hold."""
        shown = self.head_limit or DISPLAY_LINES
        return self.offset + 1, self.offset + min(shown, DISPLAY_LINES)


@dataclass
class GrepView:
    """Turns the records of either backend into Claude Code's Grep text."""

    root: str
    cwd: str
    single: bool
    req: GrepRequest
    sep: bytes
    fix_columns: bool
    dropped: int = 0  # result bytes the capture cap dropped (said, never silent)

    def shown(self, rel: bytes) -> str:
        """``where`` as the agent reads it (names.py: undecodable bytes as \\xNN)."""
        return show_name(self.where(rel))

    def where(self, rel: bytes) -> str:
        """Relative to the cwd when under it, else absolute (Claude Code's jC0)."""
        absolute = join_path(self.root, rel)
        relative = posixpath.relpath(absolute, self.cwd)
        return absolute if relative.startswith("..") else relative

    def render(self, body: bytes, backend: GrepEngine) -> ToolOutput:
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
            rows.append((-_mtime_ns(mtime), join_path(self.root, rel), rel))
        rows.sort()
        paths = self._page([self.where(rel) for _, _, rel in rows])
        info = {"mode": "files_with_matches", "filenames": paths, "backend": backend}
        if not paths:
            return ToolOutput(self._note_dropped("No files found"), structured=info)
        n, page = len(paths), self._pagination()
        header = f"Found {n} file{'' if n == 1 else 's'}{' ' + page if page else ''}"
        text = _cap("\n".join([header, *map(show_name, paths)]))
        return ToolOutput(self._note_dropped(text), structured=info)

    def _note_dropped(self, text: str) -> str:
        return text if not self.dropped else f"{text}\n\n{_DROPPED.format(n=self.dropped)}"

    def _count(self, body: bytes, backend: str) -> ToolOutput:
        entries: list[tuple[bytes, int]] = []
        if self.single:
            entries = [(b"", int(n)) for n in body.split(b"\n") if n.strip().isdigit()]
        else:
            entries = [
                (rel, int(rest))
                for rel, rest in _path_records(body)
                if rel is not None and rest.isdigit()
            ]
        entries = [(rel, n) for rel, n in entries if n > 0]
        entries.sort(key=lambda e: e[0])
        lines = self._page(
            [f"{self.shown(rel)}:{c}" if not self.single else str(c) for rel, c in entries]
        )
        total = sum(int(line.rpartition(":")[2]) for line in lines)
        files, page = len(lines), self._pagination()
        text = self._note_dropped(_cap("\n".join(lines) or "No matches found")) + (
            f"\n\nFound {total} total {'occurrence' if total == 1 else 'occurrences'} across "
            f"{files} {'file' if files == 1 else 'files'}."
            f"{' with pagination = ' + page if page else ''}"
        )
        info = {"mode": "count", "numMatches": total, "numFiles": files, "backend": backend}
        return ToolOutput(text, structured=info)

    def _content(self, body: bytes, backend: str) -> ToolOutput:
        """The remote sent only the page (see ``GrepRequest.remote_page``),
        then the number of lines the search printed in all."""
        body, total = _split_total(body)
        lines = self._content_lines(body)
        limit, offset = self.req.head_limit, self.req.offset
        in_page = max(0, total - offset)
        if limit:
            in_page = min(in_page, limit)
        text = _cap("\n".join(lines) or "No matches found", in_page if lines else None)
        page = self._pagination()
        if page:
            text += f"\n\n[Showing results with pagination = {page}]"
        info = {"mode": "content", "numLines": in_page, "backend": backend}
        return ToolOutput(self._note_dropped(text), structured=info)

    def _content_lines(self, body: bytes) -> list[str]:
        """One shown line per output line, in the remote's (path) order: the
        remote pages by output lines, so none may be merged or dropped here."""
        if self.single:
            records: Iterator[tuple[bytes | None, bytes]] = (
                (b"", line) for line in body.split(b"\n")[:-1]
            )
        else:
            records = _path_records(body, self.sep)
        out: list[str] = []
        names: dict[bytes, str] = {}  # a file's lines share its shown name
        for rel, rest in records:
            if rel is None:
                out.append("--")
                continue
            kind, number, text = self._line(rest)
            if self.single:
                prefix = ""
            else:
                prefix = names.get(rel) or names.setdefault(rel, self.shown(rel))
            out.append(self._format(prefix, kind, number, text))
        return out

    def _line(self, rest: bytes) -> tuple[str, bytes, bytes]:
        if rest == self.sep:
            return ("sep", b"", b"")
        m = re.match(rb"(\d+)([:-])", rest)
        if not m:
            return ("msg", b"", rest)
        kind = "match" if m.group(2) == b":" else "ctx"
        text = rest[m.end() :]
        if self.fix_columns and len(text) + 1 > MAX_COLUMNS:
            text = (
                b"[Omitted long matching line]"
                if kind == "match"
                else (b"[Omitted long context line]")
            )
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


def _split_total(body: bytes) -> tuple[bytes, int]:
    """The page and the total line count that ends it (no output: no count)."""
    if not body:
        return b"", 0
    head, _, last = body.rstrip(b"\n").rpartition(b"\n")
    if not last.isdigit():
        return body, 0
    return (head + b"\n" if head else b""), int(last)


def _cap(text: str, total_lines: int | None = None) -> str:
    """Claude Code's RC0: over 20000 characters (JavaScript counts UTF-16
    units), keep the first 20000 and say how many lines were dropped.
    ``total_lines``: the lines the whole text would have had, when only its
    start was fetched."""
    if len(text.encode("utf-16-le", "surrogatepass")) <= 2 * GREP_MAX_CHARS:
        return text  # (the loop below finds where to cut; it is slow)
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > GREP_MAX_CHARS:
            head = text[:index]
            if total_lines is None:
                dropped = len(text[index:].split(chr(10)))
            else:
                dropped = total_lines - head.count(chr(10))
            return f"{head}\n\n... [{dropped} lines truncated] ..."
    return text
