"""How many processes a call starts on the remote. Starting one is most of a
small call's remote time (1-2 ms each on a small VM, more after an idle
pause), so the common calls have a budget: the frame's subshell plus the
programs that do the work, and no shell forked only to run one of them (a
`$(cmd 2>/dev/null)` forks twice in bash, `$(exec cmd 2>/dev/null)` once).

Counted with the kernel's last allocated pid, which every new process (and
thread) on the machine moves on; other activity can only add to a count, so
the fewest over several calls is the call's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from remote_mcp.tools import bash, bash_jobs, files, search

LAST_PID = Path("/proc/sys/kernel/ns_last_pid")

pytestmark = pytest.mark.skipif(
    not LAST_PID.exists(), reason="needs /proc/sys/kernel/ns_last_pid (Linux)"
)


def processes_started(call: Callable[[], Any], runs: int = 7) -> int:
    call()  # a first call may start things once (an engine, a cache)
    fewest = None
    for _ in range(runs):
        before = int(LAST_PID.read_text())
        call()
        started = int(LAST_PID.read_text()) - before
        fewest = started if fewest is None else min(fewest, started)
    assert fewest is not None
    return fewest


@pytest.fixture
def tree(remote, remote_dir) -> str:
    for i in range(3):
        remote.write_bytes(f"{remote_dir}/f{i}.txt", b"alpha\nbeta\n" * 20)
    return remote_dir


def test_file_stat_is_the_frame_and_one_stat(session, state, tree):
    paths = [f"{tree}/f{i}.txt" for i in range(3)] + [f"{tree}/missing"]
    assert processes_started(lambda: files.file_stat(session, paths, state=state)) == 2


def test_read_of_a_small_file_is_the_frame_stat_and_cat(session, state, tree):
    assert processes_started(lambda: files.read(session, f"{tree}/f0.txt", state=state)) == 3


def test_multi_read_of_small_files_is_the_frame_stat_and_head(session, state, tree):
    reads = [{"file_path": f"{tree}/f{i}.txt"} for i in range(3)]
    assert processes_started(lambda: files.multi_read(session, reads, state=state)) == 3


def test_write_and_edit_run_in_the_resident_engine(session, state, tree):
    target = f"{tree}/f0.txt"
    files.read(session, target, state=state)
    contents = iter([f"version {i}\n" for i in range(20)])
    # The frame's subshell, and the engine's child for the request.
    assert processes_started(lambda: files.write(session, target, next(contents), state=state)) == 2


def test_glob_with_find_is_find_sort_and_head(session, state, tree):
    if "gnu_find" not in state.remote_info(session).has:
        pytest.skip("the remote has no GNU find")
    call = lambda: search.glob(session, "*.txt", path=tree, state=state)  # noqa: E731
    assert processes_started(call) == 4


def test_bash_output_is_the_frame_and_one_ls(session, state):
    started = bash.bash(session, "sleep 30", run_in_background=True, state=state)
    assert started.structured
    job = started.structured["bash_id"]
    try:
        assert processes_started(lambda: bash_jobs.bash_output(session, job, state=state)) == 2
    finally:
        bash_jobs.kill_shell(session, job, state=state)


def test_grep_content_on_one_file_is_the_frame_rg_and_sed(session, state, tree):
    if "rg" not in state.remote_info(session).has:
        pytest.skip("the remote has no rg")
    call = lambda: search.grep(  # noqa: E731
        session, "beta", path=f"{tree}/f1.txt", output_mode="content", state=state
    )
    # In bash, rg runs straight from the pipeline (PIPESTATUS gives its status).
    assert processes_started(call) == 3


def test_grep_files_with_matches_is_the_frame_rg_and_one_stat(session, state, tree):
    if "rg" not in state.remote_info(session).has:
        pytest.skip("the remote has no rg")
    # One file: over a directory rg adds a thread per CPU, and threads count.
    call = lambda: search.grep(session, "beta", path=f"{tree}/f1.txt", state=state)  # noqa: E731
    assert "Found 1 file" in call().text
    # bash >= 4.4 takes rg's list itself and stats it in one go: no xargs.
    assert processes_started(call) == 3


def test_a_bash_shell_start_does_not_grow_with_earlier_sessions(host_config, remote) -> None:
    """Every session leaves its state directory for a day; the next start
    checks them all with one find, not a find per directory."""
    from remote_mcp.session import Session
    from remote_mcp.tools.base import ToolState

    def start() -> tuple[int, str]:
        session = Session(host_config)
        try:
            session.connect()
            before = int(LAST_PID.read_text())
            bash.bash(session, "true", state=ToolState(host_name="test", info=session.info))
            started = int(LAST_PID.read_text()) - before
            assert session.bash is not None
            return started, session.bash.directory
        finally:
            session.close()

    # The pid counter is the machine's: whatever else runs only adds, so the
    # fewest of several starts, taken in turns with and without, is the cost.
    alone, directory = start()
    shells = directory.rsplit("/", 1)[0]
    stale = " ".join(f"{shells}/stale{i}" for i in range(30))
    with_stale = 1 << 30
    try:
        for _ in range(4):
            remote.sh(f"for d in {stale}; do mkdir -p $d && echo 2147483000 > $d/pid; done")
            with_stale = min(with_stale, start()[0])
            remote.sh(f"rm -rf {stale}")
            alone = min(alone, start()[0])
    finally:
        remote.sh(f"rm -rf {stale}")
    assert with_stale - alone < 10, (alone, with_stale)
