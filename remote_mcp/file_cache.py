"""What was parsed from a file, kept while the file is unchanged.

Key files and known_hosts are read at every connect, and a fleet connects
a hundred hosts at once; parsing them again each time is most of a
connect's client CPU (an RSA key: 100-200 ms). A file counts as unchanged
while its mtime, size, inode and device are, so an edit, a replacement or
a rename over it is seen at the next lookup.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ParsedFiles"]

T = TypeVar("T")

_Signature = tuple[int, int, int, int] | None


def _signature(path: str) -> _Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class ParsedFiles(Generic[T]):
    """``get(path, *also)``: ``parse(path)``, parsed again only when ``path``
    or one of the files ``also`` (read by the parser too) changed; None
    when ``path`` does not exist. A parse that raises keeps nothing."""

    def __init__(self, parse: Callable[[str], T]) -> None:
        self._parse = parse
        self._kept: dict[str, tuple[tuple[_Signature, ...], T]] = {}
        self._lock = threading.Lock()

    def get(self, path: str, *also: str) -> T | None:
        signatures = tuple(_signature(p) for p in (path, *also))
        if signatures[0] is None:
            return None
        with self._lock:
            kept = self._kept.get(path)
        if kept is not None and kept[0] == signatures:
            return kept[1]
        value = self._parse(path)
        with self._lock:
            self._kept[path] = (signatures, value)
        return value
