"""The scaling curves as Markdown tables and a plot (matplotlib, the optional
``bench`` extra: without it the plot is skipped with a message, so the CI
smoke run needs nothing more), and the idle RSS of the server process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bench_scaling import LINK_DELAY_S, LINK_RATE, PARALLEL_DELAY_S, Point
from .bench_startup import INITIALIZE, bench_sshd, hand_over, login_user, spawn_server

__all__ = ["SECTIONS", "idle_rss", "plot", "table"]

Column = tuple[str, str, str]  # series, metric ("ms" or an extra's key), heading


def _columns(series: str, *metrics: tuple[str, str]) -> list[Column]:
    return [(series, metric, heading) for metric, heading in metrics]


READ = "Read 20 lines at offset (1 GB file)"
GREP = 'Grep "needle", files_with_matches over N files'
GLOB = "Glob **/*.txt (first 100 shown) over N files"
MULTI = "MultiRead of N files of 200 lines"
BASH = "Bash printing N bytes"

SECTIONS: list[tuple[str, str, list[Column]]] = [
    (
        "Read of 20 lines at a growing offset of a 1 GB file",
        "offset (lines)",
        _columns(READ, ("ms", "ms"), ("received", "bytes recv")),
    ),
    (
        "Grep and Glob over a growing tree",
        "files",
        _columns(GREP, ("ms", "Grep ms"), ("received", "Grep bytes recv"))
        + _columns(GLOB, ("ms", "Glob ms"), ("received", "Glob bytes recv")),
    ),
    ("MultiRead of N files", "files", _columns(MULTI, ("ms", "ms"), ("received", "bytes recv"))),
    (
        f"N Reads at once, RTT {2000 * PARALLEL_DELAY_S:.0f} ms",
        "calls",
        _columns("N parallel Reads, pool of 3, RTT 50 ms", ("ms", "pool 3: ms"), ("rtts", "RTT"))
        + _columns(
            "N parallel Reads, pool of 16, RTT 50 ms", ("ms", "pool 16: ms"), ("rtts", "RTT")
        ),
    ),
    (
        "Bash printing N bytes: peak local memory",
        "output bytes",
        _columns(
            BASH, ("ms", "ms"), ("peak_rss_mb", "peak RSS growth MB"), ("received", "bytes recv")
        ),
    ),
    (
        f"Upload and Write over a {LINK_RATE / 1e6:.0f} MB/s link "
        f"(RTT {2000 * LINK_DELAY_S:.0f} ms): payload MB/s (share of the link)",
        "MB",
        [
            (f"{tool}, compression {c}", "payload_mb_s", f"{tool} zlib {c}")
            for tool in ("Upload", "Write")
            for c in ("off", "on")
        ],
    ),
]


def _value(point: Point, metric: str) -> str:
    if metric == "ms":
        return f"{point.ms:.1f}" if point.ms < 10 else f"{point.ms:.0f}"
    value = point.extra[metric]
    if metric == "payload_mb_s":
        return f"{value:.2f} ({point.extra['of_link']:.0%})"
    if metric in ("received", "sent"):
        return f"{value:.0f}"
    return f"{value:.2f}" if metric == "rtts" else f"{value:.1f}"


def table(points: list[Point], meta: dict[str, Any]) -> str:
    rss = meta.get("idle_rss_mb", {})
    lines = [
        "# Scaling",
        "",
        f"Load average {meta['load_before']:.1f} before, {meta['load_after']:.1f} after "
        f"({os.cpu_count()} cores, shared); {meta['minutes']:.1f} min in all. "
        f"File: {meta['lines']} lines, {meta['file_bytes'] / 1e9:.2f} GB.",
        f"Server RSS: {rss.get('initialize', 0):.0f} MB after `initialize`, "
        f"{rss.get('first_call', 0):.0f} MB idle after the first Read (connected), "
        f"peak {rss.get('peak', 0):.0f} MB.",
    ]
    for title, unit, columns in SECTIONS:
        rows = table_rows(points, columns)
        if rows:
            head = "| " + " | ".join([unit] + [c[2] for c in columns]) + " |"
            lines += ["", f"## {title}", "", head, "|" + "---:|" * (len(columns) + 1), *rows]
    return "\n".join(lines) + "\n"


def table_rows(points: list[Point], columns: list[Column]) -> list[str]:
    """One table's body: a row per x any of its ``columns`` measured."""
    by_key = {(p.series, p.x): p for p in points}
    rows = []
    for x in sorted({p.x for p in points if p.series in {c[0] for c in columns}}):
        cells = [f"{x:.0f}" if x == int(x) else f"{x:g}"]
        for series, metric, _ in columns:
            point = by_key.get((series, x))
            cells.append(_value(point, metric) if point is not None else "-")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _ms(point: Point) -> float:
    return point.ms


def plot(points: list[Point], path: Path) -> str:
    """Draw every section's curves (log-log) into ``path``; say what was done."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return (
            "plot skipped: matplotlib is not installed (pip install 'remote-mcp[bench]'); "
            f"{path} left as it was"
        )
    y_of: dict[str, Callable[[Point], float]] = {
        "payload_mb_s": lambda p: p.extra["payload_mb_s"],
        "peak_rss_mb": lambda p: p.extra["peak_rss_mb"],
    }
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (title, unit, columns) in zip(axes.flat, SECTIONS, strict=True):
        metric = next((c[1] for c in columns if c[1] in y_of), "ms")
        for series, col_metric, heading in columns:
            if col_metric != metric:
                continue
            mine = sorted((p for p in points if p.series == series), key=lambda p: p.x)
            if mine:
                get = y_of.get(metric, _ms)
                ax.plot([p.x for p in mine], [get(p) for p in mine], marker="o", label=heading)
        ax.set_xscale("log")
        ax.set_yscale("log" if metric == "ms" else "linear")
        if metric == "payload_mb_s":
            ax.axhline(LINK_RATE / 1e6, color="grey", linestyle="--", label="link")
        if metric == "peak_rss_mb":
            ax.set_ylim(bottom=0)
        ax.set_title(title if len(title) < 60 else title.split(":")[0], fontsize=9)
        ax.set_xlabel(unit)
        ax.set_ylabel(
            {"payload_mb_s": "MB/s", "peak_rss_mb": "peak RSS growth, MB"}.get(metric, "ms")
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return f"plot written to {path}"


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_rss(tmp: Path) -> dict[str, float]:
    """RSS of a real server process (stdio, raw JSON-RPC): after ``initialize``,
    and idle after its first Read (connected, tools loaded)."""
    server = bench_sshd(tmp / "sshd-rss")
    proc = None
    try:
        known = tmp / "known_hosts-rss"
        known.write_text(server.known_hosts_line + "\n")
        config = tmp / "rss-config.yaml"
        config.write_text(
            f"hosts:\n  bench:\n    hostname: 127.0.0.1\n    port: {server.port}\n"
            f"    user: {login_user(server)}\n    key_path: {server.client_key}\n"
            f"    known_hosts: {known}\ndefault_host: bench\n"
        )
        hand_over(server, tmp, str(known))  # the Read below reads it as the login user
        proc = spawn_server("--host", "bench", env={**os.environ, "REMOTE_MCP_CONFIG": str(config)})
        assert proc.stdin is not None and proc.stdout is not None
        figures = {}
        messages: list[dict[str, Any]] = [
            INITIALIZE,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "Read", "arguments": {"file_path": str(known)}},
            },
        ]
        for message in messages:
            proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
            if "id" not in message:
                continue
            for _ in range(100):  # skip notifications (logging, progress)
                answer = json.loads(proc.stdout.readline() or b"{}")
                if answer.get("id") == message["id"] or not answer:
                    break
            assert "result" in answer, answer
            figures["initialize" if message["id"] == 1 else "first_call"] = _status_mb(
                proc.pid, "VmRSS"
            )
        figures["peak"] = _status_mb(proc.pid, "VmHWM")
        return figures
    finally:
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(30)
        server.stop()
