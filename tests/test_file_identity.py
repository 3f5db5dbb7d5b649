"""Write, Edit and MultiEdit keep a file's identity (docs/explanation/file-identity.md).

Run as an unprivileged remote user (``session_nonroot``): root may write
anything, so every permission bug hides behind it. Each case goes through
Write (the python3 engine's and the shell's, used where the edit engine is not
python3) and through every edit engine, because each has its own commit path.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable, Iterator

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.tools import files, write_large
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.edit import edit, multi_edit

ENGINES = ["python3", "perl", "local"]
WRITES = ["Write", "Write-shell", "Write-large"]
TOOLS = [*WRITES, *(f"Edit-{engine}" for engine in ENGINES), "MultiEdit"]


def q(path: str) -> str:
    return shlex.quote(path)


def change(tool: str, session: Session, state: ToolState, path: str, old: str, new: str) -> None:
    """Read ``path`` (the read-before-write rule), then turn ``old`` into ``new`` with ``tool``."""
    files.read(session, path, state=state)
    if tool.startswith("Write"):
        if tool == "Write-shell":
            state.backends["edit"] = "perl"  # Write commits with the shell then
        text = session.run(f"cat -- {q(path)}").stdout
        with pytest.MonkeyPatch.context() as patch:
            if tool == "Write-large":  # the SFTP path, whatever the size (tools/write_large.py)
                patch.setattr(write_large, "LARGE_WRITE_BYTES", 1)
            files.write(session, path, text.replace(old, new), state=state)
    elif tool == "MultiEdit":
        multi_edit(session, path, [{"old_string": old, "new_string": new}], state=state)
    else:
        state.backends["edit"] = tool.split("-", 1)[1]
        edit(session, path, old, new, state=state)


def stat(remote, path: str) -> str:
    return remote.sh(f"stat -c '%U:%G %a %h %i' -- {q(path)}").strip()


@contextlib.contextmanager
def open_writer(remote, log: str, run: Callable[[str], object]) -> Iterator[None]:
    """``log`` (``first``, the user's) held open for appending by a process
    that ``run`` starts; on leaving, it appends ``late`` and is waited for."""
    go, gone = f"{log}.go", f"{log}.gone"
    remote.write_bytes(log, b"first\n")
    remote.sh(f"chown rmcp-test: -- {q(log)}")
    writer = (
        f"exec 3>>{q(log)}; i=0; while [ ! -e {q(go)} ] && [ $i -lt 600 ]; do "
        f"sleep 0.1; i=$((i+1)); done; echo late >&3; touch {q(gone)}"
    )
    run(f"setsid sh -c {q(writer)} </dev/null >/dev/null 2>&1 &")
    deadline = time.monotonic() + 10
    while "3 ->" not in remote.sh(f"ls -l /proc/*/fd 2>/dev/null | grep -F {q(log)} || true"):
        assert time.monotonic() < deadline, "the writer never opened the log"
        time.sleep(0.05)
    try:
        yield
    finally:
        remote.sh(f"touch {q(go)}")
        while not remote.exists(gone):
            assert time.monotonic() < deadline + 10, "the writer never finished"
            time.sleep(0.05)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_root_owned_file_is_refused_even_in_a_writable_directory(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    path = f"{remote_dir_nonroot}/root.conf"
    remote.write_bytes(path, b"owned by root\n")
    remote.sh(f"chown root:root -- {q(path)} && chmod 0644 -- {q(path)}")
    before = stat(remote, path)
    with pytest.raises(ToolError) as err:
        change(tool, session_nonroot, state_nonroot, path, "root", "me")
    assert str(err.value) == f"EACCES: permission denied, open '{path}'"
    assert remote.read_bytes(path) == b"owned by root\n"
    assert stat(remote, path) == before


@pytest.mark.parametrize("tool", TOOLS)
def test_a_read_only_file_of_ones_own_is_refused(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    path = f"{remote_dir_nonroot}/ro.txt"
    remote.write_bytes(path, b"keep me\n")
    remote.sh(f"chown rmcp-test: -- {q(path)} && chmod 0444 -- {q(path)}")
    with pytest.raises(ToolError) as err:
        change(tool, session_nonroot, state_nonroot, path, "keep", "lose")
    assert str(err.value) == f"EACCES: permission denied, open '{path}'"
    assert remote.read_bytes(path) == b"keep me\n"


@pytest.mark.parametrize("tool", TOOLS)
def test_a_writable_file_of_another_owner_keeps_its_owner(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    path = f"{remote_dir_nonroot}/shared.txt"
    remote.write_bytes(path, b"team file\n")
    remote.sh(f"chown root:rmcp-test -- {q(path)} && chmod 0664 -- {q(path)}")
    inode = stat(remote, path).split()[3]
    change(tool, session_nonroot, state_nonroot, path, "team", "our")
    assert remote.read_bytes(path) == b"our file\n"
    assert stat(remote, path) == f"root:rmcp-test 664 1 {inode}"


@pytest.mark.parametrize("tool", TOOLS)
def test_hard_links_all_see_the_change(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    path, other = f"{remote_dir_nonroot}/a.txt", f"{remote_dir_nonroot}/b.txt"
    remote.write_bytes(path, b"linked\n")
    remote.sh(f"chown rmcp-test: -- {q(path)} && ln -- {q(path)} {q(other)}")
    change(tool, session_nonroot, state_nonroot, path, "linked", "changed")
    assert remote.read_bytes(other) == b"changed\n"
    assert stat(remote, path).split()[2] == "2"


@pytest.mark.parametrize("tool", TOOLS)
def test_lines_appended_by_an_open_writer_after_the_change_are_kept(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    log = f"{remote_dir_nonroot}/app.log"
    # A process of the user that holds the log open for appending (a daemon's log).
    with open_writer(remote, log, session_nonroot.run):
        change(tool, session_nonroot, state_nonroot, log, "first", "edited")
    assert remote.read_bytes(log) == b"edited\nlate\n"


@pytest.mark.parametrize("tool", ["Write", "Edit-python3", "Edit-perl", "MultiEdit"])
def test_a_writer_of_another_user_is_seen_too(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    """The engines ask the kernel (a read lease is refused while anyone holds
    the file open for writing), so a writer the user cannot see in /proc --
    here root's -- still keeps the file in place."""
    log = f"{remote_dir_nonroot}/root.log"
    with open_writer(remote, log, remote.sh):  # as root
        inode = stat(remote, log).split()[3]
        change(tool, session_nonroot, state_nonroot, log, "first", "edited")
        assert stat(remote, log).split()[3] == inode
    assert remote.read_bytes(log) == b"edited\nlate\n"


@pytest.mark.parametrize("tool", TOOLS)
def test_extended_attributes_are_kept(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    path = f"{remote_dir_nonroot}/tagged.txt"
    remote.write_bytes(path, b"tagged\n")
    remote.sh(f"chown rmcp-test: -- {q(path)}")
    setx = "import os, sys; os.setxattr(sys.argv[1], 'user.x', b'kept')"
    rc, _, err = remote.run(f"python3 -c {q(setx)} {q(path)}")
    if rc != 0:
        pytest.skip(f"the remote file system takes no user xattrs: {err!r}")
    change(tool, session_nonroot, state_nonroot, path, "tagged", "retagged")
    assert remote.read_bytes(path) == b"retagged\n"
    getx = "import os, sys; print(os.getxattr(sys.argv[1], 'user.x').decode())"
    assert remote.sh(f"python3 -c {q(getx)} {q(path)}").strip() == "kept"


@pytest.mark.parametrize("tool", TOOLS)
def test_setgid_is_kept(tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot):
    path = f"{remote_dir_nonroot}/tool.sh"
    remote.write_bytes(path, b"#!/bin/sh\necho one\n")
    remote.sh(f"chown rmcp-test:rmcp-test -- {q(path)} && chmod 2755 -- {q(path)}")
    change(tool, session_nonroot, state_nonroot, path, "one", "two")
    assert remote.read_bytes(path) == b"#!/bin/sh\necho two\n"
    assert stat(remote, path).split()[:3] == ["rmcp-test:rmcp-test", "2755", "1"]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_plain_file_is_still_replaced_atomically(
    tool, session_nonroot, state_nonroot, remote, remote_dir_nonroot
):
    """No reason to write in place: the temp file is renamed over it (a new inode)."""
    path = f"{remote_dir_nonroot}/plain.txt"
    remote.write_bytes(path, b"plain\n")
    remote.sh(f"chown rmcp-test: -- {q(path)} && chmod 0640 -- {q(path)}")
    inode = stat(remote, path).split()[3]
    change(tool, session_nonroot, state_nonroot, path, "plain", "simple")
    assert remote.read_bytes(path) == b"simple\n"
    after = stat(remote, path).split()
    assert after[:3] == ["rmcp-test:rmcp-test", "640", "1"]
    assert after[3] != inode
    assert remote.sh(f"ls -A -- {q(remote_dir_nonroot)}").split() == ["plain.txt"]


# -- failures say what happened (issue 9, item 10) ---------------------------------
@pytest.fixture
def tiny_fs(remote, remote_dir):
    """A 64 KiB tmpfs on the remote (sshd's private mount namespace; root)."""
    area = f"{remote_dir}/tiny"
    remote.sh(f"mkdir -- {q(area)} && mount -t tmpfs -o size=64k,mode=1777 tmpfs {q(area)}")
    try:
        yield area
    finally:
        remote.run(f"umount -- {q(area)}")


@pytest.mark.parametrize("tool", TOOLS)
def test_a_full_disk_is_reported_as_enospc(tool, session, state, remote, tiny_fs):
    path = f"{tiny_fs}/big.txt"
    remote.write_bytes(path, b"small\n")
    with pytest.raises(ToolError) as err:
        change(tool, session, state, path, "small", "x" * 100_000)
    assert str(err.value) == f"ENOSPC: no space left on device, write '{path}'"
    assert remote.read_bytes(path) == b"small\n"
    assert remote.sh(f"ls -A -- {q(tiny_fs)}").split() == ["big.txt"]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_failed_in_place_copy_restores_the_old_content(tool, session, state, remote, tiny_fs):
    """The temp copy fits, but copying it into the file does not: the old content is
    restored from the backup and the link is kept."""
    path, link = f"{tiny_fs}/a.txt", f"{tiny_fs}/b.txt"
    old = b"o" * 12_000 + b"\n"
    remote.write_bytes(path, old)
    remote.sh(f"ln -- {q(path)} {q(link)}")
    with pytest.raises(ToolError) as err:
        change(tool, session, state, path, "o" * 12_000, "n" * 28_000)
    assert str(err.value) == f"ENOSPC: no space left on device, write '{path}'"
    assert remote.read_bytes(link) == old
    assert remote.sh(f"ls -A -- {q(tiny_fs)}").split() == ["a.txt", "b.txt"]


@pytest.mark.parametrize("tool", ["Write", "Write-shell", *(f"Edit-{e}" for e in ENGINES)])
def test_a_name_too_long_is_reported_as_enametoolong(tool, session, state, remote, remote_dir):
    path = f"{remote_dir}/{'n' * 300}.txt"
    with pytest.raises(ToolError) as err:
        if tool.startswith("Write"):
            if tool == "Write-shell":
                state.backends["edit"] = "perl"
            files.write(session, path, "hello\n", state=state)
        else:
            state.backends["edit"] = tool.split("-", 1)[1]
            edit(session, path, "", "hello\n", state=state)
    assert str(err.value) == f"ENAMETOOLONG: name too long, open '{path}'"
    assert remote.sh(f"ls -A -- {q(remote_dir)}") == ""
