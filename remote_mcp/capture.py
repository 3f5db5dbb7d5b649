"""One output stream of a framed command: kept up to a cap, the rest counted.

A command printing gigabytes must not exhaust local memory, and the end of
the frame (a random sentinel) must still be found however much was dropped.
"""

from __future__ import annotations

import re

__all__ = ["StreamCapture"]


class StreamCapture:
    """Accumulate one stream up to a cap and find its end marker.

    Only a short tail is needed to find a marker split across reads, so the
    dropped middle of a huge stream costs nothing but a line count.
    """

    def __init__(
        self,
        end: re.Pattern[bytes],
        cap: int,
        tail_cap: int = 0,
        preamble_end: bytes = b"",
        token: bytes | None = None,
    ) -> None:
        # ``end`` may be one pattern compiled once for every command, with a
        # ``token`` group: then only a match whose token is this command's
        # counts (compiling a pattern per command cost more client CPU than
        # the rest of a small call's parsing).
        self.end = end
        self.token = token
        # Login files (~/.bashrc, ~/.ssh/rc) may print before the channel's
        # start marker: everything up to and including it is not the reply.
        self.preamble_end = preamble_end
        self.preamble = b""
        self.cap = cap
        self.tail_cap = tail_cap
        self.dropped_tail = b""  # last tail_cap dropped bytes (end of the stream)
        self.kept = bytearray()
        self.tail = b""  # last bytes seen once past the cap, for marker search
        self.dropped_bytes = 0
        self.dropped_lines = 0
        self.match: re.Match[bytes] | None = None
        self.status: int | None = None  # the end marker's number, if it has one
        self.remote_s: float | None = None  # the command's remote wall time, if framed so
        self.bulk: bytes | None = None  # the frame's bulk check answer (b"1": read -N works)

    def feed(self, data: bytes) -> None:
        if self.preamble_end:
            window = self.preamble + data
            at = window.find(self.preamble_end)
            if at < 0:
                self.preamble = window[-len(self.preamble_end) :]
                return
            data, self.preamble_end, self.preamble = window[at + len(self.preamble_end) :], b"", b""
        if len(self.kept) < self.cap:
            start = max(0, len(self.kept) - 64)
            self.kept += data
            m = self._search(self.kept, start)
            if m:
                self._found(m)
                del self.kept[m.start() :]
            elif len(self.kept) > self.cap:
                self._drop(self.kept[self.cap :])
                self.tail = bytes(self.kept[-64:])
                del self.kept[self.cap :]
            return
        window = self.tail + data
        m = self._search(window, 0)
        if m:
            self._found(m)
            self._drop(window[len(self.tail) : m.start()])
            return
        self._drop(data)
        self.tail = window[-64:]

    def _search(self, data: bytes | bytearray, start: int) -> re.Match[bytes] | None:
        while True:
            m = self.end.search(data, start)
            if m is None or self.token is None or m.group("token") == self.token:
                return m
            start = m.start() + 1  # another command's marker, printed as output

    def _found(self, m: re.Match[bytes]) -> None:
        # Read the groups now: a match on a bytearray sees later deletions.
        self.match = m
        names = m.re.groupindex
        if "status" in names:
            self.status = int(m.group("status"))
        t0, t1 = (m.group(g) if g in names else None for g in ("t0", "t1"))
        if "bulk" in names:
            self.bulk = m.group("bulk")
        if t0 and t1:
            try:  # $EPOCHREALTIME uses the locale's decimal separator
                start, end = (float(g.replace(b",", b".")) for g in (t0, t1))
                self.remote_s = end - start
            except ValueError:
                pass

    def _drop(self, data: bytes | bytearray) -> None:
        self.dropped_bytes += len(data)
        self.dropped_lines += data.count(b"\n")
        if self.tail_cap and data:
            self.dropped_tail = (self.dropped_tail + bytes(data))[-self.tail_cap :]
