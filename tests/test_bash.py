"""Bash, BashOutput and KillShell against the real sshd (routine level).

Pinned here: state that persists like an interactive session (cwd, exported
and plain variables, unset, functions, aliases, sourced files, set -o),
nothing waiting on stdin or a pager, timeouts and cancellation that kill the
whole command and leave the shell alive, Claude Code's output text (merge,
exit-code semantics, truncation, failure format, timeout message), binary
output, progress, the sh fallback, reconnects, and background jobs that are
read incrementally, killed without orphans and found from a new session.
Remote processes are checked with `ps` over the independent `remote` channel.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp import bash_foreground, bash_shell
from remote_mcp.bash_shell import BashShell
from remote_mcp.config import HostConfig
from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.shell import ShellChannel
from remote_mcp.testing import SshdServer, remote_exec, start_sshd, wait_until
from remote_mcp.tools import bash as bash_mod
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.bash import bash, format_duration
from remote_mcp.tools.bash_jobs import bash_output, kill_shell
from tests.conftest import TEST_HOME, make_host, require_isolation

# -- helpers -------------------------------------------------------------------------


def run(session: Session, state: ToolState, command: str, **kw: object) -> str:
    return bash(session, command, state=state, **kw).text  # type: ignore[arg-type]


def failure(session: Session, state: ToolState, command: str, **kw: object) -> str:
    with pytest.raises(ToolError) as info:
        bash(session, command, state=state, **kw)  # type: ignore[arg-type]
    return str(info.value)


def processes(remote, marker: str) -> list[str]:  # conftest RemoteHelper
    """Remote processes whose command line contains ``marker`` (not the ps itself)."""
    out = remote.sh("ps -A -o pid= -o stat= -o args=")
    return [
        line
        for line in out.splitlines()
        if marker in line and "ps -A" not in line and line.split()[1][0] not in "ZX"
    ]


def wait_gone(remote, marker: str, seconds: float = 5) -> list[str]:
    deadline = time.monotonic() + seconds
    left = processes(remote, marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes(remote, marker)
    return left


def cc_truncate(text: str, limit: int = 30000) -> str:
    """Claude Code's formatOutput, written independently for the tests."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n\n... [{len(text[limit:].split(chr(10)))} lines truncated] ..."


def cc_success(stdout: str, stderr: str = "") -> str:
    """What Claude Code shows for a non-error exit: stdout then stderr, merged."""
    import re

    merged = cc_truncate(stdout.rstrip() + "\n" + stderr.rstrip() + "\n")
    return re.sub(r"^(\s*\n)+", "", merged).rstrip()


@pytest.fixture
def sh_state(session: Session, remote_dir: str) -> ToolState:
    """Fresh state and a fresh Bash shell (new token: no variables, functions
    or ``set -e`` of earlier tests), started in a fresh directory."""
    assert session.info is not None
    session.bash.close()
    session.bash = BashShell(session)
    st = ToolState(host_name="test", info=session.info, cwd=session.info.home)
    bash(session, f"cd {shlex.quote(remote_dir)}", state=st)
    return st


# -- basics and round trips -----------------------------------------------------------


def test_echo_is_one_remote_command_and_fast(session: Session, sh_state: ToolState) -> None:
    assert run(session, sh_state, "echo hi") == "hi"
    before = session.stats.snapshot()
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        assert run(session, sh_state, "echo hi") == "hi"
    elapsed = (time.perf_counter() - started) / rounds
    after = session.stats.snapshot()
    assert after[0] - before[0] == rounds  # ONE remote command per call
    sent = (after[1] - before[1]) / rounds
    print(
        f"\nBash 'echo hi' on an open session: {elapsed * 1000:.2f} ms, "
        f"{sent:.0f} bytes sent per call (localhost)"
    )


def test_first_call_of_a_session_initialises_once(host_config: HostConfig) -> None:
    s = Session(host_config)
    try:
        s.connect()
        st = ToolState(host_name="test", info=s.info)
        before = s.stats.snapshot()[0]
        assert run(s, st, "echo one") == "one"
        assert s.stats.snapshot()[0] - before == 2  # init + command
        assert run(s, st, "echo two; pwd") == f"two\n{s.info.home}"  # no cwd configured: HOME
        assert s.stats.snapshot()[0] - before == 3
    finally:
        s.close()


def test_cd_persists_and_updates_state_cwd(session: Session, sh_state: ToolState) -> None:
    run(session, sh_state, "cd /tmp")
    assert sh_state.cwd == "/tmp"
    assert run(session, sh_state, "pwd") == "/tmp"
    run(session, sh_state, "cd -")
    assert sh_state.cwd != "/tmp"


def test_variables_functions_aliases_and_options_persist(
    session: Session, sh_state: ToolState
) -> None:
    run(session, sh_state, "export X=1; PLAIN='two words'; arr=(a b c)")
    assert run(session, sh_state, 'echo "$X $PLAIN ${arr[2]}"') == "1 two words c"
    assert run(session, sh_state, "sh -c 'echo ${X:-unset} ${PLAIN:-unexported}'") == (
        "1 unexported"
    )
    run(session, sh_state, 'greet() { echo "hello $1"; }')
    assert run(session, sh_state, "greet world") == "hello world"
    run(session, sh_state, "alias ll='echo aliased'")
    assert run(session, sh_state, "ll") == "aliased"
    run(session, sh_state, "set -o pipefail")
    assert run(session, sh_state, "false | true; echo $?") == "1"
    run(session, sh_state, "set +o pipefail")
    assert run(session, sh_state, "false | true; echo $?") == "0"


def test_unset_propagates_even_for_inherited_variables(
    session: Session, sh_state: ToolState
) -> None:
    assert run(session, sh_state, "echo ${LOGNAME:+set}") == "set"
    run(session, sh_state, "export KEEP=1 GONE=1; unset GONE; unset LOGNAME; unset -f greet")
    assert run(session, sh_state, "echo ${KEEP:-x}${GONE:-x}${LOGNAME:-x}") == "1xx"
    run(session, sh_state, "export LOGNAME=root")


def test_sourced_file_state_persists(
    session: Session, sh_state: ToolState, remote, remote_dir: str
) -> None:
    remote.write_bytes(
        f"{remote_dir}/env.sh",
        b"export FROM_FILE=yes\nhelper() { echo helped; }\nalias hh=helper\n",
    )
    run(session, sh_state, "source env.sh")
    assert run(session, sh_state, "echo $FROM_FILE; helper; hh") == "yes\nhelped\nhelped"


def test_user_options_never_break_the_shell(session: Session, sh_state: ToolState) -> None:
    run(session, sh_state, "set -eu; set -o noclobber; set -x")
    assert "Exit code 1" in failure(session, sh_state, "false")
    text = run(session, sh_state, "echo still")
    assert text.startswith("still") and "+ echo still" in text  # xtrace persisted
    run(session, sh_state, "set +eux +o noclobber")
    assert run(session, sh_state, "echo clean") == "clean"


def test_hostile_functions_cannot_hijack_the_framing(session: Session, sh_state: ToolState) -> None:
    run(session, sh_state, "printf() { :; }; eval() { :; }; trap() { :; }; mv() { :; }")
    run(session, sh_state, "cd /tmp")
    assert run(session, sh_state, "builtin printf 'ok %s' \"$PWD\"") == "ok /tmp"
    run(session, sh_state, "unset -f printf eval trap mv")


def test_a_printed_run_trailer_cannot_end_the_command(
    session: Session, sh_state: ToolState
) -> None:
    # The trailer's shape with another run's mark, on stderr where the real
    # one goes: the output keeps it, the real trailer still gives code and cwd.
    fake = "\\nRMCP0123456789abcdef0123 7 /nowhere RMCP0123456789abcdef0123\\n"
    out = failure(session, sh_state, f"printf '{fake}' >&2; cd /tmp; exit 4")
    assert out.startswith("Exit code 4"), out
    assert "RMCP0123456789abcdef0123 7 /nowhere" in out
    assert run(session, sh_state, "pwd") == "/tmp"


def test_the_wake_fifo_is_not_open_in_the_command(session: Session, sh_state: ToolState) -> None:
    # The shell waits for a run on a FIFO it holds open; a command (and what
    # it starts) must not inherit it: writing to it would end a later wait.
    fds = run(session, sh_state, 'ls -l /proc/$BASHPID/fd/ | sed "s/.* -> //"')
    assert fds and not [line for line in fds.splitlines() if line.endswith("/wake")], fds
    # A run that replaced the EXIT trap and exits from inside still answers.
    assert failure(session, sh_state, "trap 'echo bye' EXIT; exit 5").startswith("Exit code 5")


def test_a_collected_run_leaves_its_directory_to_the_next_run(
    session: Session, sh_state: ToolState, remote
) -> None:
    # No rm and mkdir per call: the directory is emptied with builtins and the
    # next run takes it; an emptied directory is no job in any listing.
    run(session, sh_state, "echo one")
    reused = session.bash.spare_run_id
    where = shlex.quote(f"{session.bash.jobs_base}/jobs/{reused}")
    remote.sh(f"touch {where}/kept")  # gone if the directory were made anew
    assert run(session, sh_state, "echo two") == "two"
    assert session.bash.spare_run_id == reused
    assert remote.sh(f"cat {where}/output {where}/owner {where}/exit; echo end") == "end\n"
    assert remote.exists(f"{session.bash.jobs_base}/jobs/{reused}/kept")
    assert all(job.bash_id != reused for job in session.bash.list_jobs(all_sessions=True).jobs)


@pytest.mark.parametrize(
    "leave_behind",
    [
        "(sleep 1; echo stray-line) &",
        "setsid sh -c 'sleep 1; echo stray-line' &",
        "nohup sh -c 'sleep 1; echo stray-line' 2>/dev/null &",
        "sh -c 'sleep 1; echo stray-line' & disown",
        "setsid sh -c 'sleep 1; echo stray-line' & exit 0",
    ],
    ids=["same-group", "setsid", "nohup", "disown", "setsid-then-exit"],
)
def test_a_process_a_command_left_behind_never_writes_into_a_later_call(
    session: Session, sh_state: ToolState, leave_behind: str
) -> None:
    # Its stdout is the run's output file: that run's directory is made anew
    # for the next run instead of emptied, so the stray writes to the old one.
    # A stray in its own session is found as the run's child when it ends.
    run(session, sh_state, leave_behind)
    assert run(session, sh_state, "sleep 2; echo later") == "later"
    assert run(session, sh_state, "echo again") == "again"


def test_exit_ends_only_the_command(session: Session, sh_state: ToolState) -> None:
    run(session, sh_state, "export BEFORE_EXIT=1")
    assert failure(session, sh_state, "cd /tmp; export AFTER=2; exit 3") == "Exit code 3"
    assert run(session, sh_state, "echo $BEFORE_EXIT$AFTER; pwd") == "12\n/tmp"


def test_hostile_command_text_is_data(session: Session, sh_state: ToolState, remote) -> None:
    canary = f"/tmp/rmcp-bash-canary-{uuid.uuid4().hex}"
    text = run(session, sh_state, f"echo 'it'\"'\"'s $(touch {canary})'")
    assert text == f"it's $(touch {canary})"
    assert not remote.exists(canary)
    # an unbalanced quote is a syntax error of the command, not of the framing
    assert "Exit code 2" in failure(session, sh_state, "echo 'unbalanced")
    assert run(session, sh_state, "echo fine") == "fine"


HOSTILE_DIR = 'it\'s $(touch {canary}) `touch {canary}`\n-x "q" * é \udcff'


@pytest.mark.parametrize("flavour", ["bash", "sh"])
def test_hostile_directory_names_round_trip(
    flavour: str, session: Session, host_config: HostConfig, remote, remote_dir: str
) -> None:
    """cd into a name with quotes, $(), backticks, a newline, a leading dash
    and a non-UTF-8 byte: the cwd comes back exact and nothing executes."""
    canary = f"/tmp/rmcp-bash-canary-{uuid.uuid4().hex}"
    path = f"{remote_dir}/{HOSTILE_DIR.format(canary=canary)}"
    remote.sh(f"mkdir -p -- {shlex.quote(path)}")
    s = session if flavour == "bash" else _sh_session(host_config)
    try:
        st = ToolState(host_name="test", info=s.info)
        run(s, st, f"cd -- {shlex.quote(path)}")
        assert st.cwd == path
        assert run(s, st, "pwd") == path
        assert run(s, st, "echo again; pwd") == f"again\n{path}"  # the shell itself cd'd there
        assert not remote.exists(canary)
    finally:
        if s is not session:
            s.close()
        else:
            run(s, st, "cd /")


# -- nothing hangs ------------------------------------------------------------------------


def test_stdin_is_dev_null_and_pagers_are_off(session: Session, sh_state: ToolState) -> None:
    started = time.monotonic()
    assert run(session, sh_state, "cat; read x; echo read=$?") == "read=1"
    assert run(session, sh_state, "python3; echo py=$?") == "py=0"
    assert time.monotonic() - started < 5
    text = run(
        session,
        sh_state,
        'echo "$PAGER $GIT_PAGER $MANPAGER $TERM $GIT_EDITOR $EDITOR '
        '$VISUAL $GIT_TERMINAL_PROMPT $DEBIAN_FRONTEND"',
    )
    assert text == "cat cat cat dumb true true true 0 noninteractive"


def test_timeout_stops_the_command_and_keeps_the_shell(
    session: Session, sh_state: ToolState, remote_dir: str
) -> None:
    """UNCONFIRMED in CC how the timeout note joins stderr (assembled from
    code, not seen live); chosen: the note, then stderr on the next line."""
    started = time.monotonic()
    text = failure(session, sh_state, "echo partial; sleep 5", timeout=1000)
    assert time.monotonic() - started < 3
    # CC's timeout text; bash's own "Terminated" notice for the kill is dropped
    assert text == "Exit code 143\nCommand timed out after 1s\npartial"
    started = time.monotonic()
    assert run(session, sh_state, "pwd") == remote_dir
    assert time.monotonic() - started < 1


def test_timeout_stops_a_loop_in_the_command_itself(
    session: Session, sh_state: ToolState, remote
) -> None:
    marker = f"97{uuid.uuid4().int % 10**6}"
    text = failure(session, sh_state, f"while true; do sleep 1.{marker}; done", timeout=1500)
    assert text.startswith("Exit code 143\nCommand timed out after 1s")
    assert wait_gone(remote, f"sleep 1.{marker}") == []
    assert run(session, sh_state, "echo alive") == "alive"


def test_timeout_kills_children_and_grandchildren(
    session: Session, sh_state: ToolState, remote
) -> None:
    marker = f"98{uuid.uuid4().int % 10**6}"
    command = f"sh -c 'sleep 1{marker} & sleep 2{marker} & wait' & sleep 3{marker}; wait"
    failure(session, sh_state, command, timeout=1000)
    assert wait_gone(remote, marker) == []


def test_timeout_keeps_the_state_changes_made_before_it(
    session: Session, sh_state: ToolState
) -> None:
    """Like Ctrl-C in a terminal: the cd and export before the kill stay."""
    failure(session, sh_state, "cd /tmp; export TIMED=out; sleep 5", timeout=1000)
    assert run(session, sh_state, "pwd; echo $TIMED") == "/tmp\nout"


def test_timeout_of_a_term_ignoring_command(session: Session, sh_state: ToolState) -> None:
    started = time.monotonic()
    text = failure(session, sh_state, "trap '' TERM; sleep 30", timeout=1000)
    assert text.startswith("Exit code 143")
    assert time.monotonic() - started < 6  # TERM ignored: KILL after 2 s
    assert run(session, sh_state, "echo alive") == "alive"


def test_timeout_kills_even_when_every_worker_is_busy(host_config: HostConfig) -> None:
    """Kills use a channel of their own: BashOutput calls that block every
    pooled worker must not delay the kill of a timed-out command."""
    s = Session(host_config)
    try:
        s.connect()
        st = ToolState(host_name="test", info=s.info)
        job = bash(s, "sleep 20", state=st, run_in_background=True).structured["bash_id"]

        def wait_for_job() -> None:
            own = ToolState(host_name="test", info=s.info)
            bash_output(s, job, block=True, timeout=6000, state=own)

        waiters = [threading.Thread(target=wait_for_job) for _ in range(host_config.workers)]
        for waiter in waiters:
            waiter.start()
        time.sleep(1)  # every worker is now inside a 6 s wait
        started = time.monotonic()
        text = failure(s, st, "sleep 30", timeout=1000)
        assert text.startswith("Exit code 143\nCommand timed out after 1s")
        assert time.monotonic() - started < 4
        for waiter in waiters:
            waiter.join(15)
        kill_shell(s, job, state=st)
    finally:
        s.close()


def test_cancel_hook_kills_the_command(session: Session, sh_state: ToolState, remote) -> None:
    marker = f"99{uuid.uuid4().int % 10**6}"
    hooks: list = []
    errors: list[str] = []

    def call() -> None:
        try:
            bash(session, f"sleep 1{marker}", state=sh_state, cancel_hooks=hooks)
        except ToolError as err:
            errors.append(str(err))

    worker = threading.Thread(target=call)
    started = time.monotonic()
    worker.start()
    while not processes(remote, f"sleep 1{marker}"):
        assert time.monotonic() - started < 10
        time.sleep(0.05)
    assert len(hooks) == 1
    hooks[0]()
    worker.join(10)
    assert not worker.is_alive()
    assert errors and errors[0].startswith("Exit code 137\n[Request interrupted by user")
    assert wait_gone(remote, f"sleep 1{marker}") == []
    assert run(session, sh_state, "echo next") == "next"


def test_progress_reports_elapsed_time_and_last_line(
    session: Session, sh_state: ToolState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bash_mod, "PROGRESS_INTERVAL_S", 0.5)
    seen: list[tuple[float, str, str]] = []
    caller = threading.current_thread().name
    command = "echo first-step; sleep 1.2; echo second-step; sleep 1.5"

    def progress(elapsed: float, message: str) -> None:
        seen.append((elapsed, message, threading.current_thread().name))

    run(session, sh_state, command, progress=progress)
    assert len(seen) >= 2
    assert [e for e, _, _ in seen] == sorted(e for e, _, _ in seen)
    assert seen[0][1].startswith("Running for ") and seen[0][1].endswith(": first-step")
    assert seen[-1][1].endswith(": second-step")
    # from the caller's thread: the server's progress sender must run there
    assert {name for *_, name in seen} == {caller}


def test_no_progress_without_a_callback_or_for_quick_commands(
    session: Session, sh_state: ToolState
) -> None:
    seen: list = []
    run(session, sh_state, "echo quick", progress=lambda e, m: seen.append(m))
    assert seen == []


# -- Claude Code's output format ---------------------------------------------------------


def test_stdout_and_stderr_are_merged_for_success(session: Session, sh_state: ToolState) -> None:
    assert run(session, sh_state, "echo out; echo err >&2") == "out\nerr"
    assert run(session, sh_state, "echo; echo; echo '  x  '; echo") == "  x"
    assert run(session, sh_state, "echo only-err >&2") == "only-err"
    assert run(session, sh_state, "true") == ""


def test_failure_format(session: Session, sh_state: ToolState) -> None:
    text = failure(session, sh_state, "echo out; echo err >&2; exit 2")
    assert text == "Exit code 2\nerr\n\nout"
    assert failure(session, sh_state, "false") == "Exit code 1"


def test_exit_code_semantics(session: Session, sh_state: ToolState, remote_dir: str) -> None:
    run(session, sh_state, "echo hello > f.txt")
    assert run(session, sh_state, "grep nothing f.txt") == ""
    out = bash(session, "grep nothing f.txt", state=sh_state)
    assert out.structured["return_code_interpretation"] == "No matches found"
    assert failure(session, sh_state, "grep nothing missing.txt").startswith("Exit code 2\n")
    assert run(session, sh_state, "diff f.txt /dev/null") == "1d0\n< hello"
    assert run(session, sh_state, "test -e missing.txt") == ""
    assert run(session, sh_state, "[ 1 = 2 ]") == ""
    assert failure(session, sh_state, "cat missing.txt").startswith("Exit code 1\n")
    assert failure(session, sh_state, "true && grep nothing f.txt") == "Exit code 1"


def test_long_output_is_truncated_like_claude_code(session: Session, sh_state: ToolState) -> None:
    """1 MB of output: the first 30000 chars, then the count of the rest's lines."""
    text = run(session, sh_state, "head -c 1000000 /dev/zero | tr '\\0' a | fold -w 99")
    stdout = ("a" * 99 + "\n") * 10101 + "a"
    assert text == cc_success(stdout)
    assert text.endswith("\n\n... [9804 lines truncated] ...")
    full = "".join(f"{i}\n" for i in range(1, 200001))
    assert run(session, sh_state, "seq 1 200000") == cc_success(full)


def test_huge_output_is_bounded_and_counted(session: Session, sh_state: ToolState) -> None:
    """8 MB of output: memory stays bounded, the line count is still exact."""
    out = bash(session, "seq 1 1000000", state=sh_state)
    full = "".join(f"{i}\n" for i in range(1, 1000001))
    assert out.text == cc_success(full)
    assert (
        len(out.structured["stdout"])
        <= bash_foreground.CAPTURE_LIMIT + bash_foreground.CAPTURE_TAIL
    )


def test_huge_failing_output_keeps_its_end(session: Session, sh_state: ToolState) -> None:
    text = failure(session, sh_state, "seq 1 1000000; echo the-end >&2; exit 4")
    full = "Exit code 4\nthe-end\n\n" + "".join(f"{i}\n" for i in range(1, 1000001))
    full = full.strip()
    cut = f"\n\n... [{len(full) - 10000} characters truncated] ...\n\n"
    assert text == full[:5000] + cut + full[-5000:]


def test_invalid_utf8_is_kept_as_bytes(session: Session, sh_state: ToolState) -> None:
    out = bash(session, r"printf 'a\377\376b\n'; printf '\303' >&2", state=sh_state)
    assert out.text.encode("utf-8", "surrogateescape") == b"a\xff\xfeb\n\xc3"


def test_timeout_is_clamped_and_formatted() -> None:
    """UNCONFIRMED in CC for durations under a minute; chosen: whole seconds
    rounded down ("1s"), as "30s" in the reference suggests."""
    assert bash_mod._timeout_ms(None) == 120000
    assert bash_mod._timeout_ms(10**9) == 600000
    assert format_duration(1000) == "1s"
    assert format_duration(30_500) == "30s"
    assert format_duration(120_000) == "2m 0s"
    assert format_duration(3_723_000) == "1h 2m 3s"
    assert format_duration(600_000) == "10m 0s"


# -- sh fallback, restarts, reconnects, start directory ------------------------------------


def test_shell_restart_keeps_cwd_and_environment(
    session: Session, sh_state: ToolState, remote_dir: str
) -> None:
    run(session, sh_state, "export SURVIVES=yes; f() { echo fn; }")
    shell = session.bash_shell()
    shell.close()  # the shell dies (as after a dropped channel)
    assert run(session, sh_state, "echo $SURVIVES; f; pwd") == f"yes\nfn\n{remote_dir}"


def test_reconnect_keeps_cwd_and_environment(host_config: HostConfig, remote_dir: str) -> None:
    s = Session(host_config)
    try:
        s.connect()
        st = ToolState(host_name="test", info=s.info)
        run(s, st, f"cd {shlex.quote(remote_dir)}; export OVER=reconnect")
        s.conn.close()  # the link drops
        assert run(s, st, "echo $OVER; pwd") == f"reconnect\n{remote_dir}"
        assert s.reconnects == 1
    finally:
        s.close()


def test_starts_in_the_configured_cwd(sshd: SshdServer, remote_dir: str) -> None:
    s = Session(make_host(sshd, cwd=remote_dir))
    try:
        s.connect()
        st = ToolState(host_name="test", info=s.info)
        assert run(s, st, "pwd") == remote_dir
        assert st.cwd == remote_dir
    finally:
        s.close()


def _sh_session(host_config: HostConfig) -> Session:
    """A session whose Bash shell is POSIX sh (dash), as on a remote without bash."""
    s = Session(host_config)
    s.connect()
    shell = ShellChannel(s.conn, subshell=False)
    chan = s.conn.open_channel()
    chan.exec_command("exec /bin/sh -s")
    shell.channel = chan
    shell.generation = 1
    s.bash.adopt(shell)
    return s


def test_sh_fallback_keeps_cwd_exports_and_aliases(
    host_config: HostConfig, remote_dir: str, remote
) -> None:
    s = _sh_session(host_config)
    try:
        st = ToolState(host_name="test", info=s.info)
        assert run(s, st, "echo ${BASH_VERSION:-none}") == "none"
        run(s, st, f"cd {shlex.quote(remote_dir)}; export E=1; alias aa='echo via-alias'; set -u")
        assert run(s, st, "pwd; echo $E; aa") == f"{remote_dir}\n1\nvia-alias"
        assert failure(s, st, "echo $NOT_SET_ANYWHERE").startswith("Exit code 2")
        run(s, st, "set +u; cd /tmp")
        marker = f"96{uuid.uuid4().int % 10**6}"
        text = failure(s, st, f"while :; do sleep 1.{marker}; done", timeout=1000)
        assert text.startswith("Exit code 143\nCommand timed out after 1s")
        assert wait_gone(remote, f"sleep 1.{marker}") == []
        assert run(s, st, "pwd; echo $E") == "/tmp\n1"
        job = bash(s, "echo $E; aa; pwd", state=st, run_in_background=True).structured["bash_id"]
        out = bash_output(s, job, block=True, timeout=10000, state=st)
        assert out.structured["stdout"] == "1\nvia-alias\n/tmp\n"
    finally:
        s.close()


# -- login environment ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def login_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """An sshd whose user HOME is a private remote directory, so the login
    profile can be written without touching this machine's real home."""
    area = Path(f"/tmp/remote-mcp-bash-login-{uuid.uuid4().hex[:8]}")
    home = f"{area}/home"
    server = start_sshd(
        tmp_path_factory.mktemp("login-sshd"),
        isolated_root=area,
        extra_config=f"SetEnv HOME={home}",
    )
    require_isolation(server)
    try:
        with open(Path(TEST_HOME) / ".ssh" / "known_hosts", "a") as f:
            f.write(server.known_hosts_line + "\n")
        profile = (
            "export FROM_PROFILE=login\n"
            'PATH="$HOME/bin:$PATH"\n'
            "echo 'noise from the profile'\n"
            "cat >/dev/null\n"  # would hang without stdin /dev/null
            "export PAGER=less\n"
        )
        rc, _, err = remote_exec(
            server,
            f"mkdir -p {home}/bin && printf '%s' {shlex.quote(profile)} > {home}/.bash_profile"
            f" && printf '#!/bin/sh\\necho mine\\n' > {home}/bin/mytool"
            f" && chmod +x {home}/bin/mytool",
        )
        assert rc == 0, err
        yield server
    finally:
        server.stop()


def test_login_profile_is_sourced_once_quietly(login_sshd: SshdServer) -> None:
    host = make_host(login_sshd, key_path=str(login_sshd.client_key))
    s = Session(host)
    try:
        s.connect()
        st = ToolState(host_name="test", info=s.info)
        text = run(s, st, "echo $FROM_PROFILE $PAGER; mytool; pwd")
        assert text == f"login cat\nmine\n{s.info.home}"
    finally:
        s.close()


# -- background jobs ---------------------------------------------------------------------------


def test_background_job_output_is_read_incrementally(
    session: Session, sh_state: ToolState, remote_dir: str, remote
) -> None:
    run(session, sh_state, 'export JOBVAR=inherited; jobfn() { echo "fn $1"; }')
    started = bash(
        session,
        # Waits for the test's go-ahead, not for a time: "running" is certain.
        "echo one $JOBVAR; jobfn two; pwd; until [ -e go ]; do sleep 0.1; done; echo three; exit 5",
        state=sh_state,
        run_in_background=True,
    )
    job_id = started.structured["bash_id"]
    path = started.structured["output_path"]
    assert started.text == (
        f"Command running in background with ID: {job_id}. Output is being written to: {path}"
    )
    assert remote.sh(f"stat -c %a {shlex.quote(str(Path(path).parent))}").strip() == "700"
    written = lambda: f"{remote_dir}\n" in remote.sh(f"cat -- {shlex.quote(path)}")  # noqa: E731
    assert wait_until(written), remote.sh(f"cat -- {shlex.quote(path)}")
    first = bash_output(session, job_id, state=sh_state)
    assert first.text.startswith("<status>running</status>\n\n<stdout>\n")
    assert first.structured["stdout"] == f"one inherited\nfn two\n{remote_dir}\n"
    assert first.text.endswith("</timestamp>")
    remote.sh(f"touch -- {shlex.quote(remote_dir)}/go")
    second = bash_output(session, job_id, block=True, timeout=10000, state=sh_state)
    assert second.structured["stdout"] == "three\n"
    assert second.text.startswith(
        "<status>failed</status>\n\n<exit_code>5</exit_code>\n\n<stdout>\nthree\n</stdout>"
    )
    third = bash_output(session, job_id, state=sh_state)
    assert "<stdout>" not in third.text
    assert third.structured["status"] == "failed"


def test_background_completed_status_and_filter(session: Session, sh_state: ToolState) -> None:
    """UNCONFIRMED in CC whether the filter ignores case; chosen: yes (its
    validation compiles the pattern with the "i" flag)."""
    job = bash(
        session, "printf 'keep 1\\ndrop\\nKEEP 2\\n'", state=sh_state, run_in_background=True
    ).structured["bash_id"]
    out = bash_output(session, job, filter="keep", block=True, state=sh_state)
    assert out.text.startswith(
        "<status>completed</status>\n\n<exit_code>0</exit_code>\n\n<stdout>\nkeep 1\nKEEP 2\n"
    )
    with pytest.raises(ToolError, match=r'^Invalid regex pattern "\(": '):
        bash_output(session, job, filter="(", state=sh_state)


def test_background_job_starts_at_once(session: Session, sh_state: ToolState) -> None:
    started = time.monotonic()
    job = bash(session, "sleep 30", state=sh_state, run_in_background=True)
    assert time.monotonic() - started < 2
    kill_shell(session, job.structured["bash_id"], state=sh_state)


def test_kill_shell_leaves_no_orphan(session: Session, sh_state: ToolState, remote) -> None:
    marker = f"95{uuid.uuid4().int % 10**6}"
    command = f"sh -c 'sleep 1{marker} & sleep 2{marker}' & sleep 3{marker}"
    job = bash(session, command, state=sh_state, run_in_background=True).structured["bash_id"]
    deadline = time.monotonic() + 10
    while len(processes(remote, marker)) < 3:
        assert time.monotonic() < deadline, processes(remote, marker)
        time.sleep(0.05)
    text = kill_shell(session, job, state=sh_state).text
    message = f"Successfully killed shell: {job} ({command})"
    assert text == json.dumps({"message": message, "shell_id": job}, separators=(",", ":"))
    assert wait_gone(remote, marker) == []
    out = bash_output(session, job, state=sh_state)
    assert out.text.startswith("<status>killed</status>")
    with pytest.raises(ToolError) as info:
        kill_shell(session, job, state=sh_state)
    assert str(info.value) == f"Shell {job} is not running, so cannot be killed (status: killed)"


def test_unknown_job_ids(session: Session, sh_state: ToolState) -> None:
    for bad in ("bash_00000000", "../../etc", "$(touch x)"):
        with pytest.raises(ToolError) as info:
            bash_output(session, bad, state=sh_state)
        assert str(info.value) == f"No shell found with ID: {bad}"
        with pytest.raises(ToolError) as info:
            kill_shell(session, bad, state=sh_state)
        assert str(info.value) == f"No shell found with ID: {bad}"


def test_job_is_reachable_from_a_new_session_and_listed(
    host_config: HostConfig, remote_dir: str, remote
) -> None:
    """Another session sees the job only when it asks for all sessions' jobs."""
    first = Session(host_config)
    try:
        first.connect()
        st = ToolState(host_name="test", info=first.info)
        started = bash(first, "echo early; sleep 2; echo late", state=st, run_in_background=True)
        job, log = started.structured["bash_id"], shlex.quote(started.structured["output_path"])
        assert wait_until(lambda: remote.sh(f"cat -- {log}") == "early\n")
        assert bash_output(first, job, state=st).structured["stdout"] == "early\n"
    finally:
        first.close()  # the connection ends; the detached job does not
    second = Session(host_config)
    try:
        second.connect()
        st2 = ToolState(host_name="test", info=second.info)
        listing = bash_output(second, "list", all_sessions=True, state=st2)
        mine = [j for j in listing.structured["jobs"] if j["bash_id"] == job]
        assert mine and mine[0]["command"] == "echo early; sleep 2; echo late"
        assert mine[0]["status"] in ("running", "completed")
        assert job in listing.text
        out = bash_output(second, job, block=True, timeout=10000, all_sessions=True, state=st2)
        assert out.structured["stdout"] == "early\nlate\n"  # a new session reads from the start
        assert out.structured["status"] == "completed"
    finally:
        second.close()


def test_background_output_is_bounded_and_truncated(session: Session, sh_state: ToolState) -> None:
    job = bash(session, "seq 1 300000", state=sh_state, run_in_background=True)
    out = bash_output(session, job.structured["bash_id"], block=True, state=sh_state)
    full = "".join(f"{i}\n" for i in range(1, 300001)).rstrip()
    assert out.text.split("\n\n<timestamp>")[0] == (
        "<status>completed</status>\n\n<exit_code>0</exit_code>\n\n<stdout>\n"
        + cc_truncate(full)
        + "\n</stdout>"
    )


def test_block_waits_at_most_the_timeout(session: Session, sh_state: ToolState) -> None:
    job = bash(session, "sleep 30", state=sh_state, run_in_background=True).structured["bash_id"]
    try:
        started = time.monotonic()
        out = bash_output(session, job, block=True, timeout=1000, state=sh_state)
        assert 0.9 < time.monotonic() - started < 4
        assert out.structured["status"] == "running"
    finally:
        kill_shell(session, job, state=sh_state)


def test_old_finished_jobs_are_removed_when_a_job_starts(
    session: Session, sh_state: ToolState, remote
) -> None:
    first = bash(session, "true", state=sh_state, run_in_background=True).structured
    jobs_dir = str(Path(first["output_path"]).parent.parent)
    old, recent, running = (f"{jobs_dir}/bash_test{n}{uuid.uuid4().hex[:6]}" for n in "orr")
    remote.sh(
        f"mkdir -m 700 {old} {recent} {running} && echo 0 > {old}/exit && echo 1 > {recent}/exit"
        # the newest by start, whatever other test runs of this user start meanwhile
        f" && echo 2999-01-01T00:00:00Z > {recent}/started"
        f" && (sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {running}/pid)"
        f" && touch -d '2 days ago' {old} {running}"
    )
    try:
        bash(session, "true", state=sh_state, run_in_background=True)
        assert not remote.exists(old)  # finished, older than 24 h
        assert remote.exists(recent)  # finished just now
        assert remote.exists(running)  # old but still running
    finally:
        remote.sh(f"kill $(cat {running}/pid) 2>/dev/null; rm -rf {old} {recent} {running}")


def test_dead_sessions_state_is_removed_after_a_day(
    host_config: HostConfig, session: Session, sh_state: ToolState, remote
) -> None:
    """State of a session that died uncleanly (all files older than
    STATE_EXPIRY_DAYS, its shell gone) is removed at the next start."""
    assert bash_shell.STATE_EXPIRY_DAYS == 1
    rt = session.bash
    shells = str(Path(rt.directory).parent)
    dead, idle_alive, recent = (
        f"{shells}/sdead{uuid.uuid4().hex[:8]}",
        f"{shells}/salive{uuid.uuid4().hex[:8]}",
        f"{shells}/srecent{uuid.uuid4().hex[:8]}",
    )
    remote.sh(
        f"mkdir {dead} {idle_alive} {recent} && echo 2147483000 > {dead}/pid"
        f" && echo 2147483000 > {recent}/pid && echo 0 > {recent}/slot"
        f" && (sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {idle_alive}/pid)"
        f" && touch -d '2 days ago' {dead} {dead}/pid {idle_alive} {idle_alive}/pid {recent}"
    )
    s = Session(host_config)
    try:
        s.connect()
        run(s, ToolState(host_name="test", info=s.info), "true")
        assert not remote.exists(dead)
        assert remote.exists(idle_alive)  # its shell still runs
        assert remote.exists(recent)  # a file of it changed within the day
    finally:
        s.close()
        remote.sh(f"kill $(cat {idle_alive}/pid) 2>/dev/null; rm -rf {dead} {idle_alive} {recent}")


def test_cancel_before_the_command_starts_never_runs_it(
    session: Session, sh_state: ToolState, remote, remote_dir: str
) -> None:
    """A cancel that arrives while the call waits for the busy shell."""
    rt = session.bash
    hooks: list = []
    errors: list[str] = []
    marker = f"{remote_dir}/should-not-exist"

    def call() -> None:
        try:
            bash(session, f"touch {marker}", state=sh_state, cancel_hooks=hooks)
        except ToolError as err:
            errors.append(str(err))

    with rt.lock:  # the shell is busy with another call
        worker = threading.Thread(target=call)
        worker.start()
        deadline = time.monotonic() + 5
        while not hooks:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        hooks[0]()
    worker.join(10)
    assert errors == ["Exit code 137\n[Request interrupted by user for tool use]"]
    assert not remote.exists(marker)
