"""Regression tests for Bash defects found by review (issues 9 and 12), each
failing on the code before its fix: a command's own EXIT trap, BashOutput
blocking longer than op_timeout_s and starving the worker pool, a
pathological filter regex, non-finite timeouts, and the process-group kill
under dash.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
import uuid

import pytest
from pydantic import ValidationError

from remote_mcp.errors import ToolError
from remote_mcp.schemas import BashArgs, BashOutputArgs, format_validation_error
from remote_mcp.session import Session
from remote_mcp.templates import render
from remote_mcp.testing import SshdServer
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.bash import bash
from remote_mcp.tools.bash_jobs import bash_output, kill_shell
from remote_mcp.tools.files import file_stat
from tests.conftest import make_host, require_program


def test_a_commands_own_exit_trap_keeps_its_cd_and_exports(
    session: Session, state: ToolState, remote_dir: str, remote
) -> None:
    """9.11: `trap ... EXIT` in the command used to replace the wrapper's
    state-saving trap, so the cd and export were lost."""
    flag = f"{remote_dir}/trap-ran"
    command = (
        f'cd {shlex.quote(remote_dir)}; tmp=$(mktemp); echo "$tmp" > tmp-name;'
        f" trap 'rm -f \"$tmp\"; touch {shlex.quote(flag)}' EXIT; export AFTER_TRAP=kept; cd /tmp"
    )
    bash(session, command, state=state)
    assert bash(session, "pwd; echo $AFTER_TRAP", state=state).text == "/tmp\nkept"
    assert remote.exists(flag)  # the command's own trap still ran
    tmp = remote.sh(f"cat {shlex.quote(remote_dir)}/tmp-name").strip()
    assert tmp and not remote.exists(tmp)
    assert state.cwd == "/tmp"


def test_a_trap_and_an_explicit_exit_still_run_the_trap(
    session: Session, state: ToolState, remote_dir: str, remote
) -> None:
    flag = f"{remote_dir}/trap-ran"
    with pytest.raises(ToolError) as info:
        bash(session, f"trap 'touch {shlex.quote(flag)}' EXIT; exit 3", state=state)
    assert str(info.value) == "Exit code 3"
    assert remote.exists(flag)


def test_block_longer_than_op_timeout_waits_on_its_own_channel(sshd: SshdServer) -> None:
    """9.5: a blocking BashOutput longer than op_timeout_s failed with "the
    link may be down", and blocking calls held the worker pool."""
    s = Session(make_host(sshd, op_timeout_s=2.0, workers=1))
    try:
        s.connect()
        st = ToolState(host_name="test", info=s.info)
        job = bash(s, "sleep 30", state=st, run_in_background=True).structured["bash_id"]
        results: list[object] = []

        def wait() -> None:
            try:
                results.append(bash_output(s, job, block=True, timeout=4000, state=st))
            except ToolError as exc:
                results.append(exc)

        waiter = threading.Thread(target=wait)
        started = time.monotonic()
        waiter.start()
        time.sleep(0.5)  # let the blocking read start first
        stat = file_stat(s, ["/"], state=st)  # the only worker must be free
        assert "/" in stat.text
        assert waiter.is_alive()  # answered while the block still waits
        waiter.join(30)
        elapsed = time.monotonic() - started
        assert len(results) == 1 and not isinstance(results[0], ToolError), results
        assert results[0].structured["status"] == "running"  # type: ignore[attr-defined]
        assert not waiter.is_alive()
        assert elapsed > 3.5  # it did wait for its own timeout (4 s), not op_timeout_s
        kill_shell(s, job, state=st)
    finally:
        s.close()


def test_a_pathological_filter_is_bounded(session: Session, state: ToolState) -> None:
    """9.8: `(a+)+$` against a long line of a's froze the whole server."""
    job = bash(
        session,
        "printf 'a%.0s' $(seq 1 40); echo b; echo fine",
        state=state,
        run_in_background=True,
    ).structured["bash_id"]
    bash_output(session, job, block=True, timeout=10000, filter="^fine$", state=state)
    job = bash(
        session, "printf 'a%.0s' $(seq 1 40); echo b", state=state, run_in_background=True
    ).structured["bash_id"]
    result: list[object] = []

    def read() -> None:
        try:
            result.append(
                bash_output(session, job, block=True, timeout=10000, filter="(a+)+$", state=state)
            )
        except ToolError as exc:
            result.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)
    assert not reader.is_alive(), "the filter is still running"
    assert isinstance(result[0], ToolError)
    assert str(result[0]).startswith('The filter "(a+)+$" took too long')


def test_filter_still_matches_case_insensitively(session: Session, state: ToolState) -> None:
    job = bash(
        session, "printf 'keep 1\\ndrop\\nKEEP 2\\n'", state=state, run_in_background=True
    ).structured["bash_id"]
    out = bash_output(session, job, filter="keep", block=True, timeout=10000, state=state)
    assert out.structured["stdout"] == "keep 1\nKEEP 2"


@pytest.mark.parametrize("model", [BashArgs, BashOutputArgs])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_timeouts_are_refused(model: type, value: float) -> None:
    args = {"command": "true"} if model is BashArgs else {"bash_id": "bash_1"}
    with pytest.raises(ValidationError) as info:
        model.model_validate({**args, "timeout": value})
    message = format_validation_error(model.__name__.removesuffix("Args"), info.value)
    assert "timeout" in message and "finite" in message


def test_group_kill_works_under_dash() -> None:
    """12: `kill -TERM -- -PGID` is rejected by dash; the kill-tree functions
    must signal a process group in every POSIX shell."""
    dash = require_program("dash")
    marker = f"91{uuid.uuid4().int % 10**6}"
    victim = subprocess.Popen(
        ["sleep", f"1{marker}"], start_new_session=True, stdin=subprocess.DEVNULL
    )
    try:
        script = (
            render("_bash_job_files.sh.j2")
            + render("_bash_kill_tree.sh.j2")
            + f'rmcp_list="g {victim.pid}"\nrmcp_signal TERM\n'
        )
        proc = subprocess.run([dash, "-c", script], capture_output=True, timeout=30, check=False)
        assert proc.stderr == b""
        assert victim.wait(timeout=10) == -15
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
