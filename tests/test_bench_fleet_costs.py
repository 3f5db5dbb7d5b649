"""The fleet benchmark's cost meters against a real sshd: CPU spent under the
sshd is counted as the remote hosts', the proxy process's threads as the
proxies', and the floor's plain channels answer."""

from __future__ import annotations

import os
import threading
import time

import pytest

from remote_mcp.bench_fleet_costs import CpuMeter, Floor
from remote_mcp.fleet import SessionGroup
from remote_mcp.session import Session
from remote_mcp.testing import SshdServer

pytestmark = pytest.mark.timeout(120)

BUSY_LOOP = "i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done"


def test_remote_cpu_is_what_ran_under_the_sshd(sshd: SshdServer, session: Session) -> None:
    meter = CpuMeter(None, {sshd.process.pid})
    meter.start()
    session.run(BUSY_LOOP, hide=True)
    spent = meter.spent()
    assert spent.remote >= 100, spent  # the loop's CPU, whatever the machine's speed
    assert spent.client < spent.remote, spent  # this process only waited


def test_proxy_cpu_counts_every_thread_of_the_proxy_process() -> None:
    meter = CpuMeter(os.getpid(), set())

    def spin() -> None:
        end = time.thread_time() + 0.2
        while time.thread_time() < end:
            pass

    meter.start()
    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    spent = meter.spent()
    assert spent.proxy >= 150, spent  # a thread's work, not the main thread's
    assert spent.remote == 0


def test_the_floor_runs_hostname_on_every_member(session: Session) -> None:
    floor = Floor(SessionGroup.from_connections([session]))
    try:
        wall_ms, cpu_ms, answered = floor.call(timeout_s=30)
    finally:
        floor.close()
    assert answered == 1
    assert wall_ms > 0 and cpu_ms >= 0
