"""The host guards against the real sshd: allowed_paths resolved on the remote,
read_only (and the bash setting), and the local side of Download/Upload.

Every escape is checked twice: the call is refused with the one message that
names the rule, and nothing outside the allowed tree was read (the secret's
text is nowhere in the answer) or changed (its bytes and the directory
listing are as before).
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.tools import bash, edit, files, search, transfer
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.guard import guard_summary
from tests.conftest import make_host, require_program

SECRET = b"TOP SECRET outside the allowed tree\n"


class Tree:
    """``allowed/`` (the allowed root) beside ``outside/``, with the links the
    tests escape through and links that stay inside."""

    def __init__(self, remote, base: str) -> None:
        self.remote, self.base = remote, base
        self.root = f"{base}/allowed"
        self.out = f"{base}/outside"
        q = shlex.quote
        remote.sh(
            f"cd {q(base)} && mkdir -p allowed/sub outside/y && "
            "printf 'inside\\n' > allowed/in.txt && printf 'inner\\n' > allowed/sub/inner.txt && "
            "ln -s ../outside/secret allowed/f && "  # file symlink out
            f"ln -s {q(base)}/outside allowed/dir && "  # directory symlink out (absolute)
            "ln -s ../outside allowed/x && "  # symlink as a parent component
            "ln -s sub/inner.txt allowed/inlink && ln -s sub allowed/indir && "  # inside
            "ln -s loop2 allowed/loop1 && ln -s loop1 allowed/loop2"
        )
        for name in ("outside/secret", "outside/f", "outside/y/f"):
            remote.write_bytes(f"{base}/{name}", SECRET)

    def snapshot(self) -> str:
        """Every file under outside/ with its hash: must not change."""
        return self.remote.sh(
            f"cd {shlex.quote(self.out)} && find . | sort && "
            "find . -type f -exec sha256sum {} + | sort"
        )


@pytest.fixture
def tree(remote, remote_dir) -> Tree:
    return Tree(remote, remote_dir)


@pytest.fixture
def guarded(session, tree) -> ToolState:
    assert session.info is not None
    return ToolState(host_name="test", info=session.info, cwd=tree.root, allowed_paths=(tree.root,))


def refused(tree: Tree, shown: str, resolved: str) -> str:
    return f"Refused: {shown} resolves to {resolved}, outside allowed_paths ({tree.root}) for host test."  # noqa: E501


# -- escapes ---------------------------------------------------------------------------------
def test_file_symlink_out_is_refused_and_nothing_outside_changes(session, tree, guarded):
    before = tree.snapshot()
    link = f"{tree.root}/f"
    want = refused(tree, link, f"{tree.out}/secret")
    for call in (
        lambda: files.read(session, link, state=guarded),
        lambda: files.write(session, link, "owned\n", state=guarded),
        lambda: edit.edit(session, link, "TOP", "OWNED", state=guarded),
        lambda: edit.multi_edit(
            session, link, [{"old_string": "TOP", "new_string": "X"}], state=guarded
        ),
    ):
        with pytest.raises(ToolError) as err:
            call()
        assert str(err.value) == want
    assert tree.snapshot() == before


def test_directory_symlink_out_is_refused_for_edit_write_and_new_files(
    session, tree, guarded, remote
):
    before = tree.snapshot()
    target = f"{tree.root}/dir/f"
    with pytest.raises(ToolError) as err:
        edit.edit(session, target, "TOP", "OWNED", state=guarded)
    assert str(err.value) == refused(tree, target, f"{tree.out}/f")
    with pytest.raises(ToolError, match="outside allowed_paths"):
        files.read(session, target, state=guarded)
    # A file that does not exist yet: its deepest existing ancestor decides.
    with pytest.raises(ToolError) as err:
        files.write(session, f"{tree.root}/dir/new/deeper.txt", "x", state=guarded)
    assert str(err.value) == refused(
        tree, f"{tree.root}/dir/new/deeper.txt", f"{tree.out}/new/deeper.txt"
    )
    assert tree.snapshot() == before
    assert not remote.exists(f"{tree.out}/new")


def test_dotdot_is_refused(session, tree, guarded):
    # Relative to the cwd (the allowed root) as well as absolute.
    for shown in (f"{tree.root}/../outside/secret", "../outside/secret"):
        with pytest.raises(ToolError) as err:
            files.read(session, shown, state=guarded)
        assert str(err.value) == refused(tree, shown, f"{tree.out}/secret")
        assert SECRET.decode().strip() not in str(err.value)


def test_symlink_in_a_parent_component_is_refused(session, tree, guarded, remote):
    before = tree.snapshot()
    path = f"{tree.root}/x/y/f"
    with pytest.raises(ToolError) as err:
        files.read(session, path, state=guarded)
    assert str(err.value) == refused(tree, path, f"{tree.out}/y/f")
    with pytest.raises(ToolError, match="outside allowed_paths"):
        files.write(session, f"{tree.root}/x/y/new.txt", "x", state=guarded)
    with pytest.raises(ToolError, match="outside allowed_paths"):
        edit.edit(session, f"{tree.root}/x/y/g.txt", "", "created", state=guarded)
    assert tree.snapshot() == before


def test_a_symlink_created_by_bash_between_two_calls_is_refused(session, tree, guarded, remote):
    path = f"{tree.root}/in.txt"
    assert files.read(session, path, state=guarded).text.endswith("inside")
    # The agent's own shell (or anything else) swaps the file for a link out.
    bash.bash(session, f"ln -sf ../outside/secret {shlex.quote(path)}", state=guarded)
    before = tree.snapshot()
    want = refused(tree, path, f"{tree.out}/secret")
    for call in (
        lambda: files.write(session, path, "owned\n", state=guarded),
        lambda: edit.edit(session, path, "TOP", "OWNED", state=guarded),
        lambda: files.read(session, path, state=guarded),
    ):
        with pytest.raises(ToolError) as err:
            call()
        assert str(err.value) == want
    assert tree.snapshot() == before


@pytest.mark.parametrize("engine", ["rg", "fallback"])
def test_multiread_grep_glob_filestat_download_through_a_symlinked_directory(
    session, tree, guarded, tmp_path, engine
):
    if engine == "fallback":
        guarded.backends = {"grep": "grep", "find": "posix"}
    secret = SECRET.decode().strip()
    wanted = [{"file_path": f"{tree.root}/in.txt"}, {"file_path": f"{tree.root}/dir/secret"}]
    out = files.multi_read(session, wanted, state=guarded)
    assert out.text == (
        f"==> {tree.root}/in.txt <==\n     1\u2192inside\n\n==> {tree.root}/dir/secret <==\n"
        f"Error: {refused(tree, f'{tree.root}/dir/secret', f'{tree.out}/secret')}"
    )
    for call in (
        lambda: search.grep(session, "SECRET", f"{tree.root}/dir", state=guarded),
        lambda: search.glob(session, "*", f"{tree.root}/dir", state=guarded),
        lambda: search.glob(session, f"{tree.root}/dir/*", state=guarded),
        lambda: transfer.download(
            session, f"{tree.root}/dir/secret", str(tmp_path / "s"), state=guarded
        ),
    ):
        with pytest.raises(ToolError) as err:
            call()
        assert "outside allowed_paths" in str(err.value)
    assert not (tmp_path / "s").exists()
    # Searching the allowed tree never follows a link out of it.
    found = search.grep(session, "SECRET", tree.root, output_mode="content", state=guarded)
    assert secret not in found.text and found.text == "No matches found"
    listed = search.glob(session, "**/*", tree.root, state=guarded).text.splitlines()
    assert not [p for p in listed if "/dir/" in p or "/x/" in p], listed
    assert f"{tree.root}/sub/inner.txt" in listed
    stat_out = files.file_stat(session, [f"{tree.root}/f", f"{tree.root}/inlink"], state=guarded)
    first, second = stat_out.text.splitlines()
    assert first == f"{tree.root}/f: " + refused(tree, f"{tree.root}/f", f"{tree.out}/secret")
    assert second.startswith(f"{tree.root}/inlink: symlink") and "-> 'sub/inner.txt'" in second


def test_upload_through_a_symlinked_directory_is_refused(session, tree, guarded, tmp_path):
    src = tmp_path / "payload"
    src.write_bytes(b"payload")
    before = tree.snapshot()
    with pytest.raises(ToolError) as err:
        transfer.upload(session, str(src), f"{tree.root}/dir/secret", overwrite=True, state=guarded)
    assert str(err.value) == refused(tree, f"{tree.root}/dir/secret", f"{tree.out}/secret")
    assert tree.snapshot() == before


def test_a_symlink_loop_cannot_be_resolved_and_is_refused(session, tree, guarded):
    with pytest.raises(ToolError) as err:
        files.read(session, f"{tree.root}/loop1", state=guarded)
    assert str(err.value).startswith(f"Refused: {tree.root}/loop1 cannot be resolved on test")


# -- the allowed tree still works -------------------------------------------------------------
def test_operations_inside_the_allowed_tree_work_on_the_resolved_path(
    session, tree, guarded, remote, tmp_path
):
    root = tree.root
    assert files.read(session, f"{root}/inlink", state=guarded).text == "     1\u2192inner"
    # Write through an in-tree link changes the link's target; the link stays.
    files.read(session, f"{root}/inlink", state=guarded)
    files.write(session, f"{root}/inlink", "rewritten\n", state=guarded)
    assert remote.read_bytes(f"{root}/sub/inner.txt") == b"rewritten\n"
    assert remote.sh(f"readlink {shlex.quote(root)}/inlink").strip() == "sub/inner.txt"
    files.read(session, f"{root}/indir/inner.txt", state=guarded)
    edit.edit(session, f"{root}/indir/inner.txt", "rewritten", "edited", state=guarded)
    assert remote.read_bytes(f"{root}/sub/inner.txt") == b"edited\n"
    files.write(session, f"{root}/newdir/new.txt", "new\n", state=guarded)
    assert remote.read_bytes(f"{root}/newdir/new.txt") == b"new\n"
    # (Grep shows paths relative to the cwd, here the allowed root.)
    assert search.grep(session, "edited", f"{root}/indir", state=guarded).text == (
        "Found 1 file\nindir/inner.txt"
    )
    assert search.glob(session, "*.txt", f"{root}/indir", state=guarded).text == (
        f"{root}/indir/inner.txt"
    )
    src = tmp_path / "up.txt"
    src.write_bytes(b"uploaded\n")
    transfer.upload(session, str(src), f"{root}/indir/up.txt", state=guarded)
    assert remote.read_bytes(f"{root}/sub/up.txt") == b"uploaded\n"
    transfer.download(session, f"{root}/indir/up.txt", str(tmp_path / "back.txt"), state=guarded)
    assert (tmp_path / "back.txt").read_bytes() == b"uploaded\n"


def test_an_allowed_root_that_is_itself_a_symlink_is_resolved_on_the_remote(session, tree, remote):
    remote.sh(f"ln -s allowed {shlex.quote(tree.base)}/rootlink")
    state = ToolState(host_name="test", info=session.info, allowed_paths=(f"{tree.base}/rootlink",))
    # Both spellings of the same file are inside; the outside is not.
    assert files.read(session, f"{tree.root}/in.txt", state=state).text.endswith("inside")
    assert files.read(session, f"{tree.base}/rootlink/in.txt", state=state).text.endswith("inside")
    with pytest.raises(ToolError, match=r"outside allowed_paths \(.*/rootlink\)"):
        files.read(session, f"{tree.base}/rootlink/f", state=state)


# -- read_only and bash -----------------------------------------------------------------------
def test_read_only_host_refuses_every_mutating_tool_and_bash(session, remote, remote_dir, tmp_path):
    path = f"{remote_dir}/keep.txt"
    remote.write_bytes(path, b"keep\n")
    state = ToolState(host_name="prod", info=session.info, read_only=True)
    files.read(session, path, state=state)  # reading is fine
    src = tmp_path / "up"
    src.write_bytes(b"up")
    listing = remote.sh(f"ls -la --time-style=full-iso {shlex.quote(remote_dir)}")
    calls = {
        "Write": lambda: files.write(session, path, "changed\n", state=state),
        "Edit": lambda: edit.edit(session, path, "keep", "changed", state=state),
        "MultiEdit": lambda: edit.multi_edit(
            session, path, [{"old_string": "keep", "new_string": "x"}], state=state
        ),
        "Upload": lambda: transfer.upload(session, str(src), f"{remote_dir}/up", state=state),
        "Bash": lambda: bash.bash(session, f"rm -f {shlex.quote(path)}", state=state),
    }
    for tool, call in calls.items():
        with pytest.raises(ToolError) as err:
            call()
        assert str(err.value).startswith(
            f"Refused: host prod is read_only, so {tool} is not available"
        ), str(err.value)
    assert "Add 'bash: allow'" in _refusal(calls["Bash"])
    assert remote.read_bytes(path) == b"keep\n"
    assert remote.sh(f"ls -la --time-style=full-iso {shlex.quote(remote_dir)}") == listing


def _refusal(call) -> str:
    with pytest.raises(ToolError) as err:
        call()
    return str(err.value)


def test_bash_allow_opts_in_on_a_read_only_host_and_deny_turns_it_off(session):
    allowed = ToolState(host_name="prod", info=session.info, read_only=True, bash="allow")
    assert bash.bash(session, "echo opted-in", state=allowed).text == "opted-in"
    denied = ToolState(host_name="prod", info=session.info, bash="deny")
    assert _refusal(lambda: bash.bash(session, "true", state=denied)) == (
        "Refused: Bash is disabled on host prod (bash: deny in the remote-mcp config)."
    )


def test_guard_summary_describes_the_mode(sshd):
    assert guard_summary(make_host(sshd)) == (
        "test: read-write, Bash allowed (bash: auto; the shell can change anything the login "
        "user can), no allowed_paths (every path the login user can reach)."
    )
    assert guard_summary(make_host(sshd, read_only=True, allowed_paths=("/srv",))) == (
        "test: read-only, Bash disabled (bash: auto), allowed_paths /srv (resolved on the remote)."
    )


# -- the local side ---------------------------------------------------------------------------
def test_download_of_a_0777_remote_file_gets_owner_only_bits(
    session, state, remote, remote_dir, tmp_path
):
    remote.write_bytes(f"{remote_dir}/open.sh", b"#!/bin/sh\n")
    remote.sh(f"chmod 0777 {shlex.quote(remote_dir)}/open.sh")
    dest = tmp_path / "new" / "dir" / "open.sh"
    transfer.download(session, f"{remote_dir}/open.sh", str(dest), state=state)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    # Directories it had to create are private too.
    assert stat.S_IMODE(dest.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    # Overwriting needs overwrite, and keeps no group/other write bit either.
    with pytest.raises(ToolError, match="Local file already exists"):
        transfer.download(session, f"{remote_dir}/open.sh", str(dest), state=state)
    dest.chmod(0o666)
    transfer.download(session, f"{remote_dir}/open.sh", str(dest), overwrite=True, state=state)
    assert stat.S_IMODE(dest.stat().st_mode) & 0o077 == 0


def test_download_never_writes_ssh_or_the_config_even_through_a_symlink(
    session, state, remote, remote_dir, tmp_path
):
    remote.write_bytes(f"{remote_dir}/k", b"ssh-ed25519 AAAA attacker\n")
    home = Path(os.environ["HOME"])
    keys = home / ".ssh" / "authorized_keys"
    link = tmp_path / "innocent.txt"
    link.symlink_to(keys)
    config = home / ".config" / "remote-mcp" / "config.yaml"
    for dest in (keys, link, config):
        with pytest.raises(ToolError, match="Refused: Download never writes into"):
            transfer.download(session, f"{remote_dir}/k", str(dest), overwrite=True, state=state)
    assert not keys.exists()
    assert b"attacker" not in config.read_bytes() if config.exists() else True


def test_download_honours_local_paths(session, remote, remote_dir, tmp_path):
    remote.write_bytes(f"{remote_dir}/k", b"data\n")
    ok_dir = tmp_path / "ok"
    ok_dir.mkdir()
    state = ToolState(host_name="test", info=session.info, local_paths=(str(ok_dir),))
    transfer.download(session, f"{remote_dir}/k", str(ok_dir / "k"), state=state)
    assert (ok_dir / "k").read_bytes() == b"data\n"
    with pytest.raises(ToolError) as err:
        transfer.download(session, f"{remote_dir}/k", str(tmp_path / "k"), state=state)
    assert str(err.value).startswith(
        f"Refused: {tmp_path}/k is outside local_paths ({ok_dir}) for host test."
    )
    assert not (tmp_path / "k").exists()


def test_upload_reads_only_regular_readable_files(session, state, remote_dir, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ToolError, match=r"is a FIFO \(named pipe\): Upload copies one regular"):
        transfer.upload(session, str(fifo), f"{remote_dir}/p", state=state)
    with pytest.raises(ToolError, match="is a directory: Upload copies one regular file"):
        transfer.upload(session, str(tmp_path), f"{remote_dir}/d", state=state)
    with pytest.raises(ToolError, match="is a character device"):
        transfer.upload(session, "/dev/null", f"{remote_dir}/n", state=state)
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.write_bytes(b"x")
        locked.chmod(0)
        with pytest.raises(ToolError, match="cannot be read \\(permission denied\\)"):
            transfer.upload(session, str(locked), f"{remote_dir}/l", state=state)


# -- the resolver under every shell it must run in ---------------------------------------------
@pytest.mark.parametrize("shell", ["dash", "bash", "busybox sh"])
def test_the_resolver_matches_realpath_under_dash_bash_and_busybox(shell, tmp_path):
    """_guard.sh.j2 resolves by hand (no readlink -f): check it against the
    kernel's answer (os.path.realpath) for each kind of path, in each shell.
    Runs locally: this is about the shell dialect, not about SSH."""
    import base64
    import subprocess

    from remote_mcp.templates import render

    argv = shell.split()
    require_program(argv[0])
    base = tmp_path / "t"
    (base / "a" / "b").mkdir(parents=True)
    (base / "out").mkdir()
    (base / "a" / "b" / "file").write_text("x")
    (base / "a" / "rel").symlink_to("b/file")
    (base / "a" / "up").symlink_to("../out")
    (base / "a" / "chain").symlink_to("rel")
    (base / "a" / "dotdot").symlink_to("b/..")
    (base / "a" / "dangling").symlink_to("../out/new")
    (base / "a" / "sp ace\nnl").symlink_to("b")
    cases = [
        "a/b/file",
        "a/rel",
        "a/up",
        "a/up/missing/deeper",
        "a/chain",
        "a/dotdot/b",
        "a/dangling",
        "a/sp ace\nnl/file",
        "a/missing/x",
        "a",
    ]
    for case in cases:
        path = f"{base}/{case}"
        script = render("guard_path.sh.j2", path=path, allowed=[str(base / "a")])
        out = subprocess.run([*argv, "-c", script], capture_output=True, check=True).stdout
        word, _, b64 = out.decode().strip().partition(" ")
        resolved = base64.b64decode(b64).decode()
        assert resolved == os.path.realpath(path), (shell, case)
        assert word == ("ok" if resolved.startswith(f"{base}/a") else "refused"), (shell, case)


# -- files remote-mcp creates locally ----------------------------------------------------------
def test_local_files_remote_mcp_creates_are_private(tmp_path, monkeypatch):
    from remote_mcp import sandbox
    from remote_mcp.tools import feedback

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("REMOTE_MCP_FEEDBACK", raising=False)
    log = Path(feedback.feedback("note", host_name="test").structured["path"])
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    monkeypatch.setattr(sandbox, "SANDBOX_DIR", tmp_path / "sandbox")
    config = sandbox.ensure_sandbox()
    try:
        for path, mode in (
            (config, 0o600),
            (config.parent / "sshd.pid", 0o600),
            (config.parent, 0o700),
            (config.parent / "work", 0o700),
        ):
            assert stat.S_IMODE(path.stat().st_mode) == mode, path
    finally:
        assert sandbox.stop_sandbox()


def test_hostile_names_pass_the_guard_as_data(session, tree, guarded, remote):
    """Quotes, $(...), newlines, a leading dash and a non-UTF-8 byte in the
    path and in the allowed root (which does not exist yet: Write creates
    it): resolved and compared, never executed."""
    odd = "-n it's $(touch CANARY) `x`\nline \udcff"
    root = f"{tree.base}/{odd}"
    state = ToolState(host_name="test", info=session.info, allowed_paths=(root,))
    path = f"{root}/{odd}.txt"
    files.write(session, path, "odd\n", state=state)
    assert files.read(session, path, state=state).text == "     1\u2192odd"
    # Glob shows the undecodable byte as \xff, the form every path argument takes back.
    assert search.glob(session, "*.txt", root, state=state).text == path.replace("\udcff", "\\xff")
    with pytest.raises(ToolError, match="outside allowed_paths"):
        files.read(session, f"{tree.root}/in.txt", state=state)
    assert not remote.exists(f"{tree.base}/CANARY") and not remote.exists("CANARY")
