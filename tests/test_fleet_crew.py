"""SessionGroup.map's worker threads: kept between calls (a 100-host call
would otherwise start 100 threads every time), yet each call keeps workers
of its own up to its cap, so a call whose hosts hang never holds up another."""

from __future__ import annotations

import threading

import pytest

from remote_mcp.config import HostConfig
from remote_mcp.fleet import SessionGroup
from remote_mcp.session import Session

pytestmark = pytest.mark.timeout(60)


def group(size: int, max_parallel: int = 8) -> SessionGroup:
    """Members that are never connected: map() only hands them to the work."""
    hosts = [HostConfig(name=f"h{i}", hostname="127.0.0.1", port=1) for i in range(size)]
    return SessionGroup(*hosts, max_parallel=max_parallel)


def test_a_second_call_runs_on_the_threads_of_the_first() -> None:
    members = group(4)
    all_started = threading.Barrier(4)  # one job per worker in the first call
    first: list[threading.Thread] = []
    second: list[threading.Thread] = []

    def on_first(session: Session) -> None:
        first.append(threading.current_thread())
        all_started.wait(10)

    members.map(on_first)
    members.map(lambda s: second.append(threading.current_thread()))
    assert len(set(first)) == 4
    assert set(second) <= set(first)  # the same Thread objects: none was started anew
    assert threading.main_thread() not in first


def test_results_and_failures_are_per_member() -> None:
    members = group(3)

    def work(session: Session) -> str:
        if session.host.name == "h1":
            raise ValueError("h1 is broken")
        return session.host.name.upper()

    result = members.map(work)
    assert [s.host.name for s in result] == ["h0", "h1", "h2"]
    assert [result[s] for s in members if s.host.name != "h1"] == ["H0", "H2"]
    assert isinstance(result[members.member("h1")], ValueError)


def test_a_hanging_call_does_not_hold_up_another() -> None:
    release = threading.Event()
    started = threading.Barrier(3 + 1)
    hanging = group(3, max_parallel=3)

    def hang(session: Session) -> None:
        started.wait(10)
        release.wait(30)

    caller = threading.Thread(target=hanging.map, args=(hang,), daemon=True)
    caller.start()
    try:
        started.wait(10)  # all three of its workers are busy now
        other = group(5, max_parallel=5)
        assert sorted(other.map(lambda s: s.host.name).values()) == ["h0", "h1", "h2", "h3", "h4"]
        assert caller.is_alive()  # the first call is still hanging meanwhile
    finally:
        release.set()
        caller.join(10)


def test_max_parallel_caps_the_threads_of_a_call() -> None:
    members = group(12, max_parallel=2)
    lock = threading.Lock()
    running, most = 0, 0

    def work(session: Session) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threading.Event().wait(0.005)  # overlap, if the cap let it
        with lock:
            running -= 1

    members.map(work)
    assert most <= 2
