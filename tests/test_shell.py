"""The persistent shell channels: framing, invoke semantics, pool parallelism."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time

import pytest
from invoke.exceptions import CommandTimedOut, UnexpectedExit
from invoke.runners import Result

from remote_mcp.session import Session
from remote_mcp.shell import ChannelPool, ShellChannel
from remote_mcp.templates import render
from tests.conftest import require_program


@pytest.fixture
def shell(session: Session):
    channel = ShellChannel(session.conn, subshell=True)
    yield channel
    channel.close()


def test_result_is_an_invoke_result_with_separate_streams(shell: ShellChannel) -> None:
    result = shell.run("printf out; printf err >&2; exit 3", warn=True)
    assert isinstance(result, Result)
    assert (result.stdout, result.stderr, result.exited) == ("out", "err", 3)
    assert result.failed and not result.ok


def test_non_zero_exit_raises_unexpected_exit_unless_warn(shell: ShellChannel) -> None:
    with pytest.raises(UnexpectedExit) as err:
        shell.run("false")
    assert err.value.result.exited == 1
    assert shell.run("echo still alive").stdout == "still alive\n"


def test_syntax_error_or_unbalanced_quote_does_not_desync(shell: ShellChannel) -> None:
    assert shell.run("echo 'unbalanced", warn=True).exited == 2
    assert shell.run("if then fi", warn=True).exited == 2
    assert shell.run("echo fine").stdout == "fine\n"


def test_stdin_is_dev_null(shell: ShellChannel) -> None:
    started = time.monotonic()
    assert shell.run("cat; read x; echo done").stdout == "done\n"
    assert time.monotonic() - started < 5


def test_output_that_looks_like_a_sentinel_cannot_end_the_frame(shell: ShellChannel) -> None:
    # Every marker shape the frame uses, with another command's token: the
    # patterns are shared by all commands, only this command's token counts.
    token = "__RMCP_0123456789abcdef01234567"
    fake = f"\\n{token} 0 1.0 2.0\\n"
    fake_err = f"{token}\\n{token}_pid 1\\n"
    result = shell.run(f"printf '{fake}'; printf '{fake_err}' >&2; sleep 0.2; echo end")
    assert result.stdout == f"\n{token} 0 1.0 2.0\nend\n"
    assert result.stderr == f"{token}\n{token}_pid 1\n"
    assert result.exited == 0


def test_binary_output_round_trips(shell: ShellChannel) -> None:
    result = shell.run("printf '\\377\\000\\001abc'")
    assert result.stdout.encode("utf-8", "surrogateescape") == b"\xff\x00\x01abc"


def test_large_streams_on_both_sides_do_not_stall(shell: ShellChannel) -> None:
    # 3 MB to stderr and stdout: unread stderr would block the shared window.
    result = shell.run("head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero")
    assert len(result.stdout) == 3_000_000 and len(result.stderr) == 3_000_000


def test_capture_limit_bounds_memory_and_counts_the_rest(session: Session) -> None:
    channel = ShellChannel(session.conn, capture_limit=1000)
    try:
        result = channel.run("seq 1 100000")
        assert len(result.stdout) == 1000
        assert result.dropped_lines + result.stdout.count("\n") == 100000
        assert channel.run("echo next").stdout == "next\n"
    finally:
        channel.close()


def test_timeout_without_handler_discards_the_shell(shell: ShellChannel) -> None:
    with pytest.raises(CommandTimedOut):
        shell.run("sleep 5", timeout=0.5)
    assert shell.run("echo restarted").stdout == "restarted\n"


def test_exit_in_a_worker_command_does_not_kill_the_shell(shell: ShellChannel) -> None:
    shell.run("true")
    generation = shell.generation
    assert shell.run("exit 7", warn=True).exited == 7
    assert shell.run("echo same").stdout == "same\n"
    assert shell.generation == generation


def test_pool_runs_calls_in_parallel(session: Session, remote_dir: str) -> None:
    """Three commands that each wait (bounded) until all three have started:
    they can only all finish with "together" if they ran at the same time."""
    pool = ChannelPool(session.conn, size=3)
    try:
        pool.warm()
        before = session.stats.snapshot()[0]
        results: list[str] = []
        barrier = shlex.quote(f"{remote_dir}/barrier")
        command = (
            f"mkdir -p {barrier}; mktemp {barrier}/XXXXXX >/dev/null; i=0; "
            f'while [ "$(ls {barrier} | wc -l)" -lt 3 ] && [ $i -lt 200 ]; do '
            "sleep 0.05; i=$((i + 1)); done; "
            f'[ "$(ls {barrier} | wc -l)" -ge 3 ] && echo together || echo alone'
        )
        threads = [
            threading.Thread(target=lambda: results.append(pool.run(command).stdout))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["together\n"] * 3
        assert session.stats.snapshot()[0] - before == 3
    finally:
        pool.close()


def test_one_round_trip_per_command_on_an_open_channel(shell: ShellChannel) -> None:
    shell.run("true")
    before = shell.conn.stats.snapshot()
    shell.run("echo hi")
    commands, sent, received = (
        a - b for a, b in zip(shell.conn.stats.snapshot(), before, strict=True)
    )
    assert commands == 1
    assert sent < 600 and received < 400, (sent, received)


def test_after_its_first_command_a_bash_shell_takes_commands_as_raw_bytes(
    shell: ShellChannel,
) -> None:
    """The first frame checks `read -N`; later ones send the command as bytes
    that it reads in one go (_frame.sh.j2). Quotes, substitutions, UTF-8,
    bytes that are not UTF-8, newlines and a big command arrive intact and
    run as the command, never as the frame."""
    assert shell.run("echo one").stdout == "one\n"
    assert shell.bulk is True  # the test sshd's worker shells are bash
    hostile = "é \udcff $(echo no) `echo no` 'q' \"d\" \\ \n line2 ;exit 9"
    assert shell.run(f"printf '%s' {shlex.quote(hostile)}").stdout == hostile
    big = "é'x\n" * 50_000
    assert shell.run(f"printf '%s' {shlex.quote(big)}").stdout == big
    assert shell.run("exit 4", warn=True).exited == 4
    assert shell.run("echo 'unbalanced", warn=True).exited == 2
    assert shell.run("echo still alive").stdout == "still alive\n"


@pytest.mark.parametrize(
    ("program", "works"),
    [(["bash", "-s"], True), (["dash", "-s"], False), (["busybox", "sh", "-s"], False)],
    ids=["bash", "dash", "busybox"],
)
@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_the_raw_bytes_check_passes_only_where_read_takes_exact_bytes(
    program: list[str], works: bool, locale: str
) -> None:
    """Where `read -N` is missing or counts characters the command's bytes
    would be parsed as shell: those shells answer 0 and never get them."""
    require_program(program[0])
    frame = render(
        "_frame.sh.j2",
        command="echo hi",
        sentinel="S_1",
        pidmark="S_1_pid",
        subshell=True,
        check_bulk=True,
    )
    env = {"PATH": os.environ["PATH"], "LANG": locale, "LC_ALL": locale}
    run = subprocess.run(program, input=frame.encode(), capture_output=True, env=env, timeout=30)
    assert run.stdout.splitlines()[-1].split(b" ")[-1] == (b"1" if works else b"0"), run
