"""The fleet benchmark's rows, its report and its plot (pure: no SSH).

The verdict against issue 15's targets comes with its measured cause: on
one machine that is also every "remote host", a 100-host call is bounded by
the CPU all hosts need together, and the report says how busy the cores
were, whose processes used them, and what the floor (no client work at all)
reaches here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .bench_fleet_costs import CpuSpent

__all__ = ["FleetRow", "plot", "report"]


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
    # Every round's Bash and Grep wall ms (bench_fleet.run); this row is the median one.
    bash_rounds: list[float] = field(default_factory=list)
    grep_rounds: list[float] = field(default_factory=list)


def payload(rows: list[FleetRow], meta: dict[str, Any], command: str) -> dict[str, Any]:
    """One run as the report's data (fleet.json): plain rows, 1-minute loads."""
    from .bench_report import conditions

    tidy = dict(meta)
    for key in ("load_before", "load_after"):  # os.getloadavg() triples: the 1-minute one
        if isinstance(tidy.get(key), list | tuple):
            tidy[key] = tidy[key][0]
    return {
        "conditions": conditions(tidy["load_before"], command),
        "meta": tidy,
        "rows": [asdict(r) for r in rows],
    }


def report(rows: list[FleetRow], meta: dict[str, Any], plot: str | None) -> str:
    """The standalone report of one run (``--out``): the same section the
    benchmark page shows, and the issue-15 verdicts, rendered from this run."""
    from .bench_report_fleet import fleet_section, fleet_targets

    data = payload(rows, meta, "python -m remote_mcp.bench_fleet")
    data["conditions"]["load_after"] = data["meta"].get("load_after")
    section = fleet_section(data, "en")
    if plot:
        section = section.replace("(benchmark-fleet.png)", f"({plot})")
    else:
        section = section.replace("![Fleet wall times](benchmark-fleet.png)\n\n", "")
    verdicts = ["| target | condition | measured | verdict |", "|---|---|---|---|"]
    verdicts += [f"| {' | '.join(line)} |" for line in fleet_targets(data, "en")]
    return section + "\n" + "\n".join(verdicts) + "\n"


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
