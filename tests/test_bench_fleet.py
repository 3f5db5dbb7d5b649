"""The fleet benchmark's report says met or missed from its own figures (pure)."""

from __future__ import annotations

from remote_mcp.bench_fleet import FleetRow, report

META = {
    "rtt_ms": 50.0,
    "repeat": 3,
    "one_connect_ms": 400.0,
    "load_before": (1.5, 1.0, 1.0),
    "load_after": (2.5, 1.0, 1.0),
    "cpus": 2,
}


def row(hosts: int, connect: float, bash: float, grep: float, failed: int = 0) -> FleetRow:
    return FleetRow(hosts, connect, bash, grep, 80.0, 3 + hosts, failed, 2.0, bash_cpu_ms=7.0)


def test_the_verdict_is_taken_at_the_largest_group() -> None:
    text = report([row(1, 400, 60, 55), row(100, 790, 99, 130, failed=2)], META, None)
    assert "| 100 (2 failed) | 790 (2.0x) | 99 (2.0) | 7 | 130 (2.6) |" in text
    assert "Bash met, Grep missed; connect <= 2 x one host: met." in text
    assert "Load average 1.50 before, 2.50 after, on 2 CPUs" in text
    assert "![" not in text  # no plot without matplotlib


def test_the_plot_is_linked_when_drawn() -> None:
    assert "![fleet wall times](fleet.png)" in report([row(1, 1, 1, 1)], META, "fleet.png")
