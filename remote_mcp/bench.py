"""``invoke bench``: round trips, latency and bytes per tool over a slow link.

A throwaway sshd on 127.0.0.1 sits behind ``LinkProxy``, which adds a fixed
one-way delay in each direction (the kernel here has no netem). Every tool
runs through its routine on an open ``Session``, as the server runs it, and
the report gives per call: median latency, latency in round trips, remote
commands, and bytes on the wire (SSH framing, compression and all).
A plain ``fabric.Connection.run`` of the same read is measured as the baseline.
A last section gives the peak local memory (RSS) of big answers: a Read of a
259 MB file and a Grep at a deep offset of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .bench_memory import memory, memory_report
from .config import HostConfig
from .connection import PhaseClock
from .session import Session
from .templates import render
from .testing import LinkProxy, remote_exec, start_sshd
from .tools.base import ToolState

__all__ = ["main"]


@dataclass
class Row:
    name: str
    what: str
    median_ms: float
    rtts: float
    commands: float
    sent: float
    received: float
    # Median ms per call of each phase (PhaseClock): local work before the
    # first command (render...), channel writes, waiting for the frames' ends,
    # the remote wall time the frames report, local work after the last one.
    phases: dict[str, float] | None = None


PHASES = ("before", "write", "wait", "remote", "after")


def _phases(clock: PhaseClock, start: float, end: float) -> dict[str, float]:
    if clock.first_send is None or clock.last_done is None:
        return dict.fromkeys(PHASES, 0.0) | {"before": (end - start) * 1000}
    return {
        "before": (clock.first_send - start) * 1000,
        "write": clock.write_s * 1000,
        "wait": clock.wait_s * 1000,
        "remote": clock.remote_s * 1000 if clock.remote_known else float("nan"),
        "after": (end - clock.last_done) * 1000,
    }


def _measure(
    session: Session, rtt_ms: float, name: str, what: str, fn: Callable[[], Any], repeat: int
) -> Row:
    times, deltas, phases = [], [], []
    for _ in range(repeat):
        before = session.stats.snapshot()
        session.stats.phases = PhaseClock()
        start = time.perf_counter()
        fn()
        end = time.perf_counter()
        times.append((end - start) * 1000)
        phases.append(_phases(session.stats.phases, start, end))
        after = session.stats.snapshot()
        deltas.append([a - b for a, b in zip(after, before, strict=True)])
    median = statistics.median(times)
    per_call = [statistics.median(col) for col in zip(*deltas, strict=True)]
    per_phase = {k: statistics.median(p[k] for p in phases) for k in PHASES}
    commands, sent, received = per_call
    rtts = median / rtt_ms if rtt_ms else 0.0
    return Row(name, what, median, rtts, commands, sent, received, per_phase)


Scenario = tuple[str, str, Callable[[], object]]


def _scenarios(session: Session, state: ToolState, area: str) -> list[Scenario]:
    from .tools import bash, edit, files, search

    big = f"{area}/big.log"
    small = [f"{area}/small{i}.txt" for i in range(10)]
    scenarios: list[Scenario] = [
        (
            "Read",
            "20 lines at offset 100000 of a 20 MB file",
            lambda: files.read(session, big, offset=100000, limit=20, state=state),
        ),
        ("Read", "whole 200-line file", lambda: files.read(session, small[0], state=state)),
        (
            "MultiRead",
            "10 files of 200 lines",
            lambda: files.multi_read(session, [{"file_path": p} for p in small], state=state),
        ),
        ("FileStat", "10 paths", lambda: files.file_stat(session, small, state=state)),
        (
            "Write",
            "10 KB file (atomic replace)",
            lambda: files.write(session, f"{area}/w10k.txt", "x" * 10_000 + "\n", state=state),
        ),
    ]
    target = f"{area}/edit10m.txt"
    counter = iter(range(10**6))

    def edit_with(backend_state: ToolState) -> Callable[[], object]:
        def one_line_edit() -> None:
            old, new = ("line 5 marker", "line 5 MARKER")
            if next(counter) % 2:
                old, new = new, old
            edit.edit(session, target, old, new, state=backend_state)

        return one_line_edit

    scenarios.append(("Edit", "1 line of a 10 MB file, python3 on the remote", edit_with(state)))
    for backend in ("perl", "local"):
        forced = ToolState(
            host_name="bench",
            info=state.info,
            cwd=area,
            backends={"edit": backend},
            files=state.files,
        )
        where = "perl on the remote" if backend == "perl" else "local fallback (no python3/perl)"
        scenarios.append(("Edit", f"1 line of a 10 MB file, {where}", edit_with(forced)))
    scenarios += [
        (
            "Glob",
            "**/*.txt over 12 files",
            lambda: search.glob(session, "**/*.txt", area, state=state),
        ),
        (
            "Grep",
            "content mode, -C 2, 10 files",
            lambda: search.grep(
                session, "line 1[0-9]$", area, output_mode="content", context=2, state=state
            ),
        ),
        (
            "Bash",
            "echo hi on the persistent shell",
            lambda: bash.bash(session, "echo hi", state=state),
        ),
    ]
    return scenarios


def run(delay_ms: float, repeat: int) -> tuple[list[Row], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="remote-mcp-bench-") as tmp:
        server = start_sshd(Path(tmp) / "sshd")
        proxy = LinkProxy("127.0.0.1", server.port, delay_s=delay_ms / 1000).start()
        known = Path(tmp) / "known_hosts"
        known.write_text(server.known_hosts_line.replace(f"]:{server.port} ", f"]:{proxy.port} "))
        host = HostConfig(
            name="bench",
            hostname="127.0.0.1",
            port=proxy.port,
            user=server.user,
            key_path=str(server.client_key),
            known_hosts=str(known),
        )
        area = f"{tmp}/area"
        rc, _, err = remote_exec(server, render("bench_setup.sh.j2", area=area))
        assert rc == 0, err
        handshake_ms, setup_ms = _connect_phases(host, repeat)
        session = Session(host)
        try:
            start = time.perf_counter()
            info = session.connect()
            session.pool.warm()
            connect_ms = (time.perf_counter() - start) * 1000
            state = ToolState(host_name="bench", info=info, cwd=area)
            from .tools import files

            files.read(session, f"{area}/edit10m.txt", offset=1, limit=1, state=state)
            rtt = 2 * delay_ms
            rows = [
                _measure(session, rtt, name, what, fn, repeat)
                for name, what, fn in _scenarios(session, state, area)
            ]
            rows.append(_baseline(host, area, rtt, repeat))
            meta = {
                "delay_ms": delay_ms,
                "rtt_ms": rtt,
                "repeat": repeat,
                "connect_ms": connect_ms,
                "handshake_ms": handshake_ms,
                "setup_ms": setup_ms,
                "python": platform.python_version(),
                "machine": f"{platform.system()} {platform.machine()}",
            }
            return rows, meta
        finally:
            session.close()
            proxy.close()
            server.stop()


def _connect_phases(host: HostConfig, repeat: int) -> tuple[float, float]:
    """Best of ``repeat``: the SSH handshake (TCP, kex, auth) and the set-up
    after it (probe and worker shells). The minimum, because CPU load on a
    shared machine only ever adds time."""
    handshakes, setups = [], []
    for _ in range(max(1, repeat)):
        session = Session(host)
        try:
            t0 = time.perf_counter()
            session.conn.open()
            t1 = time.perf_counter()
            session.connect()
            session.pool.warm()
            t2 = time.perf_counter()
        finally:
            session.close()
        handshakes.append((t1 - t0) * 1000)
        setups.append((t2 - t1) * 1000)
    return min(handshakes), min(setups)


def cold_start(python: str = sys.executable, repeat: int = 3) -> dict[str, float]:
    """Spawn -> ``initialize`` answered, raw JSON-RPC over the server's stdio,
    against ``import mcp`` alone: the SDK's import is the floor. Best of
    ``repeat`` (ms). The host is unconfigured (no SSH is needed for this), so
    no connect thread imports paramiko alongside."""
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    }
    line = (json.dumps(request) + "\n").encode()
    env = {**os.environ, "REMOTE_MCP_CONFIG": os.devnull}
    spawn, floor = [], []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [python, "-m", "remote_mcp", "--host", "nowhere"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line)
        proc.stdin.flush()
        answer = proc.stdout.readline()
        spawn.append((time.perf_counter() - t0) * 1000)
        proc.stdin.close()
        proc.wait(timeout=30)
        assert b'"id":1' in answer.replace(b" ", b""), answer[:200]
        t0 = time.perf_counter()
        subprocess.run([python, "-c", "import mcp"], check=True, env=env)
        floor.append((time.perf_counter() - t0) * 1000)
    return {"initialize_ms": min(spawn), "import_mcp_ms": min(floor)}


def _baseline(host: HostConfig, area: str, rtt: float, repeat: int) -> Row:
    """The same 20-line read with a plain fabric.Connection (new channel per command)."""
    from .connection import HostConnection

    conn = HostConnection(host)
    fabric_conn = conn.open()
    script = render(
        "read.sh.j2",
        path=f"{area}/big.log",
        start=100000,
        end=100019,
        mode="text",
        check_size=0,
        max_size=262144,
        hash_max=256 << 20,
        line_bytes=8000,
        slice_bytes=1 << 20,
        allowed=[],
    )
    times = []
    for _ in range(repeat):
        before = conn.stats.snapshot()
        t0 = time.perf_counter()
        fabric_conn.run(script, hide=True, in_stream=False)
        times.append((time.perf_counter() - t0) * 1000)
        after = conn.stats.snapshot()
    conn.close()
    median = statistics.median(times)
    rtts = median / rtt if rtt else 0.0
    sent, received = after[1] - before[1], after[2] - before[2]
    return Row(
        "baseline",
        "fabric Connection.run of the same 20-line read",
        median,
        rtts,
        1,
        sent,
        received,
    )


def report(rows: list[Row], meta: dict[str, Any]) -> str:
    lines = [
        f"# remote-mcp benchmark, RTT {meta['rtt_ms']:.0f} ms",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {meta['machine']}, "
        f"Python {meta['python']}.",
        f"Link: sshd on 127.0.0.1 behind a userspace proxy adding {meta['delay_ms']:.0f} ms each "
        f"way (RTT {meta['rtt_ms']:.0f} ms). Median of {meta['repeat']} calls on an open session.",
        f"Connection setup (connect + probe + warm worker channels): {meta['connect_ms']:.0f} ms; "
        f"best of {meta['repeat']}: handshake {meta['handshake_ms']:.0f} ms"
        + _in_rtts(meta["handshake_ms"], meta["rtt_ms"])
        + f", set-up after it {meta['setup_ms']:.0f} ms"
        + _in_rtts(meta["setup_ms"], meta["rtt_ms"])
        + ".",
        "",
        "| tool | call | median ms | round trips | remote cmds | bytes sent | bytes recv |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.what} | {r.median_ms:.0f} | "
            f"{f'{r.rtts:.2f}' if meta['rtt_ms'] else '-'} | {r.commands:.0f} | "
            f"{r.sent:.0f} | {r.received:.0f} |"
        )
    lines += [
        "",
        "Where the time goes (median ms per call): local work before the first command "
        "(template rendering...), writing to the channel, waiting for the frame's end (of "
        "which the remote wall time, bash workers only: it starts when the frame's first line "
        "arrives, so for a large command it overlaps the write), local work after (parsing).",
        "",
        "| tool | call | before | write | wait | of which remote | after |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.phases:
            p = r.phases
            lines.append(
                f"| {r.name} | {r.what} | {p['before']:.1f} | {p['write']:.1f} | "
                f"{p['wait']:.1f} | {_ms(p['remote'])} | {p['after']:.1f} |"
            )
    lines += [
        "",
        "Round trips = median latency / RTT; remote work (sed, sha256sum...) is included in it.",
        "Bytes are counted on the TCP socket under SSH (kex, framing, MACs, zlib compression).",
        "The baseline opens a new channel per command, which also runs the login user's shell",
        "startup files on the remote (on the machine that made the committed report, root's",
        "~/.bashrc runs `pyenv init`: ~0.4 s of the baseline is that).",
    ]
    return "\n".join(lines) + "\n"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _in_rtts(ms: float, rtt_ms: float) -> str:
    return f" ({ms / rtt_ms:.1f} RTT)" if rtt_ms else ""


def cold_start_report(figures: dict[str, float]) -> str:
    extra = figures["initialize_ms"] - figures["import_mcp_ms"]
    return (
        "## Cold start\n\n"
        f"Spawn -> `initialize` answered: {figures['initialize_ms']:.0f} ms; `import mcp` alone: "
        f"{figures['import_mcp_ms']:.0f} ms (best of 3 each): the server adds {extra:.0f} ms "
        "(target: 80 ms; unconfigured host, so no connect thread runs alongside).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remote_mcp.bench")
    parser.add_argument(
        "--delay-ms",
        type=float,
        nargs="+",
        default=[50.0, 0.0],
        help="one-way delays to measure (0 = plain loopback: remote work only)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default="bench-report.md")
    parser.add_argument("--no-memory", action="store_true", help="skip the 259 MB section")
    args = parser.parse_args(argv)
    sections = []
    for delay in args.delay_ms:
        rows, meta = run(delay, args.repeat)
        sections.append(report(rows, meta))
    if not args.no_memory:
        sections.append(memory_report(memory()))
    sections.append(cold_start_report(cold_start()))
    text = "\n".join(sections)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
