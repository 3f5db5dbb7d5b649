"""The benchmark's own instruments, one repetition each (the full
``invoke bench`` is not run in the test suite)."""

from __future__ import annotations

import math

import pytest

from remote_mcp import bench, bench_report
from remote_mcp.config import HostConfig
from remote_mcp.session import Session


def test_phase_timer_attributes_a_command_to_write_wait_and_remote(host_config: HostConfig) -> None:
    # A private, warmed session: the shared one may run another test's leftover
    # command meanwhile, and the phase clock sums every command of its session.
    session = Session(host_config)
    session.connect()
    session.pool.warm()
    try:
        row = bench._measure(session, 0.0, "probe", "sleep", lambda: session.run("sleep 0.2"), 1)
    finally:
        session.close()
    phases = row.phases
    assert phases is not None and set(phases) == set(bench.PHASES)
    assert row.commands == 1
    # The remote wall time comes from the frame (bash worker): at least the sleep,
    # and never more than the wait that contains it.
    assert not math.isnan(phases["remote"])
    assert 200 <= phases["remote"] <= phases["wait"]
    assert min(phases.values()) >= 0
    # The phases add up to the call (the phase clock and the call's own timer read
    # the clock at slightly different points: a little slack, relative to the call).
    assert sum(phases[k] for k in ("before", "write", "wait", "after")) <= row.median_ms * 1.05 + 1


@pytest.mark.slow  # spawns the server several times: seconds, not milliseconds
def test_cold_start_answers_initialize_and_measures_the_sdk_floor() -> None:
    figures = bench.cold_start(repeat=1)
    assert figures["initialize_ms"] > 0 and figures["import_mcp_ms"] > 0
    startup = {"conditions": bench_report.conditions(0.0, "test"), "cold_start": figures}
    assert "## Cold start" in bench_report.render({"startup": startup})


@pytest.mark.slow  # spawns the server
def test_tools_list_is_measured_as_the_server_sends_it() -> None:
    size = bench.tools_list_bytes()
    assert 1000 < size <= 11_000


def _row(name: str, what: str, median: float, rtt: float, remote: float) -> bench.Row:
    phases = {"before": 0.5, "write": 0.2, "wait": median - 1, "remote": remote, "after": 0.3}
    return bench.Row(name, what, median, median / rtt if rtt else 0.0, 1, 0, 0, phases)


def test_verdicts_follow_the_issue_targets_and_name_the_cause() -> None:
    assert bench.target_for("Read", "whole 200-line file") is bench.PER_CALL
    assert bench.target_for("Edit", "1 line of a 10 MB file, perl on the remote") is bench.BIG_EDIT
    assert (
        bench.target_for("Edit", "1 line of a 10 MB file, local fallback (no python3/perl)") is None
    )
    assert bench.target_for("baseline", "fabric Connection.run") is None
    assert bench.verdict(_row("Read", "x", 110, 100, 5), 100) == "**met**"
    slow = bench.verdict(_row("Grep", "x", 260, 100, 40), 100)
    # 260 ms at RTT 100: 219 ms of waiting beyond 40 ms of remote work = a second exchange.
    assert (
        slow.startswith("**missed**") and "RTT of waiting" in slow and "remote work 40 ms" in slow
    )
    assert bench.verdict(_row("Read", "x", 9, 0, 7), 0) == "**met**"
    assert bench.verdict(_row("Read", "x", 25, 0, 22), 0) == "**missed**: remote work 22 ms"
    assert bench.verdict(_row("baseline", "x", 500, 100, 0), 100) == "-"
    assert bench.verdict(_row("Read", "x", 25, 0, 22), 0, "zh") == "**未达标**：远端工作 22 ms"
    # At an RTT the same call's remote work back to back (RTT 0) is named beside it.
    assert bench.verdict(_row("Read", "x", 120, 100, 9), 100, busy_ms=5.4) == (
        "**missed**: remote work 9 ms (5 ms when calls follow back to back, at RTT 0)"
    )
    assert bench.verdict(_row("Read", "x", 25, 0, 22), 0, busy_ms=5.4) == (
        "**missed**: remote work 22 ms"
    )


def test_the_link_rtt_is_measured_through_the_proxy_and_not_below_its_delay() -> None:
    """What a ping would see on the bench's link: never less than 2 x delay
    (the proxy holds each chunk that long), and not the echo's own turnaround."""
    measured = bench.link_rtt_ms(10.0, samples=5)
    assert measured >= 20.0, measured


@pytest.mark.sshd  # starts its own sshd and proxy
def test_one_repetition_smoke_writes_the_verdict_table(tmp_path) -> None:
    """CI's smoke of `invoke bench`: a rep of two rows, with the target table,
    written to --out only: the committed report and its data stay as they are."""
    committed = {p: p.read_bytes() for p in bench_report.DATA.parent.glob("benchmark*")}
    committed |= {p: p.read_bytes() for p in bench_report.DATA.glob("*.json")}
    out = tmp_path / "bench.md"
    only = "^(Read whole|FileStat 1 path)"
    argv = ["--delay-ms", "0", "--repeat", "1", "--no-memory", "--no-spawn", "--only", only]
    assert bench.main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Targets (issues 13 and 15)" in text and "| every single call ≤ 10 ms |" in text
    rows = [
        line
        for line in text.splitlines()
        if line.startswith(("| Read |", "| FileStat |")) and "≤ 10 ms" in line
    ]
    assert len(rows) == 2
    assert all(("**met**" in r) != ("**missed**" in r) for r in rows), rows
    assert committed == {p: p.read_bytes() for p in committed}


@pytest.mark.slow  # spawns the server over stdio behind the delay proxy
def test_first_result_after_spawn_is_measured() -> None:
    figures = bench.first_result(5, repeat=1)
    assert 0 < figures["initialize_ms"] < figures["first_result_ms"]
    assert figures["handshake_ms"] > 0
    startup = {"conditions": bench_report.conditions(0.0, "test"), "first_result": figures}
    page = bench_report.render({"startup": startup})
    assert "## First tool result after spawn" in page and "| first result ≤ handshake" in page
