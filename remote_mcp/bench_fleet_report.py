"""The fleet benchmark's rows, its report and its plot (pure: no SSH).

The verdict against issue 15's targets comes with its measured cause: on
one machine that is also every "remote host", a 100-host call is bounded by
the CPU all hosts need together, and the report says how busy the cores
were, whose processes used them, and what the floor (no client work at all)
reaches here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bench_fleet_costs import CpuSpent

__all__ = ["FleetRow", "plot", "report"]

CPU_BOUND = 0.8  # busy share of all cores above which a span is CPU-bound


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
    # Where the Bash call's time went (bench_fleet_costs.CpuMeter), medians:
    proxy_cpu_ms: float = 0.0
    remote_cpu_ms: float = 0.0  # every process under the bench's sshds
    machine_cpu_ms: float = 0.0  # all cores, other users' work included
    floor_ms: float = 0.0  # `hostname` on open plain channels, no client work
    # Connect: per host (median) the SSH handshake, then our probe and shell.
    handshake_ms: float = 0.0
    shells_ms: float = 0.0
    connect_cpu: CpuSpent | None = None


def report(rows: list[FleetRow], meta: dict[str, Any], plot: str | None) -> str:
    rtt = meta["rtt_ms"]
    one = meta["one_connect_ms"]
    cpus = meta["cpus"] or 1
    proxies = {
        "delay": "one thread for all (DelayProxies)",
        "link": "a LinkProxy each (4 threads per connection)",
    }
    lines = [
        f"# Fleet: one call on many hosts, RTT {rtt:g} ms",
        "",
        f"One host's connect: {one:.0f} ms. Load average {meta['load_before'][0]:.2f} before, "
        f"{meta['load_after'][0]:.2f} after, on {cpus} CPUs. Median of "
        f"{meta['repeat']} calls after a warm-up call. Latency proxies in a child process: "
        f"{proxies.get(meta.get('proxy', 'delay'), '?')}. The floor: `hostname` on every host's "
        "already-open plain channel, written and read by one thread (no client work).",
        "",
        "| hosts | connect ms (x one host) | Bash hostname ms (RTT) | Grep ms (RTT) "
        "| floor ms (RTT) | local RSS MB | threads | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        down = f" ({r.failed} failed)" if r.failed else ""
        lines.append(
            f"| {r.hosts}{down} | {r.connect_ms:.0f} ({r.connect_ms / one:.1f}x) "
            f"| {r.bash_ms:.0f} ({r.bash_ms / rtt:.1f}) "
            f"| {r.grep_ms:.0f} ({r.grep_ms / rtt:.1f}) "
            f"| {r.floor_ms:.0f} ({r.floor_ms / rtt:.1f}) "
            f"| {r.rss_mb:.0f} | {r.threads} | {r.load:.1f} |"
        )
    lines += [
        "",
        f"CPU time in one Bash call, ms (all hosts share the {cpus} cores):",
        "",
        "| hosts | client (per host) | proxies | remote hosts (per host) "
        "| whole machine (busy share of the cores) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.hosts} | {r.bash_cpu_ms:.0f} ({r.bash_cpu_ms / r.hosts:.1f}) "
            f"| {r.proxy_cpu_ms:.0f} | {r.remote_cpu_ms:.0f} ({r.remote_cpu_ms / r.hosts:.1f}) "
            f"| {r.machine_cpu_ms:.0f} ({_busy(r.machine_cpu_ms, r.bash_ms, cpus):.0%}) |"
        )
    biggest = rows[-1]
    lines += ["", *_connect_lines(biggest, cpus)]
    lines += [
        "",
        f"Targets at {biggest.hosts} hosts: calls after connect <= 2 RTT: Bash "
        f"{_verdict(biggest.bash_ms <= 2 * rtt)}, Grep {_verdict(biggest.grep_ms <= 2 * rtt)}; "
        f"connect <= 2 x one host: {_verdict(biggest.connect_ms <= 2 * one)}.",
    ]
    if biggest.bash_ms > 2 * rtt and biggest.machine_cpu_ms:
        lines += ["", _bash_cause(biggest, rtt, cpus)]
    if plot:
        lines += ["", f"![fleet wall times]({plot})"]
    return "\n".join(lines) + "\n"


def _busy(cpu_ms: float, wall_ms: float, cpus: int) -> float:
    return cpu_ms / (wall_ms * cpus) if wall_ms > 0 else 0.0


def _connect_lines(row: FleetRow, cpus: int) -> list[str]:
    line = (
        f"Connect of {row.hosts} hosts, per host (median): SSH handshake (TCP, key exchange, "
        f"auth) {row.handshake_ms:.0f} ms, then probe and worker shell {row.shells_ms:.0f} ms."
    )
    spent = row.connect_cpu
    if spent is not None:
        line += (
            f" CPU in it, ms: client {spent.client:.0f}, proxies {spent.proxy:.0f}, remote "
            f"hosts {spent.remote:.0f} ({spent.remote / row.hosts:.1f} per host), whole machine "
            f"{spent.machine:.0f} ({_busy(spent.machine, spent.wall, cpus):.0%} of the cores busy)."
        )
    return [line]


def _bash_cause(row: FleetRow, rtt: float, cpus: int) -> str:
    """Why the Bash call missed 2 RTT, from the row's own figures."""
    busy = _busy(row.machine_cpu_ms, row.bash_ms, cpus)
    spent = (
        f"remote hosts {row.remote_cpu_ms:.0f} ms ({row.remote_cpu_ms / row.hosts:.1f} per "
        f"host), client {row.bash_cpu_ms:.0f} ms ({row.bash_cpu_ms / row.hosts:.1f} per host), "
        f"proxies {row.proxy_cpu_ms:.0f} ms"
    )
    floor = f"the floor takes {row.floor_ms:.0f} ms ({row.floor_ms / rtt:.1f} RTT)"
    if busy >= CPU_BOUND:
        reach = (
            "so no client can meet 2 RTT on this machine"
            if row.floor_ms > 2 * rtt
            else "so a leaner remote command could come closer"
        )
        return (
            f"Cause: the call is CPU-bound, {busy:.0%} of the {cpus} cores busy for its whole "
            f"wall time: {spent}. Even with no client work {floor}, {reach}; on real hosts "
            "each host's share runs on its own CPUs."
        )
    return (
        f"Cause: the cores were {busy:.0%} busy, so the call waits rather than computes: "
        f"{spent}; {floor}."
    )


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
    ax.plot(hosts, [r.floor_ms for r in rows], "x--", label="floor (no client work)")
    ax.axhline(2 * meta["rtt_ms"], color="grey", linestyle=":", label="2 RTT")
    ax.set_xlabel("hosts")
    ax.set_ylabel("wall time, ms")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
