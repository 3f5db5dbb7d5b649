"""The fleet benchmark's report says met or missed from its own figures,
and why (pure)."""

from __future__ import annotations

from remote_mcp.bench_fleet import FleetRow, report
from remote_mcp.bench_fleet_costs import CpuSpent

META = {
    "rtt_ms": 50.0,
    "repeat": 3,
    "one_connect_ms": 400.0,
    "load_before": (1.5, 1.0, 1.0),
    "load_after": (2.5, 1.0, 1.0),
    "cpus": 2,
    "proxy": "delay",
}


def row(
    hosts: int,
    connect: float,
    bash: float,
    grep: float,
    failed: int = 0,
    *,
    machine: float = 0.0,
    floor: float = 40.0,
) -> FleetRow:
    return FleetRow(
        hosts,
        connect,
        bash,
        grep,
        80.0,
        3 + hosts,
        failed,
        2.0,
        bash_cpu_ms=7.0,
        proxy_cpu_ms=3.0,
        remote_cpu_ms=2.0 * hosts,
        machine_cpu_ms=machine,
        floor_ms=floor,
        handshake_ms=250.0,
        shells_ms=150.0,
        connect_cpu=CpuSpent(client=300.0, proxy=20.0, remote=900.0, machine=1400.0, wall=connect),
    )


def test_the_verdict_is_taken_at_the_largest_group() -> None:
    text = report([row(1, 400, 60, 55), row(100, 790, 99, 130, failed=2)], META, None)
    assert "| 100 (2 failed) | 790 (2.0x) | 99 (2.0) | 130 (2.6) | 40 (0.8) |" in text
    assert "| fleet: Bash after connect ≤ 2 RTT at 100 hosts |" in text
    assert "| 99 ms = 2.0 RTT | **met** |" in text
    assert (
        "| 130 ms = 2.6 RTT | **missed**: in a Bash call the remote hosts' CPU 200 ms "
        "(2.0 ms per host), client CPU 7 ms (0.1 ms per host)" in text
    )
    assert "| 790 ms = 2.0 x 400 ms | **met** |" in text
    assert "load average 1.50 before, 2.50 after" in text
    assert "the proxies run in a child process on one thread" in text
    assert "Cause:" not in text  # Bash met: nothing to explain
    assert "![" not in text  # no plot without matplotlib


def test_cpu_per_call_is_split_by_owner_and_per_host() -> None:
    text = report([row(100, 790, 400, 130, machine=760.0)], META, None)
    assert "| 100 | 7 (0.1) | 3 | 200 (2.0) | 760 (95%) |" in text
    assert (
        "SSH handshake (TCP, key exchange, auth) 250 ms, then probe and worker shells 150 ms. "
        "CPU in it, ms: client 300, proxies 20, remote hosts 900 (9.0 per host), "
        "whole machine 1400 (89% of the cores busy)."
    ) in text


def test_a_cpu_bound_miss_names_its_cause_and_the_floor() -> None:
    bound = report([row(100, 790, 400, 130, machine=760.0, floor=150.0)], META, None)
    assert "Cause: the call is CPU-bound, 95% of the 2 cores busy" in bound
    assert "the floor takes 150 ms (3.0 RTT), so no client can meet 2 RTT" in bound
    reachable = report([row(100, 790, 400, 130, machine=760.0, floor=60.0)], META, None)
    assert "so a leaner remote command could come closer" in reachable
    idle = report([row(100, 790, 400, 130, machine=200.0)], META, None)
    assert "Cause: the cores were 25% busy, so the call waits rather than computes" in idle


def test_the_plot_is_linked_when_drawn() -> None:
    assert "![Fleet wall times](fleet.png)" in report([row(1, 1, 1, 1)], META, "fleet.png")


def test_rounds_keep_the_median_one_and_the_report_gives_their_spread() -> None:
    from remote_mcp.bench_fleet import _median_round

    rounds = [row(100, 790, 915, 595), row(100, 700, 368, 392), row(100, 750, 618, 535)]
    kept = _median_round(rounds)
    assert (kept.bash_ms, kept.grep_ms, kept.connect_ms) == (618, 535, 750)  # one round, whole
    assert kept.bash_rounds == [915, 368, 618] and kept.grep_rounds == [595, 392, 535]
    text = report([kept], META, None)
    assert "measured in 3 rounds, interleaved" in text
    assert "100 hosts: Bash 368–915 ms, Grep 392–595 ms." in text
    assert "rounds" not in report([row(100, 790, 400, 130)], META, None)  # one round: no line
