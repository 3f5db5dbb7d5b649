"""Small files travel whole; the slice is cut here.

A fork costs more than the bytes of a small file: for a text file of at most
:data:`WHOLE_MAX_BYTES` the remote sends the file itself (one ``cat``, no
``sha256sum``, no ``sed``) and this module does what the remote does for a
bigger file -- lines ``start..end``, each cut to ``line_bytes`` bytes, at
most ``slice_bytes`` in all -- and hashes the bytes for the later
read-before-write check. The result is the same ``ok``/``short`` reply a
sliced read gives, so the reader has one path from there on.

MultiRead sends its small files in one ``head`` (multiread.sh.j2's batch):
:func:`split_batch` cuts that back into files by the sizes stat(1) gave, and
only if head's ``==> NAME <==`` lines stand where those sizes put them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["WHOLE_MAX_BYTES", "Slice", "slice_whole", "split_batch"]

# Larger than most source files, small beside what a round trip costs: at
# 50 ms RTT 64 KiB is a fraction of it on any link worth using.
WHOLE_MAX_BYTES = 64 << 10


@dataclass(frozen=True)
class Slice:
    """What the remote would have sent for a sliced read of the same file."""

    body: bytes  # exact bytes of the lines (a missing final newline stays missing)
    total: int | None  # the file's line count when start is past its end, else None
    sha256: str


def slice_whole(data: bytes, start: int, end: int, line_bytes: int, slice_bytes: int) -> Slice:
    """Lines ``start..end`` (1-based) of ``data``, each cut to ``line_bytes``
    bytes, at most ``slice_bytes`` bytes in all; ``total`` is set instead when
    ``start`` is past the last line (an empty file has none)."""
    digest = hashlib.sha256(data).hexdigest()
    lines = data.split(b"\n")
    final_newline = lines[-1] == b""  # (or an empty file)
    if final_newline:
        lines.pop()
    total = len(lines)
    if start > total:
        return Slice(b"", total, digest)
    chosen = lines[start - 1 : end]
    if len(data) > line_bytes:  # else no line is long enough to cut
        chosen = [line[:line_bytes] for line in chosen]
    body = b"\n".join(chosen)
    if end < total or final_newline:
        body += b"\n"
    return Slice(body[:slice_bytes], None, digest)


def split_batch(section: bytes, boundary: bytes) -> list[tuple[str, bytes]] | None:
    """multiread.sh.j2's batch section as ("SIZE MTIME", bytes) per file, in
    order. head(1) put each file under a ``==> NAME <==`` line; each must
    stand exactly where the name lengths and stat's sizes put it. None when
    one does not (a file changed between stat and head, or says a size it
    does not hold) or the section is cut short: the caller reads the files
    again, one by one."""
    head, sep, data = section.partition(b"%s head\n" % boundary)
    start = b"%s batch\n" % boundary
    if not sep or not head.startswith(start) or not data.endswith(b"\n"):
        return None
    rows = []
    for line in head[len(start) :].decode("utf-8", "replace").splitlines():
        name_bytes, _, stat = line.partition(" ")
        size = stat.partition(" ")[0]
        if not all(word.isascii() and word.isdigit() for word in (name_bytes, size)):
            return None
        rows.append((int(name_bytes), int(size), stat))
    data = data[:-1]
    out: list[tuple[str, bytes]] = []
    at = 0
    for index, (name_length, length, stat_line) in enumerate(rows):
        if index:
            if data[at : at + 1] != b"\n":
                return None
            at += 1
        if data[at : at + 4] != b"==> ":
            return None
        at += 4 + name_length
        if data[at : at + 5] != b" <==\n":
            return None
        at += 5
        out.append((stat_line, data[at : at + length]))
        at += length
    if not out or at != len(data):
        return None
    return out
