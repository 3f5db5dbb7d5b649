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
import math
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import bench_report
from .bench_calls import scenarios
from .bench_memory import memory
from .bench_startup import (
    INITIALIZE,
    bench_host,
    bench_sshd,
    cold_start,
    connect_phases,
    first_result,
    hand_over,
    spawn_server,
)
from .bench_verdicts import BIG_EDIT, PER_CALL, PHASES, Row, target_for, verdict
from .config import HostConfig
from .connection import PhaseClock
from .session import Session
from .templates import render
from .testing import LinkProxy, remote_exec
from .tools.base import ToolState

__all__ = ["BIG_EDIT", "PER_CALL", "PHASES", "Row", "main", "target_for", "verdict"]

COMMAND = "python -m remote_mcp.bench"


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
    return Row(name, what, median, rtts, commands, sent, received, per_phase, _p90(times))


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]


def _echo_ms(port: int, samples: int) -> float:
    """Median ms of a 100-byte echo on a new connection to ``port``, with a
    pause before each (as between calls: the cores go idle)."""
    times = []
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(samples):
            time.sleep(0.05)
            start = time.perf_counter()
            conn.sendall(b"x" * 100)
            got = 0
            while got < 100:
                data = conn.recv(4096)
                if not data:
                    raise ConnectionError("the echo server closed the connection")
                got += len(data)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def link_rtt_ms(delay_ms: float, samples: int = 21) -> float:
    """The RTT a LinkProxy of this one-way delay gives, as a ping would see
    it: an echo through the proxy less the same echo straight to the echo
    server (its own turnaround). The proxy's timers wake a little late, so
    this is somewhat more than 2 x delay; calls are counted in it."""
    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while data := conn.recv(4096):
                    conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    port = server.getsockname()[1]
    proxy = LinkProxy("127.0.0.1", port, delay_s=delay_ms / 1000).start()
    try:
        return _echo_ms(proxy.port, samples) - _echo_ms(port, samples)
    finally:
        proxy.close()
        server.close()


def run(delay_ms: float, repeat: int, only: str | None = None) -> dict[str, Any]:
    """One RTT's per-call measurements, as calls.json keeps them (see bench_report)."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="remote-mcp-bench-") as tmp:
        link_ms = link_rtt_ms(delay_ms) if delay_ms else 0.0
        server = bench_sshd(Path(tmp) / "sshd")
        proxy = LinkProxy("127.0.0.1", server.port, delay_s=delay_ms / 1000).start()
        known = Path(tmp) / "known_hosts"
        known.write_text(server.known_hosts_line.replace(f"]:{server.port} ", f"]:{proxy.port} "))
        host = bench_host(server, proxy.port, known)
        area = f"{tmp}/area"
        rc, _, err = remote_exec(server, render("bench_setup.sh.j2", area=area))
        assert rc == 0, err
        hand_over(server, Path(tmp), area)
        handshake_ms, setup_ms = connect_phases(host, repeat)
        session = Session(host)
        state: ToolState | None = None
        try:
            start = time.perf_counter()
            info = session.connect()
            session.pool.warm()
            connect_ms = (time.perf_counter() - start) * 1000
            state = ToolState(host_name="bench", info=info, cwd=area)
            from .tools import files

            files.read(session, f"{area}/edit10m.txt", offset=1, limit=1, state=state)
            rtt = link_ms or 2 * delay_ms
            chosen = re.compile(only or "")
            rows = [
                _measure(session, rtt, name, what, fn, repeat)
                for name, what, fn in scenarios(session, state, area)
                if chosen.search(f"{name} {what}")
            ]
            if chosen.search("baseline"):
                rows.append(_baseline(host, area, rtt, repeat))
            return {
                "conditions": bench_report.conditions(load_before, COMMAND),
                "rtt_ms": 2 * delay_ms,
                "link_rtt_ms": link_ms,
                "delay_ms": delay_ms,
                "repeat": repeat,
                "connect_ms": connect_ms,
                "handshake_ms": handshake_ms,
                "setup_ms": setup_ms,
                "rows": [asdict(r) for r in rows],
            }
        finally:
            _kill_jobs(session, state)
            session.close()
            proxy.close()
            server.stop()


def _kill_jobs(session: Session, state: ToolState | None) -> None:
    """The BashOutput scenario's job must not outlive the run."""
    from .tools import bash_jobs

    for job_id in list((state.extra if state else {}).get("bash_job_offsets", {})):
        try:
            bash_jobs.kill_shell(session, job_id, state=state)  # type: ignore[arg-type]
        except Exception:
            pass


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


def tools_list_bytes(python: str = sys.executable) -> int:
    """tools/list as a spawned server answers it (compact JSON of the result,
    as tests/test_protocol.py pins it), for an unconfigured host named test."""
    import json

    env = {**os.environ, "REMOTE_MCP_CONFIG": os.devnull}
    proc = spawn_server("--host", "test", env=env, python=python)
    assert proc.stdin is not None and proc.stdout is not None
    messages: list[dict[str, Any]] = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    try:
        for message in messages:
            proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()
        for _ in range(100):  # answers and notifications, until the list's answer
            answer = json.loads(proc.stdout.readline() or b"{}")
            if answer.get("id") == 2 or not answer:
                break
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    result = answer["result"]
    return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--scaling" in argv:  # the scaling curves have their own module and options
        from .bench_scaling import main as scaling

        return scaling([arg for arg in argv if arg != "--scaling"])
    parser = argparse.ArgumentParser(prog="python -m remote_mcp.bench")
    parser.add_argument(
        "--delay-ms",
        type=float,
        nargs="+",
        default=[25.0, 0.0],
        help="one-way delays to measure (RTT = 2x; 0 = plain loopback: remote work only)",
    )
    parser.add_argument("--repeat", type=int, default=9)  # (medians of 5 moved by ms)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out",
        default="bench-report.md",
        help="a Markdown report of this run alone (docs/ is not touched)",
    )
    where.add_argument(
        "--data",
        type=Path,
        help="the report's data directory (docs/reference/bench-data): update its calls, "
        "startup and memory JSON and re-render docs/reference/benchmark.md and .zh.md",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the 259 MB section")
    parser.add_argument(
        "--no-spawn",
        action="store_true",
        help="skip the spawned-server sections (first result, cold start, tools/list)",
    )
    parser.add_argument("--only", help="regex: measure only the matching 'tool call' rows")
    args = parser.parse_args(argv)
    if args.only and args.data:
        parser.error("--only measures some rows: write them with --out, not into the report's data")
    command = " ".join([COMMAND, *argv])
    runs = [run(delay, args.repeat, args.only) for delay in args.delay_ms]
    data: dict[str, Any] = {"calls": {"conditions": runs[0]["conditions"], "runs": runs}}
    if not args.no_memory:
        load_before = os.getloadavg()[0]
        rows = [asdict(r) for r in memory()]
        data["memory"] = {"conditions": bench_report.conditions(load_before, command), "rows": rows}
    if not args.no_spawn:
        load_before = os.getloadavg()[0]
        repeat = min(3, args.repeat)
        delay = max(args.delay_ms)
        data["startup"] = {
            "first_result": first_result(delay, repeat) | {"repeat": repeat} if delay else None,
            "cold_start": cold_start(repeat=repeat) | {"repeat": repeat},
            "tools_list_bytes": tools_list_bytes(),
            "conditions": bench_report.conditions(load_before, command),
        }
    for payload in data.values():
        payload["conditions"]["command"] = command
    if args.data:
        for kind, payload in data.items():
            bench_report.save(args.data, kind, payload)
        for path in bench_report.write_pages(args.data):
            print(f"wrote {path}")
        return 0
    text = bench_report.render(data, "en")
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
