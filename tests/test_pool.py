"""The adaptive worker pool (remote_mcp/shell/pool.py) against the real sshd:
it grows while calls queue, up to its size, and shrinks back when idle."""

from __future__ import annotations

import shlex
import threading
import time
from pathlib import Path

import pytest

from remote_mcp.session import Session
from remote_mcp.shell import ChannelPool
from remote_mcp.testing import remote_exec, start_sshd
from tests.conftest import TEST_HOME, make_host


def barrier_command(directory: str, count: int, polls: int = 600) -> str:
    """Wait (bounded: ``polls`` x 50 ms) until ``count`` commands run at once; say
    whether they did. Each leaves the barrier when done."""
    barrier = shlex.quote(directory)
    return (
        f"mkdir -p {barrier}; me=$(mktemp {barrier}/XXXXXX); i=0; "
        f'while [ "$(ls {barrier} | wc -l)" -lt {count} ] && [ $i -lt {polls} ]; do '
        "sleep 0.05; i=$((i + 1)); done; "
        f'[ "$(ls {barrier} | wc -l)" -ge {count} ] && echo together || echo alone; '
        'sleep 0.5; rm -f "$me"'
    )


def run_at_once(pool: ChannelPool, command: str, count: int) -> list[str]:
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(pool.run(command).stdout))
        for _ in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def wait_until(check, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_the_pool_grows_while_calls_queue_then_shrinks_when_idle(
    session: Session, remote_dir: str
) -> None:
    """Two shells at the start; five calls that each wait until all five run can
    only say "together" if the pool opened three more for them."""
    pool = ChannelPool(session.conn, size=5, start=2, idle_s=0.5)
    most = [0]
    running = threading.Event()

    def sample() -> None:  # the most shells the pool had, for the failure message
        while not running.wait(0.05):
            most[0] = max(most[0], pool.open_count)

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        pool.warm()
        assert pool.open_count == 2
        # Bounded at 120 s: a loaded CI machine once took over 30 s to get all five going.
        command = barrier_command(f"{remote_dir}/barrier", 5, polls=2400)
        started = time.monotonic()
        sampler.start()
        results = run_at_once(pool, command, 5)
        running.set()
        took = time.monotonic() - started
        assert results == ["together\n"] * 5, (
            f"after {took:.1f} s: open {pool.open_count} (at most {most[0]}), "
            f"refusal {pool.refusal!r}"
        )
        assert pool.open_count == 5
        assert wait_until(lambda: pool.open_count == 2)
        assert pool.run("echo still").stdout == "still\n"
    finally:
        running.set()
        pool.close()


def test_the_pool_never_grows_beyond_its_size(session: Session, remote_dir: str) -> None:
    """Four calls on a pool of at most two: never more than two run at a time."""
    pool = ChannelPool(session.conn, size=2, start=1)
    try:
        pool.warm()
        command = barrier_command(f"{remote_dir}/barrier", 3, polls=10)
        assert run_at_once(pool, command, 4) == ["alone\n"] * 4
        assert pool.open_count == 2
    finally:
        pool.close()


def test_a_server_that_refuses_more_channels_caps_the_pool_and_every_call_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """sshd's MaxSessions 3: the pool stops growing at the third shell, says
    why, and the calls beyond it wait for a shell instead of failing."""
    server = start_sshd(tmp_path_factory.mktemp("max-sessions"), extra_config="MaxSessions 3")
    try:
        with open(Path(TEST_HOME) / ".ssh" / "known_hosts", "a") as f:
            f.write(server.known_hosts_line + "\n")
        session = Session(make_host(server, key_path=str(server.client_key)))
        pool = ChannelPool(session.conn, size=6, start=1)
        try:
            pool.warm()
            barrier = tmp_path_factory.mktemp("barrier") / "b"
            command = barrier_command(str(barrier), 4, polls=100)  # each holds its shell 5 s
            results: list[str] = []
            calls = [
                threading.Thread(target=lambda: results.append(pool.run(command).stdout))
                for _ in range(4)
            ]
            for call in calls[:3]:
                call.start()

            def busy() -> int:
                rc, out, _ = remote_exec(server, f"ls {shlex.quote(str(barrier))} | wc -l")
                return int(out) if rc == 0 else 0

            # The fourth asks for a shell only once three are busy: it cannot
            # pick up one that a slow thread start left idle for a moment.
            assert wait_until(lambda: busy() == 3, 30)
            calls[3].start()
            for call in calls:
                call.join()
            assert results == ["alone\n"] * 4
            assert pool.open_count == 3
            assert pool.refusal is not None and "cannot open a channel" in pool.refusal
            assert pool.run("echo still").stdout == "still\n"
        finally:
            pool.close()
            session.close()
    finally:
        server.stop()
