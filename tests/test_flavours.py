"""The remote-flavour matrix: a cross-tool subset on every kind of host.

Each flavour of `remote_mcp.testing.start_sshd` gets one sshd and one
Session (module scope, so the tests are grouped per flavour): BusyBox ash
with only BusyBox applets (no bash, python3, perl, rg, GNU tools), dash with
GNU tools but no bash/python3/rg, and tcsh or zsh login shells. The whole
suite runs under bash; this file checks that every tool still answers as
Claude Code's does where the host has less, with the best engine it has.
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp.doctor import run_doctor
from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.testing import SshdServer, remote_exec, start_sshd, wait_until
from remote_mcp.tools import edit, files, search, transfer
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.bash import bash
from remote_mcp.tools.bash_jobs import bash_output, kill_shell
from remote_mcp.tools.write_large import LARGE_WRITE_BYTES

from .conftest import REMOTE_AREA, make_host

# Every test here starts (through its fixture) an sshd per flavour: not for --fast.
pytestmark = pytest.mark.sshd

MATRIX = ("busybox", "dash", "tcsh", "zsh")
# The engine each flavour's host offers: the probe picks it, nothing is forced.
GREP_ENGINE = {"busybox": "busybox", "dash": "grep", "tcsh": "rg", "zsh": "rg"}
EDIT_ENGINE = {"busybox": "local", "dash": "perl", "tcsh": "python3", "zsh": "python3"}


class Flavoured:
    """One flavour's sshd, Session and a way to check its files independently."""

    def __init__(self, name: str, server: SshdServer, session: Session) -> None:
        self.name, self.server, self.session = name, server, session

    def sh(self, command: str) -> str:
        rc, out, err = remote_exec(self.server, command)
        assert rc == 0, f"{self.name}: {command!r} failed (rc {rc}): {err!r}"
        return out.decode()

    def state(self) -> ToolState:
        info = self.session.info
        assert info is not None
        return ToolState(host_name=self.name, info=info, cwd=info.home)


@pytest.fixture(scope="module", params=MATRIX)
def flavoured(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flavoured]:
    name = request.param
    server = start_sshd(
        tmp_path_factory.mktemp(f"sshd-{name}"), isolated_root=REMOTE_AREA, flavour=name
    )
    home = Path(os.environ["HOME"])
    with open(home / ".ssh" / "known_hosts", "a") as f:
        f.write(server.known_hosts_line + "\n")
    session = Session(make_host(server, name=name, key_path=str(server.client_key)))
    try:
        session.connect()
        yield Flavoured(name, server, session)
    finally:
        session.close()
        server.stop()


@pytest.fixture
def area(flavoured: Flavoured, request: pytest.FixtureRequest) -> str:
    """A fresh directory; no clean-up: the area is sshd's private tmpfs, gone with it."""
    path = f"{REMOTE_AREA}/{request.node.originalname}"
    flavoured.sh(f"mkdir {shlex.quote(path)}")
    return path


def test_the_flavour_is_what_it_says(flavoured: Flavoured) -> None:
    """Guards the fixture itself: a flavour that silently fell back to bash tests nothing."""
    info = flavoured.session.info
    assert info is not None
    shell = flavoured.sh("echo $0").strip()
    if flavoured.name in ("busybox", "dash"):
        assert flavoured.sh("command -v bash || true").strip() == ""
        assert "python3" not in info.has and "rg" not in info.has
        assert ("perl" in info.has) == (flavoured.name == "dash")
        assert ("gnu_grep" in info.has) == (flavoured.name == "dash")
        assert shell.endswith("busybox sh" if flavoured.name == "busybox" else "dash") or (
            shell in ("sh", "dash")
        )
    else:
        assert shell.endswith(flavoured.name)


def test_write_read_multiread_filestat(flavoured: Flavoured, area: str) -> None:
    s, st = flavoured.session, flavoured.state()
    path = f"{area}/notes.txt"
    files.write(s, path, "alpha\nbeta 'quoted' $HOME !bang\n", state=st)
    assert flavoured.sh(f"cat {path}") == "alpha\nbeta 'quoted' $HOME !bang\n"
    out = files.read(s, path, state=st).text
    assert "     1→alpha" in out and "     2→beta 'quoted' $HOME !bang" in out
    both = files.multi_read(s, [{"file_path": path}, {"file_path": f"{area}/none"}], state=st)
    assert "alpha" in both.text and "does not exist" in both.text.lower()
    stat = files.file_stat(s, [path], state=st)
    assert stat.structured is not None
    assert "file, 32 bytes" in stat.text


def test_large_write_over_sftp_through_a_symlink(flavoured: Flavoured, area: str) -> None:
    """Write's large path (content over SFTP, write_large.sh.j2 commits it) under
    this flavour's sh: through a link into another directory, then in place."""
    s, st = flavoured.session, flavoured.state()
    flavoured.sh(
        f"mkdir {area}/a {area}/b && echo old > {area}/b/t.txt && ln -s ../b/t.txt {area}/a/l"
    )
    files.read(s, f"{area}/a/l", state=st)
    content = "large line of text\n" * (LARGE_WRITE_BYTES // 10)
    files.write(s, f"{area}/a/l", content, state=st)
    assert flavoured.sh(f"cat {area}/b/t.txt") == content
    assert flavoured.sh(f"ls -A {area}/a {area}/b").split() == [
        f"{area}/a:",
        "l",
        f"{area}/b:",
        "t.txt",
    ]


def test_read_small_and_long_line_files_without_final_newline(
    flavoured: Flavoured, area: str
) -> None:
    """A small file travels whole (its missing final newline stays missing);
    a big one is sliced by tail, head and cut, whose added newline the reader
    takes back, and an offset past its end asks for its line count. Both
    read the same; MultiRead sends small files in one cat; FileStat of
    several paths (one stat for all) pairs each with its own size."""
    s, st = flavoured.session, flavoured.state()
    flavoured.sh(f"printf 'one\\ntwo' > {area}/short.txt")
    long_line = "{ printf 'one\\n'; head -c 90000 /dev/zero | tr '\\0' x; }"
    flavoured.sh(f"sh -c {shlex.quote(long_line)} > {area}/long.txt")
    out = files.read(s, f"{area}/short.txt", state=st).text
    assert out == "     1→one\n     2→two"
    long = files.read(s, f"{area}/long.txt", state=st).text.split("\n")
    assert long[0] == "     1→one" and long[1] == "     2→" + "x" * 2000 and len(long) == 2
    past = files.read(s, f"{area}/long.txt", offset=3, state=st).text
    assert "shorter than the provided offset (3). The file has 2 lines." in past
    paths = [f"{area}/short.txt", f"{area}/long.txt", f"{area}/short.txt"]
    both = files.multi_read(s, [{"file_path": p, "offset": 2} for p in paths], state=st).text
    assert both.count("     2→two") == 2 and "     2→xxx" in both
    stat = files.file_stat(
        s, [f"{area}/long.txt", f"{area}/nothing", f"{area}/short.txt"], state=st
    ).structured
    assert [e.get("size") for e in stat["entries"]] == [90004, None, 7]


def test_edit_and_multi_edit_with_the_hosts_engine(flavoured: Flavoured, area: str) -> None:
    s, st = flavoured.session, flavoured.state()
    path = f"{area}/code.py"
    flavoured.sh(f"printf 'x = 1\\ny = x\\nx = 2\\n' > {path}")
    files.read(s, path, state=st)
    assert edit.choose_backend(st, s) == EDIT_ENGINE[flavoured.name]
    edit.edit(s, path, "y = x", "y = 'x'", state=st)
    assert flavoured.sh(f"cat {path}") == "x = 1\ny = 'x'\nx = 2\n"
    with pytest.raises(ToolError, match="Found 2 matches"):
        edit.edit(s, path, "x = ", "z = ", state=st)
    edit.multi_edit(
        s,
        path,
        [
            {"old_string": "x = ", "new_string": "z = ", "replace_all": True},
            {"old_string": "z = 2", "new_string": "z = 3"},
        ],
        state=st,
    )
    assert flavoured.sh(f"cat {path}") == "z = 1\ny = 'x'\nz = 3\n"


@pytest.fixture
def tree(flavoured: Flavoured, area: str) -> str:
    flavoured.sh(
        f"cd {area} && mkdir -p src .git && "
        "printf 'one\\nneedle here\\ntwo\\nthree\\nNeedle again\\n' > src/a.txt && "
        "printf 'no match\\n' > src/b.txt && printf 'needle\\n' > top.md && "
        "printf 'needle\\n' > .git/config && printf 'needle\\000bin\\n' > blob.bin && "
        "touch -d '2020-01-01 00:00:00' src/a.txt && touch -d '2020-01-02 00:00:00' top.md"
    )
    return area


def test_grep_in_every_output_mode(flavoured: Flavoured, tree: str) -> None:
    s, st = flavoured.session, flavoured.state()
    files_mode = search.grep(s, "needle", tree, state=st)
    assert files_mode.structured is not None
    assert files_mode.structured["backend"] == GREP_ENGINE[flavoured.name]
    assert files_mode.text == f"Found 2 files\n{tree}/top.md\n{tree}/src/a.txt"
    content = search.grep(s, "needle", tree, output_mode="content", case_insensitive=True, state=st)
    assert content.text.splitlines() == [
        f"{tree}/src/a.txt:2:needle here",
        f"{tree}/src/a.txt:5:Needle again",
        f"{tree}/top.md:1:needle",
    ]
    count = search.grep(s, "e", tree, output_mode="count", glob="*.txt", state=st)
    assert count.text == f"{tree}/src/a.txt:4\n\nFound 4 total occurrences across 1 file."
    ctx = search.grep(s, "here", f"{tree}/src/a.txt", output_mode="content", context=1, state=st)
    assert ctx.text.splitlines() == ["1-one", "2:needle here", "3-two"]
    with pytest.raises(ToolError, match="regex parse error"):
        search.grep(s, "a(", tree, state=st)


def test_glob(flavoured: Flavoured, tree: str) -> None:
    s, st = flavoured.session, flavoured.state()
    out = search.glob(s, "**/*.txt", tree, state=st)
    assert sorted(out.text.splitlines()) == [f"{tree}/src/a.txt", f"{tree}/src/b.txt"]


def test_bash_keeps_state_and_runs_bash_or_sh_not_the_login_shell(
    flavoured: Flavoured, area: str
) -> None:
    s, st = flavoured.session, flavoured.state()
    bash(s, f"cd {area} && export FLAVOUR_VAR=kept && alias flavour_alias='echo aliased'", state=st)
    out = bash(s, 'pwd; echo "$FLAVOUR_VAR"; echo "${BASH_VERSION:-no-bash}"', state=st)
    where, var, version = out.text.splitlines()
    assert (where, var) == (area, "kept")
    assert bash(s, "flavour_alias", state=st).text == "aliased"
    assert (version == "no-bash") == (flavoured.name in ("busybox", "dash"))


def _gone(flavoured: Flavoured, pid: str) -> bool:
    return wait_until(lambda: remote_exec(flavoured.server, f"kill -0 {pid}")[0] != 0, 20)


def test_bash_timeout_kills_the_command(flavoured: Flavoured, area: str) -> None:
    s, st = flavoured.session, flavoured.state()
    pidfile = f"{area}/pid"
    with pytest.raises(ToolError, match="timed out"):
        bash(s, f"sh -c 'echo $$ > {pidfile}; exec sleep 60'", timeout=1500, state=st)
    pid = flavoured.sh(f"cat {pidfile}").strip()
    assert _gone(flavoured, pid), f"the timed-out sleep {pid} still runs"


def test_background_job_output_and_kill(flavoured: Flavoured, area: str) -> None:
    s, st = flavoured.session, flavoured.state()
    pidfile = f"{area}/bgpid"
    job = bash(
        s, f"echo started; echo $$ > {pidfile}; exec sleep 60", state=st, run_in_background=True
    ).structured
    assert job is not None
    job_id = str(job["bash_id"])
    printed = wait_until(lambda: "started" in bash_output(s, job_id, state=st).text, 20)
    assert printed, "the background job printed nothing"
    kill_shell(s, job_id, state=st)
    pid = flavoured.sh(f"cat {pidfile}").strip()
    assert _gone(flavoured, pid), f"the killed job {pid} still runs"


def test_upload_and_download(flavoured: Flavoured, area: str, tmp_path: Path) -> None:
    s, st = flavoured.session, flavoured.state()
    data = bytes(range(256)) * 64
    (tmp_path / "up.bin").write_bytes(data)
    transfer.upload(s, str(tmp_path / "up.bin"), f"{area}/up.bin", state=st)
    assert flavoured.sh(f"wc -c < {area}/up.bin").strip() == str(len(data))
    transfer.download(s, f"{area}/up.bin", str(tmp_path / "down.bin"), state=st)
    assert (tmp_path / "down.bin").read_bytes() == data


DOCTOR_GREP = {
    "busybox": "Grep: busybox (no rg or GNU grep; BusyBox grep, file by file)",
    "dash": "Grep: GNU grep fallback (no rg)",
    "tcsh": "Grep: rg",
    "zsh": "Grep: rg",
}
DOCTOR_EDIT = {
    "busybox": "Edit: local (no python3 or perl: the file travels both ways)",
    "dash": "Edit: perl",
    "tcsh": "Edit: python3",
    "zsh": "Edit: python3",
}


def test_self_test_prints_the_ok_line_and_doctor_names_the_engines(
    flavoured: Flavoured, tmp_path: Path
) -> None:
    server = flavoured.server
    config = tmp_path / "config.yaml"
    config.write_text(
        f"hosts:\n  {flavoured.name}:\n    hostname: {server.host}\n    port: {server.port}\n"
        f"    user: {server.user}\n    key_path: {server.client_key}\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "remote_mcp",
            "--config",
            str(config),
            "--host",
            flavoured.name,
            "--test",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout == (
        f"Connected to {flavoured.name} ({server.user}@127.0.0.1). All tools: OK\n"
    ), proc.stdout + proc.stderr
    report = io.StringIO()
    run_doctor(flavoured.name, str(config), out=report)
    summary = report.getvalue().split("Summary:")[-1].splitlines()
    assert f"  {DOCTOR_GREP[flavoured.name]}" in summary, report.getvalue()
    assert f"  {DOCTOR_EDIT[flavoured.name]}" in summary, report.getvalue()
