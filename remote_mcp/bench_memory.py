"""The benchmark's peak local memory of big answers (RSS), on plain loopback:
a Read of a 259 MB file and Greps over it (`memory`), and `peak_during`, the
RSS growth of one call, which the scaling curves use too."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bench_startup import bench_host, bench_sshd, hand_over
from .session import Session
from .templates import render
from .testing import remote_exec
from .tools.base import ToolState

__all__ = ["MemoryRow", "memory", "peak_during"]


@dataclass
class MemoryRow:
    what: str
    peak_mb: float  # peak RSS during the call, above the RSS before it
    received: int
    seconds: float
    outcome: str


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_during(fn: Callable[[], Any]) -> tuple[float, str, float]:
    """Peak RSS growth (MB) while ``fn`` runs: VmHWM reset through
    /proc/self/clear_refs (Linux), so each call is measured on its own."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_kb("VmRSS")
    start = time.perf_counter()
    try:
        out = fn()
        outcome = f"{len(out.text)} chars returned"
    except Exception as exc:
        outcome = f"refused: {str(exc)[:60]}..."
    seconds = time.perf_counter() - start
    return (_rss_kb("VmHWM") - before) / 1024, outcome, seconds


def memory() -> list[MemoryRow]:
    """Big answers on plain loopback: peak local RSS and bytes received."""
    from .tools import files, search

    with tempfile.TemporaryDirectory(prefix="remote-mcp-bench-") as tmp:
        server = bench_sshd(Path(tmp) / "sshd")
        known = Path(tmp) / "known_hosts"
        known.write_text(server.known_hosts_line)
        host = bench_host(server, server.port, known)
        area = f"{tmp}/area"
        rc, _, err = remote_exec(server, render("bench_setup.sh.j2", area=area, huge=True), 300)
        assert rc == 0, err
        hand_over(server, Path(tmp), area)
        session = Session(host)
        try:
            info = session.connect()
            state = ToolState(host_name="bench", info=info, cwd=area)
            big = f"{area}/numbers.txt"
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("Read of a 259 MB file (whole)", lambda: files.read(session, big, state=state)),
                (
                    "Read of a 259 MB file, offset 1, limit 1000000",
                    lambda: files.read(session, big, offset=1, limit=1_000_000, state=state),
                ),
                (
                    'Grep "." content, offset 29000000, head_limit 3 (259 MB file)',
                    lambda: search.grep(
                        session,
                        ".",
                        big,
                        output_mode="content",
                        offset=29_000_000,
                        head_limit=3,
                        state=state,
                    ),
                ),
                (
                    'Grep "." content, no limit (259 MB file)',
                    lambda: search.grep(session, ".", big, output_mode="content", state=state),
                ),
            ]
            rows = []
            for what, fn in calls:
                before = session.stats.snapshot()[2]
                peak, outcome, seconds = peak_during(fn)
                received = session.stats.snapshot()[2] - before
                rows.append(MemoryRow(what, peak, received, seconds, outcome))
            return rows
        finally:
            session.close()
            server.stop()
