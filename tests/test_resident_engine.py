"""The worker shells' resident python3 engine (_engine_call.sh.j2, engines/edit.py's serve).

Write and Edit hand their request to an engine that the worker shell keeps
running, instead of starting python3 for every call. These tests run it on the
real sshd and check what that must not change: one engine per shell whose
program is sent once, a stopped call whose engine child stops with it, a shell
without bash that still gets its edit, and an engine that never outlives its
shell or its idle time.
"""

from __future__ import annotations

import hashlib
import os
import select
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from remote_mcp.errors import RemoteTimeout
from remote_mcp.handlers import make_state
from remote_mcp.session import Session
from remote_mcp.templates import render
from remote_mcp.testing import SshdServer, remote_exec
from remote_mcp.tools import files
from remote_mcp.tools.base import FileRecord, ToolState
from remote_mcp.tools.edit import ENGINE_KEY, edit, resident_program
from remote_mcp.tools.write import write
from tests.conftest import make_host
from tests.test_pool import wait_until


def one_shell_session(sshd: SshdServer, **overrides: object) -> Session:
    session = Session(make_host(sshd, workers=1, **overrides))
    session.connect()
    return session


@pytest.fixture
def solo(sshd: SshdServer) -> Iterator[Session]:
    """A session of its own with one worker shell: its engine is the only one."""
    session = one_shell_session(sshd)
    yield session
    session.close()


def engines(remote) -> dict[str, str]:
    """This server's resident engines on the remote: pid -> engine directory
    (not their children, forked with the same command line)."""
    found, parents = {}, {}
    for line in remote.sh("ps -e -o pid= -o ppid= -o args=").splitlines():
        pid, ppid, args = line.split(None, 2)
        words = args.split()
        if "serve" in words and ENGINE_KEY in args:
            found[pid] = words[words.index("serve") + 1]
            parents[pid] = ppid
    return {pid: folder for pid, folder in found.items() if parents[pid] not in found}


def working_children(remote, engine: str) -> list[str]:
    """The engine's children at work on a request: they left the engine's
    process group for the caller's (its idle spare has not)."""
    rows = remote.sh(f"ps -o pid= -o pgid= -p {engine} --ppid {engine} || true").split("\n")
    groups = dict(row.split() for row in rows if row.strip())
    return [pid for pid, group in groups.items() if pid != engine and group != groups.get(engine)]


def test_one_engine_per_shell_and_its_program_is_sent_once(solo, remote, remote_dir) -> None:
    before = set(engines(remote))
    state = ToolState(host_name="test", info=solo.info)
    path = f"{remote_dir}/resident.txt"
    sent = []
    for text in ("one\n", "two\n", "three\n"):
        start = solo.stats.snapshot()[1]
        write(solo, path, text, state=state)
        sent.append(solo.stats.snapshot()[1] - start)
    start = solo.stats.snapshot()[1]
    edit(solo, path, "three", "four", state=state)
    sent.append(solo.stats.snapshot()[1] - start)
    assert remote.read_bytes(path) == b"four\n"
    started = set(engines(remote)) - before
    assert len(started) == 1, engines(remote)
    # The first call ran the program once while the engine started; the
    # engine's children answered the others (only they write `rep`).
    folder = engines(remote)[started.pop()]
    assert "\ndone " in remote.sh(f"cat {shlex.quote(folder)}/rep")  # the last call: Edit
    # The program (about 7.7 KB, compressed already) goes with the first call only.
    assert sent[0] - max(sent[1:]) > 3000, sent
    assert state.extra.get("no_resident") is None


def test_a_stopped_write_stops_the_engine_child_that_was_doing_it(sshd, remote, remote_dir) -> None:
    """A Write stuck inside the engine (the file is a FIFO nobody writes to)
    runs past op_timeout_s: the stop reaches the engine's child through the
    call's process group, the engine lives on for the next call."""
    session = one_shell_session(sshd, op_timeout_s=2.0)
    try:
        state = ToolState(host_name="test", info=session.info)
        warm = f"{remote_dir}/warm.txt"
        before = set(engines(remote))
        write(session, warm, "warm\n", state=state)
        (engine_pid,) = set(engines(remote)) - before
        fifo = f"{remote_dir}/stuck.fifo"
        remote.sh(f"mkfifo {shlex.quote(fifo)}")
        state.files[fifo] = FileRecord(hashlib.sha256(b"x").hexdigest(), "", 1)
        errors: list[Exception] = []

        def stuck() -> None:
            try:
                write(session, fifo, "never\n", state=state)
            except Exception as exc:
                errors.append(exc)

        caller = threading.Thread(target=stuck)
        caller.start()
        assert wait_until(lambda: working_children(remote, engine_pid) != [])  # the engine took it
        caller.join(30)
        assert not caller.is_alive() and isinstance(errors[0], RemoteTimeout), errors
        assert working_children(remote, engine_pid) == []
        # Nobody holds the FIFO open for reading any more: a writer finds no reader.
        rc, _, _ = remote_exec(sshd, f"timeout 1 sh -c 'echo x > {shlex.quote(fifo)}'")
        assert rc == 124
        write(session, warm, "still served\n", state=state)
        assert remote.read_bytes(warm) == b"still served\n"
        assert list(engines(remote)).count(engine_pid) == 1
    finally:
        session.close()


def _write_command(path: str, *, program: bool) -> str:
    command = render(
        "write.sh.j2",
        path=path,
        content=b"from sh\n",
        expect="absent",
        token="RMCP_EOF_" + "ab" * 12,
        allowed=[],
        engine="python3",
        program="",
        resident=True,
        engine_key=ENGINE_KEY,
        refused=10,
    )
    if program:
        command = render("engine_prelude.sh.j2", program=resident_program(), idle_s=60) + command
    return command


def test_a_shell_without_bash_runs_the_program_once_or_asks_for_it(
    sshd, remote, remote_dir
) -> None:
    """Under dash there is no resident engine: with the program the call
    runs it once and says so on stderr; without it the reply is noengine
    and nothing was done."""
    path = f"{remote_dir}/dash.txt"
    rc, out, err = remote_exec(sshd, "dash -s", input=_write_command(path, program=False).encode())
    assert (rc, out) == (0, b"noengine\n"), err
    assert remote.sh(f"ls -A {shlex.quote(remote_dir)}") == ""
    rc, out, err = remote_exec(sshd, "dash -s", input=_write_command(path, program=True).encode())
    assert rc == 0 and out.startswith(b"created "), (out, err)
    assert b"rmcp_noresident nobash" in err
    assert remote.read_bytes(path) == b"from sh\n"


def test_the_engine_ends_with_its_shell_and_takes_its_directory(sshd, remote, remote_dir):
    session = one_shell_session(sshd)
    state = ToolState(host_name="test", info=session.info)
    before = set(engines(remote))
    write(session, f"{remote_dir}/a.txt", "a\n", state=state)
    ((pid, folder),) = [(p, d) for p, d in engines(remote).items() if p not in before]
    session.close()
    # Its spare child too: one left behind would be listed on its own.
    assert wait_until(lambda: folder not in engines(remote).values()), engines(remote)
    assert remote.sh(f"ls -d {shlex.quote(folder)} 2>/dev/null || true") == ""


def test_an_idle_engine_ends_and_the_next_call_starts_one(solo, remote, remote_dir) -> None:
    """The engine leaves after its idle time; a call that then finds none
    answers noengine, and the shell sends it again with the program."""
    path = f"{remote_dir}/idle.txt"
    before = set(engines(remote))
    with solo.pool.channel() as shell:
        command = _write_command(path, program=False)
        short = render("engine_prelude.sh.j2", program=resident_program(), idle_s=1)
        first = shell.run(short + command, warn=True)
        assert first.stdout.startswith("created "), first
        ((pid, folder),) = [(p, d) for p, d in engines(remote).items() if p not in before]
        assert wait_until(lambda: folder not in engines(remote).values())
        shell._engine_used = time.monotonic()  # as if the engine were known to be up
        remote.sh(f"rm -f {shlex.quote(path)}")
        again = shell.run(command, warn=True, engine=resident_program())
    assert again.stdout.startswith("created "), again
    assert remote.read_bytes(path) == b"from sh\n"
    assert len(set(engines(remote)) - before) == 1


def test_an_edit_through_the_engine_reads_like_any_other(solo, remote, remote_dir) -> None:
    state = ToolState(host_name="test", info=solo.info)
    path = f"{remote_dir}/e.txt"
    remote.write_bytes(path, b"alpha\nbeta\n")
    files.read(solo, path, state=state)
    out = edit(solo, path, "beta", "gamma", state=state)
    assert "has been updated" in out.text and "gamma" in out.text
    again = edit(solo, path, "gamma", "delta", state=state)
    assert again.structured["backend"] == "python3"
    assert remote.read_bytes(path) == b"alpha\ndelta\n"


def test_resident_engine_false_starts_python3_per_call(sshd, remote, remote_dir) -> None:
    """A host's ``resident_engine: false`` keeps nothing running: each Write
    runs python3 once, as on a host without bash."""
    host = make_host(sshd, workers=1, resident_engine=False)
    session = Session(host)
    try:
        session.connect()
        state = make_state(host, None)
        state.info = session.info
        before = set(engines(remote))
        path = f"{remote_dir}/plain.txt"
        write(session, path, "one\n", state=state)
        write(session, path, "two\n", state=state)
        assert remote.read_bytes(path) == b"two\n"
        assert set(engines(remote)) - before == set()
    finally:
        session.close()


def test_the_engine_answers_requests_it_must_not_run(tmp_path) -> None:
    """The engine itself, run here: a request whose file belongs to another
    call (cut short by a full disk, say) is answered `untaken` and left as it
    is; a caller that does not lead a process group gets `nogroup`. Either
    way the caller hears back instead of waiting for its timeout."""
    folder = tmp_path / "engine"
    folder.mkdir(mode=0o700)
    for name in ("in", "out"):
        os.mkfifo(folder / name, 0o600)
    program = resident_program()
    engine = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", program, "serve", str(folder), str(os.getpid()), "30"]
    )
    leader = subprocess.Popen(["sleep", "30"], process_group=0)
    member = subprocess.Popen(["sleep", "30"])  # in this process's group
    requests = os.open(folder / "in", os.O_RDWR)
    replies = os.open(folder / "out", os.O_RDWR)
    try:
        (folder / "req").write_bytes(b"OTHER\0write\0/tmp/x\0")

        def answer(line: str) -> bytes:
            os.write(requests, line.encode() + b"\n")
            assert select.select([replies], [], [], 20)[0], "no answer"
            return os.read(replies, 4096)

        assert answer(f"MINE {leader.pid}") == b"MINE untaken\n"
        assert (folder / "req").exists()
        assert answer(f"THEIRS {member.pid}") == b"THEIRS nogroup\n"
    finally:
        os.close(requests)
        os.close(replies)
        for process in (engine, leader, member):
            process.kill()
            process.wait()
