"""``invoke bench --fleet``: one tool call on 1, 10, 50 and 100 hosts.

Each host is its own SSH connection through its own latency proxy (a fixed
delay each way: 50 ms round trip by default; all proxies on one thread,
``DelayProxies``, or ``--proxy link`` for a ``LinkProxy`` each) to one of a
few throwaway sshds on 127.0.0.1. The proxies run in a child process, so the
figures for local memory (RSS) and threads are the client's alone. Measured
per group size: the wall time to connect every host (against one host's
connect), and the median wall time of a Bash ``hostname`` and of a Grep on
every host once connected, in milliseconds and in round trips; the floor
and the CPU spent by client, proxies and "remote hosts" in each
(bench_fleet_costs). The load average is reported with them: two shared
cores make every figure worse, never better.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .bench_fleet_costs import CpuMeter, CpuSpent, Floor
from .bench_fleet_report import FleetRow, plot, report
from .bench_startup import BENCH_USER
from .config import HostConfig
from .fleet_calls import Fleet, GroupCall
from .fleet_schemas import tool_args
from .session import Session
from .testing import DelayProxies, LinkProxy, SshdServer, start_sshd

__all__ = ["FleetRow", "main", "plot", "report"]

SIZES = (1, 10, 50, 100)
SSHDS = 10  # remote ends; each host still has its own connection and proxy


def _serve_proxies(kind: str, delay_s: float, targets: list[int]) -> None:
    """Child process: one proxy per target port; ports on stdout; until stdin ends.
    ``delay``: all on one thread (DelayProxies); ``link``: a LinkProxy each
    (4 threads per connection), to measure what that costs."""
    if kind == "link":
        links = [LinkProxy("127.0.0.1", port, delay_s=delay_s).start() for port in targets]
        print(" ".join(str(p.port) for p in links), flush=True)
        sys.stdin.read()
        for link in links:
            link.close()
        return
    with DelayProxies(delay_s, targets) as proxies:
        print(" ".join(str(p) for p in proxies.ports), flush=True)
        sys.stdin.read()


def _start_proxies(
    delay_s: float, targets: list[int], kind: str = "delay"
) -> tuple[subprocess.Popen[str], list[int]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "remote_mcp.bench_fleet", "--serve-proxies", kind, str(delay_s)]
        + [str(t) for t in targets],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    ports = [int(p) for p in child.stdout.readline().split()]
    if len(ports) != len(targets):
        child.kill()
        raise RuntimeError("the proxy process did not start")
    return child, ports


def _hosts(tmp: Path, servers: list[SshdServer], ports: list[int]) -> list[HostConfig]:
    known = tmp / "known_hosts"
    lines, hosts = [], []
    for index, port in enumerate(ports):
        server = servers[index % len(servers)]
        lines.append(server.known_hosts_line.replace(f"]:{server.port} ", f"]:{port} "))
        hosts.append(
            HostConfig(
                name=f"node{index:03d}",
                hostname="127.0.0.1",
                port=port,
                user=server.other_user or server.user,
                key_path=str(server.client_key),
                known_hosts=str(known),
                connect_timeout_s=60,
            )
        )
    known.write_text("\n".join(lines) + "\n")
    return hosts


def _one_connect_ms(host: HostConfig, repeat: int) -> float:
    """Best of ``repeat``: one host's connect (handshake, probe, worker shells)."""
    best = float("inf")
    for _ in range(repeat):
        session = Session(host)
        try:
            start = time.perf_counter()
            session.connect()
            best = min(best, (time.perf_counter() - start) * 1000)
        finally:
            session.close()
    return best


def _connect(fleet: Fleet, meter: CpuMeter) -> tuple[float, float, float, CpuSpent]:
    """Connect every host: wall ms; per host (median) the SSH handshake (TCP,
    key exchange, auth) and then the probe with the worker shell; CPU spent."""
    handshakes: list[float] = []
    shells: list[float] = []

    def one(session: Session) -> None:
        start = time.perf_counter()
        session.conn.open()
        opened = time.perf_counter()
        fleet._ready(session)
        handshakes.append((opened - start) * 1000)
        shells.append((time.perf_counter() - opened) * 1000)

    meter.start()
    fleet.group.map(one)
    spent = meter.spent()
    return spent.wall, _median(handshakes), _median(shells), spent


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _call_ms(
    fleet: Fleet, name: str, arguments: dict[str, Any], repeat: int, meter: CpuMeter
) -> tuple[CpuSpent, int]:
    """Medians (wall and CPU by owner) of ``repeat`` calls after a warm-up one,
    and how many hosts failed in the last (reported: a loaded machine fails some)."""
    args, hosts = tool_args(name, arguments)
    fleet.call(GroupCall(), name, args, hosts)  # warm: the Bash shells start here
    spent: list[CpuSpent] = []
    failed = 0
    for _ in range(repeat):
        meter.start()
        output = fleet.call(GroupCall(), name, args, hosts)
        spent.append(meter.spent())
        failed = sum(1 for o in output.structured.get("hosts", {}).values() if "failure" in o)
    return _median_spent(spent), failed


def _median_spent(spent: list[CpuSpent]) -> CpuSpent:
    return CpuSpent(
        *(
            statistics.median(getattr(s, f) for s in spent)
            for f in ("client", "proxy", "remote", "machine", "wall")
        )
    )


def _floor_ms(fleet: Fleet, repeat: int) -> float:
    """Median wall ms of `Floor.call` (after a warm-up) on the connected hosts."""
    floor = Floor(fleet.group)
    try:
        floor.call()
        return _median([floor.call()[0] for _ in range(repeat)])
    finally:
        floor.close()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stage(hosts: list[HostConfig], meter: CpuMeter, repeat: int) -> FleetRow:
    """One group size, from connect to close: its row."""
    fleet = Fleet("bench", hosts)
    try:
        connect_ms, handshake, shells, connect_cpu = _connect(fleet, meter)
        failed = sum(1 for s in fleet.group if s.info is None)
        bash, bash_failed = _call_ms(fleet, "Bash", {"command": "hostname"}, repeat, meter)
        grep_args = {"pattern": "root", "path": "/etc/passwd", "output_mode": "content"}
        grep, grep_failed = _call_ms(fleet, "Grep", grep_args, repeat, meter)
        return FleetRow(
            len(hosts),
            connect_ms,
            bash.wall,
            grep.wall,
            _rss_mb(),
            threading.active_count(),
            max(failed, bash_failed, grep_failed),
            os.getloadavg()[0],
            bash.client,
            proxy_cpu_ms=bash.proxy,
            remote_cpu_ms=bash.remote,
            machine_cpu_ms=bash.machine,
            floor_ms=_floor_ms(fleet, repeat),
            handshake_ms=handshake,
            shells_ms=shells,
            connect_cpu=connect_cpu,
        )
    finally:
        fleet.group.close()


def _median_round(rows: list[FleetRow]) -> FleetRow:
    """The round with the median Bash time (the lower one of an even count),
    whole, with every round's Bash and Grep times."""
    chosen = sorted(rows, key=lambda r: r.bash_ms)[(len(rows) - 1) // 2]
    chosen.bash_rounds = [r.bash_ms for r in rows]
    chosen.grep_rounds = [r.grep_ms for r in rows]
    return chosen


def run(
    sizes: tuple[int, ...], rtt_ms: float, repeat: int, proxy: str = "delay", rounds: int = 1
) -> tuple[list[FleetRow], dict[str, Any]]:
    """Every size in ``rounds`` interleaved rounds (1, 10, 50, 100, then
    again): this machine's pace drifts by as much as 2x from one minute to
    the next, and a single round of the largest size says more about that
    minute than about the code."""
    by_size: dict[int, list[FleetRow]] = {size: [] for size in sizes}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="remote-mcp-bench-fleet-") as name:
        tmp = Path(name)
        # As root, log in as an account with no shell profile: real hosts source
        # theirs on their own CPUs, here 100 logins would share the client's.
        servers = [start_sshd(tmp / f"sshd{i}", other_user=BENCH_USER) for i in range(SSHDS)]
        child = None
        try:
            targets = [servers[i % SSHDS].port for i in range(max(sizes))]
            child, ports = _start_proxies(rtt_ms / 2000, targets, proxy)
            meter = CpuMeter(child.pid, {s.process.pid for s in servers})
            hosts = _hosts(tmp, servers, ports)
            one_ms = _one_connect_ms(hosts[0], repeat)
            for _ in range(rounds):
                for size in sizes:
                    row = _stage(hosts[:size], meter, repeat)
                    by_size[size].append(row)
                    print(row, file=sys.stderr, flush=True)  # a partial run still tells
        finally:
            if child is not None:
                child.communicate("", timeout=60)
            for server in servers:
                server.stop()
    meta = {
        "rtt_ms": rtt_ms,
        "repeat": repeat,
        "rounds": rounds,
        "one_connect_ms": one_ms,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "proxy": proxy,
    }
    return [_median_round(by_size[size]) for size in sizes], meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remote_mcp.bench_fleet")
    parser.add_argument("--serve-proxies", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds of all sizes; the median is kept"
    )
    parser.add_argument(
        "--proxy",
        choices=["delay", "link"],
        default="delay",
        help="latency proxies: one thread for all (delay) or LinkProxy threads (link)",
    )
    parser.add_argument("--out", default="bench-fleet.md")
    parser.add_argument("--plot", default="bench-fleet.png", help="PNG written next to --out")
    parser.add_argument("--data", type=Path, help="the benchmark report's data directory")
    args = parser.parse_args(argv)
    if args.serve_proxies:
        kind, delay, *targets = args.serve_proxies
        _serve_proxies(kind, float(delay), [int(t) for t in targets])
        return 0
    rows, meta = run(tuple(args.sizes), args.rtt_ms, args.repeat, args.proxy, args.rounds)
    meta |= {"sshds": SSHDS}
    if args.data:  # the benchmark report: fleet.json, the plot, both pages (bench_report)
        from .bench_report import publish_fleet

        for path in publish_fleet(args.data, rows, meta):
            print(f"wrote {path}")
        return 0
    out = Path(args.out)
    image = out.parent / args.plot
    drawn = plot(rows, meta, image)
    text = report(rows, meta, image.name if drawn else None)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
