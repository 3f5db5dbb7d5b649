"""The benchmark's own instruments, one repetition each (the full
``invoke bench`` is not run in the test suite)."""

from __future__ import annotations

import math

import pytest

from remote_mcp import bench
from remote_mcp.session import Session


def test_phase_timer_attributes_a_command_to_write_wait_and_remote(session: Session) -> None:
    row = bench._measure(session, 0.0, "probe", "sleep 0.2", lambda: session.run("sleep 0.2"), 1)
    phases = row.phases
    assert phases is not None and set(phases) == set(bench.PHASES)
    assert row.commands == 1
    # The remote wall time comes from the frame (bash worker): at least the sleep,
    # and never more than the wait that contains it.
    assert not math.isnan(phases["remote"])
    assert 200 <= phases["remote"] <= phases["wait"]
    assert min(phases.values()) >= 0
    assert sum(phases[k] for k in ("before", "write", "wait", "after")) <= row.median_ms + 1


@pytest.mark.slow  # spawns the server several times: seconds, not milliseconds
def test_cold_start_answers_initialize_and_measures_the_sdk_floor() -> None:
    figures = bench.cold_start(repeat=1)
    assert figures["initialize_ms"] > 0 and figures["import_mcp_ms"] > 0
    assert "Cold start" in bench.cold_start_report(figures)
