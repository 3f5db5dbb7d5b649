"""Login files that print, profiles that stop early, a home with a space.

Every test runs as the account `start_hostile_login_sshd` creates: Debian's
bash reads its ``~/.bashrc`` (which prints) for ssh commands, sshd runs its
``~/.ssh/rc`` (which prints), its ``~/.profile`` runs ``set -eu`` and then a
failing line, and its home is ``/tmp/rmcp login home XXXX``. Each test starts
a fresh Session, so the call under test is the first on its channel.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp.config import HostConfig
from remote_mcp.session import Session
from remote_mcp.testing import HostileLogin, LinkProxy, SshdServer, start_hostile_login_sshd
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.bash import bash
from remote_mcp.tools.bash_jobs import bash_output, kill_shell
from remote_mcp.tools.edit import edit, multi_edit
from remote_mcp.tools.files import read, write
from tests.conftest import make_host

GREETINGS = ("WELCOME-FROM-BASHRC", "WELCOME-FROM-SSH-RC", "bashrc-on-stderr", "profile-says-hi")


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SshdServer, HostileLogin]]:
    try:
        server, login = start_hostile_login_sshd(tmp_path_factory.mktemp("sshd-login"))
    except Exception as exc:  # not root, no useradd
        pytest.skip(f"no hostile login user here: {exc}")
    try:
        yield server, login
    finally:
        server.stop()
        login.remove()


def _host(server: SshdServer, login: HostileLogin, **extra: object) -> HostConfig:
    values: dict[str, object] = {
        "user": login.user,
        "key_path": str(server.client_key),
        "known_hosts": str(server.known_hosts),
    }
    values.update(extra)
    return make_host(server, **values)


def _fresh_channels(session: Session) -> Session:
    """Connect (the probe takes the first channel), then close every worker
    shell: the next call is the first on a new channel."""
    session.connect()
    session.pool.close()
    return session


@pytest.fixture
def session(hostile: tuple[SshdServer, HostileLogin]) -> Iterator[Session]:
    s = _fresh_channels(Session(_host(*hostile)))
    yield s
    s.close()


@pytest.fixture
def state(session: Session) -> ToolState:
    return ToolState(host_name="test", info=session.info, cwd=session.info and session.info.home)


def _clean(text: str) -> str:
    for greeting in GREETINGS:
        assert greeting not in text, f"login-file output reached a reply: {text!r}"
    return text


def test_the_probe_reads_the_home_with_its_space(session: Session, hostile) -> None:
    _, login = hostile
    info = session.connect()
    assert info.home == login.home


def test_the_first_read_of_a_session_is_the_file(session: Session, state: ToolState, hostile):
    _, login = hostile
    Path(login.home, "first-read.txt").write_text("alpha\nbeta\n")
    out = read(session, "~/first-read.txt", state=state).text
    assert out == "     1\u2192alpha\n     2\u2192beta"


def test_the_first_write_of_a_session_is_reported_done(session: Session, state: ToolState, hostile):
    _, login = hostile
    target = Path(login.home, "first-write.txt")
    target.unlink(missing_ok=True)
    out = write(session, "~/first-write.txt", "new\n", state=state).text
    assert "created successfully" in _clean(out)
    assert target.read_text() == "new\n"


def test_the_first_edits_of_sessions_are_reported_done(hostile) -> None:
    _, login = hostile
    target = Path(login.home, "first-edit.txt")
    target.write_text("one two\n")
    home = Path(login.home).stat()
    os.chown(target, home.st_uid, home.st_gid)  # the user's own file, as Edit expects
    for tool, args in (
        (edit, ("one", "uno")),
        (multi_edit, ([{"old_string": "two", "new_string": "dos"}],)),
    ):
        s = Session(_host(*hostile))
        try:
            st = ToolState(host_name="test")
            # The read happens on a worker channel; the edit goes to the same
            # pool, so start a second session whose first call is the edit.
            read(s, str(target), state=st)
        finally:
            s.close()
        s = Session(_host(*hostile))
        try:
            _fresh_channels(s)
            fresh = ToolState(host_name="test", files=dict(st.files))
            out = tool(s, str(target), *args, state=fresh).text  # type: ignore[operator]
            assert "has been updated" in _clean(out) or "Applied 1 edit" in out
        finally:
            s.close()
    assert target.read_text() == "uno dos\n"


def test_bash_gets_the_tool_environment_whatever_the_profile_did(
    session: Session, state: ToolState, hostile
) -> None:
    _, login = hostile
    out = bash(session, "echo pager=$PAGER prompt=$GIT_TERMINAL_PROMPT; pwd; set -o", state=state)
    text = _clean(out.text)
    assert "pager=cat prompt=0" in text
    assert login.home in text.splitlines()[1]
    options = dict(line.split() for line in text.splitlines()[2:] if len(line.split()) == 2)
    assert options["errexit"] == "off"
    assert options["nounset"] == "off"
    # A failing command does not end the shell (errexit would): the next one runs.
    bash(session, "false; echo still-here", state=state)
    assert "after" in bash(session, "echo after", state=state).text


def test_bash_starts_in_the_configured_cwd_under_the_home_with_a_space(hostile) -> None:
    _, login = hostile
    start = Path(login.home, "start here")
    start.mkdir(exist_ok=True)
    s = Session(_host(*hostile, cwd=str(start)))
    try:
        out = bash(s, "pwd", state=ToolState(host_name="test")).text
        assert _clean(out).strip() == str(start)
    finally:
        s.close()


def test_background_jobs_work_under_the_home_with_a_space(
    session: Session, state: ToolState
) -> None:
    job = bash(session, "echo job-out; sleep 30", state=state, run_in_background=True)
    job_id = job.structured["bash_id"]
    deadline = time.monotonic() + 20
    text = ""
    while "job-out" not in text and time.monotonic() < deadline:
        text += bash_output(session, job_id, state=state).text
    assert "job-out" in _clean(text)
    assert "running" in bash_output(session, job_id, state=state).text
    kill_shell(session, job_id, state=state)
    assert "killed" in bash_output(session, job_id, state=state).text


def test_a_pool_channel_s_first_use_is_clean(session: Session, state: ToolState, hostile) -> None:
    _, login = hostile
    Path(login.home, "pool.txt").write_text("p\n")
    session.connect()
    # Every worker channel's first command: more calls than the pool has shells.
    for _ in range(session.host.workers + 2):
        with session.pool.channel() as shell:
            shell.close()  # the next run starts a new channel
            result = shell.run("cat -- ~/pool.txt", warn=True)
        assert (result.stdout, result.stderr) == ("p\n", "")


def test_after_a_reconnect_the_first_calls_are_clean(hostile, tmp_path: Path) -> None:
    server, login = hostile
    Path(login.home, "again.txt").write_text("again\n")
    with LinkProxy("127.0.0.1", server.port) as link:
        known = tmp_path / "known_hosts"
        known.write_text(
            server.known_hosts_line.replace(f"]:{server.port} ", f"]:{link.port} ") + "\n"
        )
        s = Session(_host(server, login, port=link.port, known_hosts=str(known)))
        try:
            st = ToolState(host_name="test")
            assert "again" in read(s, "~/again.txt", state=st).text
            bash(s, "export KEPT=yes; cd /tmp", state=st)
            link.cut()
            deadline = time.monotonic() + 20
            while s.conn.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            s.connect()  # the probe takes the first channel of the new connection
            s.pool.close()
            st.files.clear()
            assert _clean(read(s, "~/again.txt", state=st).text).endswith("again")
            out = bash(s, "echo kept=$KEPT pager=$PAGER; pwd; set -o | grep errexit", state=st)
            lines = _clean(out.text).splitlines()
            assert lines[0] == "kept=yes pager=cat"
            assert lines[1] == "/tmp"
            assert lines[2].split() == ["errexit", "off"]
        finally:
            s.close()


def test_state_paths_built_from_the_home_are_quoted(session: Session, state: ToolState) -> None:
    """The private state directory lives under the home with a space."""
    out = bash(session, "echo ok", state=state)
    assert _clean(out.text).strip() == "ok"
    directory = session.bash.directory  # type: ignore[attr-defined]
    assert " " in directory, directory
    listing = bash(session, f"ls -- {shlex.quote(directory)}", state=state).text
    assert "dump.sh" in listing


def test_a_profile_whose_exec_fails_still_gets_the_tool_environment(hostile) -> None:
    """bash ends a non-interactive (sub)shell at a failed exec, without its
    EXIT trap and whatever execfail says: nothing of the profile is saved, and
    the session starts from the plain environment plus the tool's."""
    _, login = hostile
    profile = Path(login.home, ".bash_profile")
    profile.write_text("set -e\nexec /nonexistent/shell\nexport FROM_PROFILE=yes\n")
    s = Session(_host(*hostile))
    try:
        state = ToolState(host_name="test")
        out = bash(s, "echo pager=$PAGER; pwd; set -o | grep errexit", state=state)
        lines = _clean(out.text).splitlines()
        assert lines[0] == "pager=cat"
        assert lines[1] == login.home
        assert lines[2].split() == ["errexit", "off"]
    finally:
        s.close()
        profile.unlink()
