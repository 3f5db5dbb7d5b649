"""Hosts that make life hard: no base64/sha256sum, noexec /tmp, a read-only
HOME, a full disk, the C locale with names that are not UTF-8.

Two throwaway sshds of this module's own (so the mounts and PATH they need
never reach other tests): `bare` serves a PATH without base64 and sha256sum
(sshd's SetEnv); `unfriendly` runs in a mount namespace where /tmp is a
noexec tmpfs, root's HOME is read-only, ``AREA/full`` is a 64 KiB tmpfs and
the locale is C (SetEnv LANG=C LC_ALL=C). Both log in as root, so the
namespace and file modes do the refusing, not permissions.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp.config import HostConfig
from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.testing import SshdServer, remote_exec, start_sshd
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.bash import bash
from remote_mcp.tools.bash_jobs import bash_output, kill_shell
from remote_mcp.tools.edit import edit, multi_edit
from remote_mcp.tools.files import read, write
from remote_mcp.tools.search import glob
from tests.conftest import make_host

MISSING = ("base64", "sha256sum")


def _host(server: SshdServer, **extra: object) -> HostConfig:
    values: dict[str, object] = {
        "key_path": str(server.client_key),
        "known_hosts": str(server.known_hosts),
    }
    values.update(extra)
    return make_host(server, **values)


def _sh(server: SshdServer, command: str) -> str:
    rc, out, err = remote_exec(server, command)
    assert rc == 0, f"{command}: {err!r}"
    return out.decode("utf-8", "surrogateescape")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    # Not under /tmp: the unfriendly sshd mounts over /tmp, and keys must stay visible.
    path = Path(tempfile.mkdtemp(prefix="rmcp-unfriendly-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def bare(scratch: Path) -> Iterator[SshdServer]:
    """A host whose PATH has everything the build machine has but base64 and sha256sum."""
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name not in MISSING and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(os.path.join(directory, name))
    server = start_sshd(scratch / "sshd-bare", extra_config=f"SetEnv PATH={bin_dir}")
    try:
        found = _sh(server, "for t in base64 sha256sum; do command -v $t; done; echo end")
        if found.strip() != "end":  # a login file put them back on PATH
            pytest.skip(f"cannot hide base64/sha256sum here: {found!r}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def unfriendly(scratch: Path) -> Iterator[tuple[SshdServer, str]]:
    if os.geteuid() != 0 or shutil.which("nsenter") is None:
        pytest.skip("needs root and nsenter (mounts inside the sshd's namespace)")
    area = scratch / "area"
    server = start_sshd(
        scratch / "sshd-unfriendly", isolated_root=area, extra_config="SetEnv LANG=C LC_ALL=C"
    )
    try:
        if not server.isolated:
            pytest.skip("no private mount namespace for the test sshd")
        home = pwd.getpwuid(0).pw_dir
        # An old state base in HOME (as after earlier use), then HOME read-only.
        setup = (
            "set -e; mount -t tmpfs -o noexec,nosuid,nodev,mode=1777 tmpfs /tmp;"
            f" mkdir -p {shlex.quote(home)}/.cache/remote-mcp;"
            f" chmod 700 {shlex.quote(home)}/.cache/remote-mcp;"
            f" mount --bind {shlex.quote(home)} {shlex.quote(home)};"
            f" mount -o remount,bind,ro {shlex.quote(home)};"
            f" mkdir {area}/full; mount -t tmpfs -o size=64k,mode=1777 tmpfs {area}/full"
        )
        proc = subprocess.run(
            ["nsenter", "-t", str(server.process.pid), "-m", "sh", "-c", setup],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        yield server, str(area)
    finally:
        server.stop()


@pytest.fixture
def bare_session(bare: SshdServer) -> Iterator[Session]:
    s = Session(_host(bare))
    s.connect()
    yield s
    s.close()


@pytest.fixture
def hard_session(unfriendly: tuple[SshdServer, str]) -> Iterator[Session]:
    s = Session(_host(unfriendly[0]))
    s.connect()
    yield s
    s.close()


def _state(session: Session) -> ToolState:
    assert session.info is not None
    return ToolState(host_name="test", info=session.info, cwd=session.info.home)


# -- missing base64 and sha256sum ------------------------------------------------------


def test_write_without_base64_names_what_is_missing_and_changes_nothing(
    bare: SshdServer, bare_session: Session
) -> None:
    directory = _sh(bare, "mktemp -d /var/tmp/rmcp-bare.XXXXXX").strip()
    path = f"{directory}/new.txt"
    with pytest.raises(ToolError) as info:
        write(bare_session, path, "hello\n", state=_state(bare_session))
    message = str(info.value)
    assert "needs the base64 command" in message
    assert "Upload" in message and "still work" in message
    assert _sh(bare, f"ls -A {shlex.quote(directory)}") == ""


def test_read_and_edit_work_without_sha256sum(bare: SshdServer, bare_session: Session) -> None:
    """No digest: the session falls back to size and mtime for its precondition."""
    directory = _sh(bare, "mktemp -d /var/tmp/rmcp-bare.XXXXXX").strip()
    path = f"{directory}/f.txt"
    _sh(bare, f"printf 'one\\ntwo\\n' > {shlex.quote(path)}")
    state = _state(bare_session)
    assert read(bare_session, path, state=state).text.endswith("two")
    # A small file's hash is taken locally (it travels whole): the remote
    # precondition, with no sha256sum to compare it, uses size and mtime.
    out = edit(bare_session, path, "one", "uno", state=state).text
    assert "has been updated" in out
    multi_edit(bare_session, path, [{"old_string": "two", "new_string": "dos"}], state=state)
    assert _sh(bare, f"cat {shlex.quote(path)}") == "uno\ndos\n"
    # A change behind the session's back is still noticed (mtime+size).
    time.sleep(0.01)
    _sh(bare, f"printf 'changed elsewhere\\n' > {shlex.quote(path)}")
    with pytest.raises(ToolError, match="modified since read"):
        edit(bare_session, path, "changed", "x", state=state)


def test_reading_an_image_without_base64_says_what_still_works(
    bare: SshdServer, bare_session: Session
) -> None:
    directory = _sh(bare, "mktemp -d /var/tmp/rmcp-bare.XXXXXX").strip()
    _sh(bare, f"printf 'PNG' > {directory}/a.png")
    with pytest.raises(ToolError, match="needs the base64 command.*Download"):
        read(bare_session, f"{directory}/a.png", state=_state(bare_session))


# -- noexec /tmp and a read-only HOME ------------------------------------------------


def test_bash_and_jobs_work_with_a_read_only_home_and_a_noexec_tmp(
    unfriendly: tuple[SshdServer, str], hard_session: Session
) -> None:
    server, _ = unfriendly
    state = _state(hard_session)
    out = bash(hard_session, "echo hi; export KEEP=1", state=state).text
    assert "hi" in out
    uid = _sh(server, "id -u").strip()
    assert hard_session.bash.directory.startswith(f"/tmp/remote-mcp-{uid}/shells/")
    assert "mount" in _sh(server, "grep ' /tmp ' /proc/mounts | grep -c noexec && echo mount")
    assert "read-only" in out, "the agent is told why the state is not in HOME"
    assert bash(hard_session, "echo keep=$KEEP", state=state).text.strip() == "keep=1"
    job = bash(hard_session, "echo job-ran; sleep 30", state=state, run_in_background=True)
    job_id = job.structured["bash_id"]
    deadline = time.monotonic() + 20
    text = ""
    while "job-ran" not in text and time.monotonic() < deadline:
        text += bash_output(hard_session, job_id, state=state).text
    assert "job-ran" in text
    kill_shell(hard_session, job_id, state=state)
    assert "killed" in bash_output(hard_session, job_id, state=state).text


# -- a full disk -----------------------------------------------------------------------


def _fill(server: SshdServer, area: str, name: str) -> str:
    """A file with known content on the full tmpfs, then no room left."""
    path = f"{area}/full/{name}"
    _sh(server, f"rm -f {area}/full/filler; printf 'old x\\n' > {shlex.quote(path)}")
    remote_exec(server, f"head -c 1048576 /dev/zero > {area}/full/filler")
    return path


@pytest.mark.parametrize("tool", ["Write", "Edit", "MultiEdit"])
def test_a_full_disk_keeps_the_old_file_and_says_so(
    unfriendly: tuple[SshdServer, str], hard_session: Session, tool: str
) -> None:
    server, area = unfriendly
    path = _fill(server, area, f"{tool}.txt")
    state = _state(hard_session)
    read(hard_session, path, state=state)
    big = "y" * 200_000
    with pytest.raises(ToolError) as info:
        if tool == "Write":
            write(hard_session, path, big, state=state)
        elif tool == "Edit":
            edit(hard_session, path, "x", big, state=state)
        else:
            multi_edit(hard_session, path, [{"old_string": "x", "new_string": big}], state=state)
    assert "No space left on device" in str(info.value) or "ENOSPC" in str(info.value)
    assert "EACCES" not in str(info.value)
    assert _sh(server, f"cat {shlex.quote(path)}") == "old x\n"
    _sh(server, f"rm -f {area}/full/filler")


# -- the C locale and names that are not UTF-8 -------------------------------------------


def test_listed_names_that_are_not_utf8_can_be_read_back_in_the_c_locale(
    unfriendly: tuple[SshdServer, str], hard_session: Session
) -> None:
    server, area = unfriendly
    assert _sh(server, "echo $LC_ALL").strip() == "C"
    directory = f"{area}/latin1"
    _sh(
        server,
        f"mkdir -p {directory} && printf 'caf\\351\\n' > {directory}/\"$(printf 'caf\\351')\"",
    )
    state = _state(hard_session)
    listed = glob(hard_session, "*", directory, state=state).text.strip().splitlines()
    assert len(listed) == 1, listed
    assert read(hard_session, listed[0], state=state).text.startswith("     1\u2192caf")


def test_the_local_edit_engine_without_base64_names_what_is_missing(
    bare: SshdServer, bare_session: Session
) -> None:
    """No python3 or perl (forced here): Edit would send base64; it says so, changes nothing."""
    directory = _sh(bare, "mktemp -d /var/tmp/rmcp-bare.XXXXXX").strip()
    path = f"{directory}/f.txt"
    _sh(bare, f"printf 'one\\n' > {shlex.quote(path)}")
    state = _state(bare_session)
    state.backends["edit"] = "local"
    read(bare_session, path, state=state)
    with pytest.raises(ToolError, match="needs the base64 command.*neither python3 nor perl"):
        edit(bare_session, path, "one", "uno", state=state)
    assert _sh(bare, f"cat {shlex.quote(path)}") == "one\n"
