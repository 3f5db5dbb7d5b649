"""The Bash tool's per-call work on the remote, kept fork-light without
losing a byte: the last relay pass reads a small stream with `read` (no
process) and falls back to `tail` for NUL bytes or more than 64 KiB, and
each run's directory is made ahead by the previous run's clean-up (never
shown as a job, removed at a clean shutdown)."""

from __future__ import annotations

import shlex
import time

import pytest

from remote_mcp.bash_shell import BashShell
from remote_mcp.session import Session
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.bash_jobs import bash_output


@pytest.fixture
def shell(session: Session) -> BashShell:
    """A fresh Bash shell (its own token) on the shared session."""
    session.bash.close()
    session.bash = BashShell(session)
    return session.bash


def _out(shell: BashShell, command: str) -> tuple[bytes, bytes, int]:
    outcome = shell.run(command, timeout_s=30)
    return outcome.stdout.head, outcome.stderr.head, outcome.exit_code


@pytest.mark.parametrize(
    ("label", "producer"),
    [
        ("no final newline", "printf 'a\\nb'"),
        ("trailing newlines", "printf 'x\\n\\n\\n'"),
        ("bytes that are not UTF-8", "printf 'h\\377i\\303\\n\\r\\n'"),
        ("a NUL byte", "printf 'a\\000b\\n'"),
        ("backslashes and leading spaces", "printf '  \\\\n \\\\ \\n'"),
        ("exactly 64 KiB", "head -c 65536 /dev/zero | tr '\\0' x"),
        ("just over 64 KiB", "head -c 65537 /dev/zero | tr '\\0' y"),
    ],
)
def test_every_byte_of_both_streams_arrives(shell: BashShell, label: str, producer: str) -> None:
    expected = shell.session.run(producer).stdout.encode("utf-8", "surrogateescape")
    out, err, code = _out(shell, f"{producer}; {producer} >&2")
    assert (out, err, code) == (expected, expected, 0), label


def test_each_run_uses_the_directory_made_ahead(shell: BashShell, session: Session) -> None:
    assert _out(shell, "echo first")[0] == b"first\n"  # starts the shell
    base = shell.jobs_base
    spare = f"{base}/jobs/{shell.spare_run_id}"
    deadline = time.monotonic() + 10
    while session.run(f"test -d {shlex.quote(spare)}", warn=True).exited != 0:
        assert time.monotonic() < deadline, f"{spare} was never made"
        time.sleep(0.05)
    run_id = shell.spare_run_id
    # The command sees its own run directory: the one made ahead.
    out = _out(shell, 'echo "$__rmcp_rd"')[0]
    assert out.decode().endswith(f"/jobs/{run_id}\n")


def test_a_directory_made_ahead_is_no_job(
    shell: BashShell, session: Session, state: ToolState
) -> None:
    _out(shell, "echo one")
    spare = f"{shell.jobs_base}/jobs/{shell.spare_run_id}"
    deadline = time.monotonic() + 10
    while session.run(f"test -d {shlex.quote(spare)}", warn=True).exited != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listing = bash_output(session, "list", all_sessions=True, state=state).text
    assert shell.spare_run_id not in listing
    shell.close()  # a clean shutdown removes it
    assert session.run(f"test -e {shlex.quote(spare)}", warn=True).exited == 1
