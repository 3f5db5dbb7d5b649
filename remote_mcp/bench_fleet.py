"""``invoke bench --fleet``: one tool call on 1, 10, 50 and 100 hosts.

Each host is its own SSH connection through its own ``LinkProxy`` (a fixed
delay each way: 50 ms round trip by default) to one of a few throwaway sshds
on 127.0.0.1. The proxies run in a child process, so the figures for local
memory (RSS) and threads are the client's alone. Measured per group size:
the wall time to connect every host (against one host's connect), and the
median wall time of a Bash ``hostname`` and of a Grep on every host once
connected, in milliseconds and in round trips. The load average is reported
with them: two shared cores make every figure worse, never better.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bench_startup import BENCH_USER
from .config import HostConfig
from .fleet_calls import Fleet, GroupCall
from .fleet_schemas import tool_args
from .session import Session
from .testing import LinkProxy, SshdServer, start_sshd

__all__ = ["main"]

SIZES = (1, 10, 50, 100)
SSHDS = 10  # remote ends; each host still has its own connection and proxy


@dataclass
class FleetRow:
    hosts: int
    connect_ms: float
    bash_ms: float
    grep_ms: float
    rss_mb: float
    threads: int
    failed: int  # hosts not connected, or failing a measured call
    load: float  # 1-minute load average when the row was done
    bash_cpu_ms: float = 0.0  # the client's own CPU time in the Bash call


def _serve_proxies(delay_s: float, targets: list[int]) -> None:
    """Child process: one proxy per target port; ports on stdout; until stdin ends."""
    proxies = [LinkProxy("127.0.0.1", port, delay_s=delay_s).start() for port in targets]
    print(" ".join(str(p.port) for p in proxies), flush=True)
    sys.stdin.read()
    for proxy in proxies:
        proxy.close()


def _start_proxies(delay_s: float, targets: list[int]) -> tuple[subprocess.Popen[str], list[int]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "remote_mcp.bench_fleet", "--serve-proxies", str(delay_s)]
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


def _call_ms(
    fleet: Fleet, name: str, arguments: dict[str, Any], repeat: int
) -> tuple[float, float, int]:
    """Median wall ms and client CPU ms of ``repeat`` calls after a warm-up one,
    and how many hosts failed in the last (reported: a loaded machine fails some)."""
    args, hosts = tool_args(name, arguments)
    fleet.call(GroupCall(), name, args, hosts)  # warm: the Bash shells start here
    times, cpu = [], []
    failed = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        output = fleet.call(GroupCall(), name, args, hosts)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        failed = sum(1 for o in output.structured.get("hosts", {}).values() if "failure" in o)
    return statistics.median(times), statistics.median(cpu), failed


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(
    sizes: tuple[int, ...], rtt_ms: float, repeat: int
) -> tuple[list[FleetRow], dict[str, Any]]:
    rows: list[FleetRow] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="remote-mcp-bench-fleet-") as name:
        tmp = Path(name)
        # As root, log in as an account with no shell profile: real hosts source
        # theirs on their own CPUs, here 100 logins would share the client's.
        servers = [start_sshd(tmp / f"sshd{i}", other_user=BENCH_USER) for i in range(SSHDS)]
        child = None
        try:
            targets = [servers[i % SSHDS].port for i in range(max(sizes))]
            child, ports = _start_proxies(rtt_ms / 2000, targets)
            hosts = _hosts(tmp, servers, ports)
            one_ms = _one_connect_ms(hosts[0], repeat)
            for size in sizes:
                fleet = Fleet("bench", hosts[:size])
                try:
                    start = time.perf_counter()
                    fleet.connect()
                    connect_ms = (time.perf_counter() - start) * 1000
                    failed = sum(1 for s in fleet.group if s.info is None)
                    bash_ms, bash_cpu, bash_failed = _call_ms(
                        fleet, "Bash", {"command": "hostname"}, repeat
                    )
                    grep = {"pattern": "root", "path": "/etc/passwd", "output_mode": "content"}
                    grep_ms, _, grep_failed = _call_ms(fleet, "Grep", grep, repeat)
                    row = FleetRow(
                        size,
                        connect_ms,
                        bash_ms,
                        grep_ms,
                        _rss_mb(),
                        threading.active_count(),
                        max(failed, bash_failed, grep_failed),
                        os.getloadavg()[0],
                        bash_cpu,
                    )
                    rows.append(row)
                    print(row, file=sys.stderr, flush=True)  # a partial run still tells
                finally:
                    fleet.group.close()
        finally:
            if child is not None:
                child.communicate("", timeout=60)
            for server in servers:
                server.stop()
    meta = {
        "rtt_ms": rtt_ms,
        "repeat": repeat,
        "one_connect_ms": one_ms,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    return rows, meta


def report(rows: list[FleetRow], meta: dict[str, Any], plot: str | None) -> str:
    rtt = meta["rtt_ms"]
    one = meta["one_connect_ms"]
    lines = [
        f"# Fleet: one call on many hosts, RTT {rtt:g} ms",
        "",
        f"One host's connect: {one:.0f} ms. Load average {meta['load_before'][0]:.2f} before, "
        f"{meta['load_after'][0]:.2f} after, on {meta['cpus']} CPUs. Median of "
        f"{meta['repeat']} calls after a warm-up call.",
        "",
        "| hosts | connect ms (x one host) | Bash hostname ms (RTT) | client CPU ms in it "
        "| Grep ms (RTT) | local RSS MB | threads | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        down = f" ({r.failed} failed)" if r.failed else ""
        lines.append(
            f"| {r.hosts}{down} | {r.connect_ms:.0f} ({r.connect_ms / one:.1f}x) "
            f"| {r.bash_ms:.0f} ({r.bash_ms / rtt:.1f}) | {r.bash_cpu_ms:.0f} "
            f"| {r.grep_ms:.0f} ({r.grep_ms / rtt:.1f}) "
            f"| {r.rss_mb:.0f} | {r.threads} | {r.load:.1f} |"
        )
    biggest = rows[-1]
    lines += [
        "",
        f"Targets at {biggest.hosts} hosts: calls after connect <= 2 RTT: Bash "
        f"{_verdict(biggest.bash_ms <= 2 * rtt)}, Grep {_verdict(biggest.grep_ms <= 2 * rtt)}; "
        f"connect <= 2 x one host: {_verdict(biggest.connect_ms <= 2 * one)}.",
    ]
    if plot:
        lines += ["", f"![fleet wall times]({plot})"]
    return "\n".join(lines) + "\n"


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def plot(rows: list[FleetRow], meta: dict[str, Any], path: Path) -> bool:
    """A PNG of the wall times per group size; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    hosts = [r.hosts for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(hosts, [r.connect_ms for r in rows], "o-", label="connect")
    ax.plot(hosts, [r.bash_ms for r in rows], "s-", label="Bash hostname")
    ax.plot(hosts, [r.grep_ms for r in rows], "^-", label="Grep")
    ax.axhline(2 * meta["rtt_ms"], color="grey", linestyle=":", label="2 RTT")
    ax.set_xlabel("hosts")
    ax.set_ylabel("wall time, ms")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remote_mcp.bench_fleet")
    parser.add_argument("--serve-proxies", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default="bench-fleet.md")
    parser.add_argument("--plot", default="bench-fleet.png", help="PNG written next to --out")
    parser.add_argument("--data", type=Path, help="the benchmark report's data directory")
    args = parser.parse_args(argv)
    if args.serve_proxies:
        delay, *targets = args.serve_proxies
        _serve_proxies(float(delay), [int(t) for t in targets])
        return 0
    rows, meta = run(tuple(args.sizes), args.rtt_ms, args.repeat)
    if args.data:  # the benchmark report: fleet.json, the plot, both pages (bench_report)
        from .bench_report import publish_fleet

        for path in publish_fleet(args.data, rows, meta | {"sshds": SSHDS}):
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
