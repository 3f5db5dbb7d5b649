"""Read, Write, MultiRead and FileStat against the real sshd: exact Claude Code
wording, remote-side slicing, atomic writes, and the read-before-write rule."""

from __future__ import annotations

import base64
import shlex

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.tools import files
from remote_mcp.tools.base import ToolState

ARROW = "\u2192"


def q(path: str) -> str:
    return shlex.quote(path)


def count(session: Session):
    """Context helper: (commands, bytes sent, bytes received) used since a snapshot."""
    before = session.stats.snapshot()

    def delta() -> tuple[int, int, int]:
        after = session.stats.snapshot()
        return tuple(a - b for a, b in zip(after, before, strict=True))  # type: ignore[return-value]

    return delta


# -- Read -------------------------------------------------------------------------
class TestRead:
    def test_numbers_lines_in_cat_n_arrow_format(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/a.txt", b"one\ntwo\n\tthree\n")
        out = files.read(session, f"{remote_dir}/a.txt", state=state)
        assert out.text == f"     1{ARROW}one\n     2{ARROW}two\n     3{ARROW}\tthree"

    def test_final_line_without_newline_and_crlf(self, session, state, remote, remote_dir):
        # UNCONFIRMED in CC: a final newline adds no empty numbered line (as cat -n).
        remote.write_bytes(f"{remote_dir}/w.txt", b"a\r\nb\r\nc")
        out = files.read(session, f"{remote_dir}/w.txt", state=state)
        assert out.text == f"     1{ARROW}a\n     2{ARROW}b\n     3{ARROW}c"

    def test_offset_and_limit(self, session, state, remote, remote_dir):
        remote.sh(f"seq 1 50 > {q(remote_dir)}/n.txt")
        out = files.read(session, f"{remote_dir}/n.txt", offset=10, limit=3, state=state)
        assert out.text == f"    10{ARROW}10\n    11{ARROW}11\n    12{ARROW}12"

    def test_default_limit_is_2000_lines(self, session, state, remote, remote_dir):
        remote.sh(f"seq 1 2500 > {q(remote_dir)}/n.txt")
        out = files.read(session, f"{remote_dir}/n.txt", offset=1, state=state)
        lines = out.text.split("\n")
        assert len(lines) == 2000 and lines[-1] == f"  2000{ARROW}2000"

    def test_six_digit_numbers_are_not_padded(self, session, state, remote, remote_dir):
        remote.sh(f"seq 1 100001 > {q(remote_dir)}/n.txt")
        out = files.read(session, f"{remote_dir}/n.txt", offset=100001, limit=1, state=state)
        assert out.text == f"100001{ARROW}100001"

    def test_long_lines_are_truncated_to_2000_chars(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/l.txt", ("é" * 2500 + "\nshort\n").encode())
        out = files.read(session, f"{remote_dir}/l.txt", state=state)
        first, second = out.text.split("\n")
        assert first == f"     1{ARROW}" + "é" * 2000
        assert second == f"     2{ARROW}short"

    def test_empty_file_reminder(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/e.txt", b"")
        out = files.read(session, f"{remote_dir}/e.txt", state=state)
        assert out.text == (
            "<system-reminder>Warning: the file exists but the contents are empty."
            "</system-reminder>"
        )

    def test_offset_past_end_reminder(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/s.txt", b"1\n2\n3")
        out = files.read(session, f"{remote_dir}/s.txt", offset=10, state=state)
        assert out.text == (
            "<system-reminder>Warning: the file exists but is shorter than the provided "
            "offset (10). The file has 3 lines.</system-reminder>"
        )

    def test_offset_past_end_of_a_large_file(self, session, state, remote, remote_dir):
        """A file too big to travel whole is sliced on the remote; an empty
        slice asks again for the line count (a final line without a newline
        counts)."""
        remote.write_bytes(f"{remote_dir}/s.txt", b"x" * 70000 + b"\n2\n3")
        delta = count(session)
        out = files.read(session, f"{remote_dir}/s.txt", offset=4, state=state)
        assert out.text == (
            "<system-reminder>Warning: the file exists but is shorter than the provided "
            "offset (4). The file has 3 lines.</system-reminder>"
        )
        assert delta()[0] <= 2
        out = files.read(session, f"{remote_dir}/s.txt", offset=3, state=state)
        assert out.text == f"     3{ARROW}3"

    def test_large_file_to_its_end_without_final_newline(self, session, state, remote, remote_dir):
        """cut(1) adds a newline to an unterminated last line. That shows only
        on a last line ending in CR (Claude Code keeps "end<CR>" as it is): then,
        and only then, a second command asks how the file ends."""
        remote.write_bytes(f"{remote_dir}/t.txt", b"y" * 70000 + b"\nend\r")
        delta = count(session)
        out = files.read(session, f"{remote_dir}/t.txt", offset=2, state=state)
        assert out.structured["lines"] == ["end\r"]
        assert delta()[0] == 2
        remote.write_bytes(f"{remote_dir}/t.txt", b"y" * 70000 + b"\nend\r\n")
        out = files.read(session, f"{remote_dir}/t.txt", offset=2, state=state)
        assert out.structured["lines"] == ["end"]
        remote.write_bytes(f"{remote_dir}/t.txt", b"y" * 70000 + b"\nend")
        delta = count(session)
        out = files.read(session, f"{remote_dir}/t.txt", offset=2, state=state)
        assert out.structured["lines"] == ["end"] and out.text == f"     2{ARROW}end"
        assert delta()[0] == 1

    def test_missing_file(self, session, state, remote_dir):
        with pytest.raises(ToolError) as err:
            files.read(session, f"{remote_dir}/nope.txt", state=state)
        assert str(err.value) == "File does not exist."

    def test_missing_file_mentions_cwd_when_it_moved(self, session, state, remote_dir):
        state.cwd = remote_dir
        with pytest.raises(ToolError) as err:
            files.read(session, "nope.txt", state=state)
        assert str(err.value) == f"File does not exist. Current working directory: {remote_dir}"

    def test_directory(self, session, state, remote_dir):
        with pytest.raises(ToolError) as err:
            files.read(session, remote_dir, state=state)
        assert "EISDIR: illegal operation on a directory" in str(err.value)

    def test_binary_by_extension(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/x.zip", b"PK\x03\x04")
        with pytest.raises(ToolError) as err:
            files.read(session, f"{remote_dir}/x.zip", state=state)
        assert str(err.value) == (
            "This tool cannot read binary files. The file appears to be a binary .zip file. "
            "Please use appropriate tools for binary file analysis."
        )

    def test_binary_by_content(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/blob", b"ELF\x00\x01\x02" * 10)
        with pytest.raises(ToolError, match="appears to be a binary file"):
            files.read(session, f"{remote_dir}/blob", state=state)

    def test_whole_file_over_256kb_needs_offset_or_limit(self, session, state, remote, remote_dir):
        remote.sh(f"head -c 300000 /dev/zero | tr '\\0' 'a' > {q(remote_dir)}/big.txt")
        with pytest.raises(ToolError) as err:
            files.read(session, f"{remote_dir}/big.txt", state=state)
        assert str(err.value) == (
            "File content (293KB) exceeds maximum allowed size (256KB). Please use offset and "
            "limit parameters to read specific portions of the file, or use the GrepTool to "
            "search for specific content."
        )

    def test_output_token_cap(self, session, state, remote, remote_dir):
        # 2000 lines of 1999 chars: ~4M chars, far above 25000 tokens.
        remote.sh(f"for i in $(seq 1 60); do printf '%01999d\\n' 0; done > {q(remote_dir)}/w.txt")
        with pytest.raises(ToolError, match=r"^File content \(\d+ tokens\) exceeds maximum"):
            files.read(session, f"{remote_dir}/w.txt", limit=60, state=state)

    def test_image_is_returned_as_image_content(self, session, state, remote, remote_dir):
        png = base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
        )
        remote.write_bytes(f"{remote_dir}/p.png", png)
        out = files.read(session, f"{remote_dir}/p.png", state=state)
        assert [i.mime_type for i in out.images] == ["image/png"]
        assert base64.b64decode(out.images[0].data_b64) == png

    def test_relative_and_home_paths(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/r.txt", b"rel\n")
        state.cwd = remote_dir
        assert files.read(session, "r.txt", state=state).text == f"     1{ARROW}rel"
        home = remote.sh('printf %s "$HOME"')
        assert state.resolve("~/x", session) == f"{home}/x"

    def test_20_lines_of_a_20mb_file_is_one_command_under_8kb(
        self, session, state, remote, remote_dir
    ):
        path = f"{remote_dir}/big.log"
        remote.sh(f"seq -f 'line %.0f of a large log file here' 1 700000 > {q(path)}")
        assert int(remote.sh(f"stat -c %s {q(path)}")) > 20_000_000
        delta = count(session)
        out = files.read(session, path, offset=100000, limit=20, state=state)
        commands, sent, received = delta()
        assert out.text.split("\n")[0] == f"100000{ARROW}line 100000 of a large log file here"
        assert len(out.text.split("\n")) == 20
        assert commands == 1
        assert sent + received < 8 * 1024, (sent, received)


# -- Write ------------------------------------------------------------------------
class TestWrite:
    def test_create_then_update_after_read(self, session, state, remote, remote_dir):
        path = f"{remote_dir}/sub/dir/new.txt"
        out = files.write(session, path, "hello\n", state=state)
        assert out.text == f"File created successfully at: {path}"
        assert remote.read_bytes(path) == b"hello\n"
        out = files.write(session, path, "one\ntwo\n", state=state)
        assert out.text == (
            f"The file {path} has been updated. Here's the result of running `cat -n` on a "
            f"snippet of the edited file:\n     1{ARROW}one\n     2{ARROW}two"
        )
        assert remote.read_bytes(path) == b"one\ntwo\n"

    def test_existing_file_must_be_read_first(self, session, state, remote, remote_dir):
        path = f"{remote_dir}/old.txt"
        remote.write_bytes(path, b"keep me\n")
        with pytest.raises(ToolError) as err:
            files.write(session, path, "clobber", state=state)
        assert str(err.value) == "File has not been read yet. Read it first before writing to it."
        assert remote.read_bytes(path) == b"keep me\n"

    def test_stale_file_is_refused(self, session, state, remote, remote_dir):
        path = f"{remote_dir}/s.txt"
        remote.write_bytes(path, b"v1\n")
        files.read(session, path, state=state)
        remote.write_bytes(path, b"v2 changed behind our back\n")
        with pytest.raises(ToolError) as err:
            files.write(session, path, "v3\n", state=state)
        assert str(err.value) == (
            "File has been modified since read, either by the user or by a linter. "
            "Read it again before attempting to write it."
        )
        assert remote.read_bytes(path) == b"v2 changed behind our back\n"

    def test_mode_is_kept_and_no_temp_file_left(self, session, state, remote, remote_dir):
        path = f"{remote_dir}/run.sh"
        remote.write_bytes(path, b"#!/bin/sh\n")
        remote.sh(f"chmod 0751 {q(path)}")
        files.read(session, path, state=state)
        files.write(session, path, "#!/bin/sh\necho hi\n", state=state)
        assert remote.sh(f"stat -c %a {q(path)}").strip() == "751"
        assert remote.sh(f"ls -A {q(remote_dir)}").split() == ["run.sh"]

    def test_symlink_is_followed(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/target.txt", b"t\n")
        remote.sh(f"ln -s target.txt {q(remote_dir)}/link.txt")
        files.read(session, f"{remote_dir}/link.txt", state=state)
        files.write(session, f"{remote_dir}/link.txt", "new\n", state=state)
        assert remote.read_bytes(f"{remote_dir}/target.txt") == b"new\n"
        assert remote.sh(f"readlink {q(remote_dir)}/link.txt").strip() == "target.txt"

    def test_write_is_one_command_and_large_content_roundtrips(
        self, session, state, remote, remote_dir
    ):
        path = f"{remote_dir}/large.txt"
        content = "".join(f"{i:08d} some text\n" for i in range(200_000))  # 3.6 MB
        delta = count(session)
        files.write(session, path, content, state=state)
        assert delta()[0] == 1
        assert remote.sh(f"sha256sum < {q(path)}").split()[0] == state.files[path].sha256

    def test_directory_in_the_way(self, session, state, remote_dir):
        with pytest.raises(ToolError, match="EISDIR"):
            files.write(session, remote_dir, "x", state=state)


# -- MultiRead ----------------------------------------------------------------------
class TestMultiRead:
    def test_several_files_one_command_missing_in_place(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/a", b"a1\na2\na3\n")
        remote.write_bytes(f"{remote_dir}/b", b"b1\n")
        delta = count(session)
        out = files.multi_read(
            session,
            [
                {"file_path": f"{remote_dir}/a", "offset": 2, "limit": 1},
                {"file_path": f"{remote_dir}/missing"},
                {"file_path": f"{remote_dir}/b"},
            ],
            state=state,
        )
        assert delta()[0] == 1
        assert out.text == (
            f"==> {remote_dir}/a <==\n     2{ARROW}a2\n\n"
            f"==> {remote_dir}/missing <==\nError: File does not exist.\n\n"
            f"==> {remote_dir}/b <==\n     1{ARROW}b1"
        )

    def test_small_files_in_one_batch_are_recorded_for_later_edits(
        self, session, state, remote, remote_dir
    ):
        """Small files travel whole in one batch (head's ==> NAME <== lines
        found by each name's length in bytes) and are hashed here: the hash
        must be the one the remote's read-before-write check computes."""
        from remote_mcp.tools import edit

        names = ["a", "b\nnl", "c é <=="]
        for i, name in enumerate(names):
            remote.write_bytes(f"{remote_dir}/{name}", f"first {i}\nsecond\n".encode())
        delta = count(session)
        out = files.multi_read(
            session, [{"file_path": f"{remote_dir}/{n}", "limit": 1} for n in names], state=state
        )
        assert delta()[0] == 1
        assert [f["lines"] for f in out.structured["files"]] == [[f"first {i}"] for i in range(3)]
        edit.edit(session, f"{remote_dir}/b\nnl", "second", "2nd", state=state)
        assert remote.read_bytes(f"{remote_dir}/b\nnl") == b"first 1\n2nd\n"
        remote.write_bytes(f"{remote_dir}/c é <==", b"changed\n")
        with pytest.raises(ToolError, match="modified since read"):
            edit.edit(session, f"{remote_dir}/c é <==", "changed", "x", state=state)

    def test_a_batch_whose_sizes_do_not_add_up_is_read_again_file_by_file(
        self, session, state, remote
    ):
        """/sys files say 4096 bytes and hold a few: the batch's bytes cannot be
        split by the sizes stat gave, so the files are read again, each on its
        own (the same path a file changed mid-read takes)."""
        paths = ["/sys/devices/system/cpu/online", "/sys/devices/system/cpu/possible"]
        if not all(remote.exists(p) for p in paths):
            pytest.skip("no /sys cpu files on this host")
        expected = [remote.read_bytes(p).decode().splitlines() for p in paths]
        delta = count(session)
        out = files.multi_read(session, [{"file_path": p} for p in paths], state=state)
        assert [f["lines"] for f in out.structured["files"]] == expected
        assert delta()[0] == 2

    def test_content_cannot_spoof_the_framing(self, session, state, remote, remote_dir):
        # A file full of lines that look like part boundaries and headers.
        fake = b"RMCP_PART_0123456789abcdef01234567 1\nok 1 - 0 x\n" * 3
        remote.write_bytes(f"{remote_dir}/evil", fake)
        remote.write_bytes(f"{remote_dir}/good", b"fine\n")
        out = files.multi_read(
            session,
            [{"file_path": f"{remote_dir}/evil"}, {"file_path": f"{remote_dir}/good"}],
            state=state,
        )
        evil, good = out.structured["files"]
        assert "\n".join(evil["lines"]) + "\n" == fake.decode()
        assert good["lines"] == ["fine"]


# -- FileStat -------------------------------------------------------------------------
class TestFileStat:
    def test_kinds_in_one_command(self, session, state, remote, remote_dir):
        remote.write_bytes(f"{remote_dir}/f", b"12345")
        remote.sh(f"chmod 640 {q(remote_dir)}/f && ln -s 'tar get\nx' {q(remote_dir)}/dangling")
        remote.sh(f"ln -s f {q(remote_dir)}/link && mkdir {q(remote_dir)}/d")
        delta = count(session)
        out = files.file_stat(
            session,
            [
                f"{remote_dir}/f",
                f"{remote_dir}/d",
                f"{remote_dir}/link",
                f"{remote_dir}/dangling",
                f"{remote_dir}/none",
            ],
            state=state,
        )
        assert delta()[0] == 1
        f, d, link, dangling, none = out.structured["entries"]
        assert (f["type"], f["size"], f["mode"]) == ("file", 5, "0640")
        assert f["owner"] == remote.sh("id -un").strip()
        assert d["type"] == "directory"
        assert (link["type"], link["target"], link["target_type"]) == ("symlink", "f", "file")
        assert (dangling["target"], dangling["target_type"]) == ("tar get\nx", "dangling")
        assert none == {"path": f"{remote_dir}/none", "exists": False}
        assert out.text.splitlines()[-1] == f"{remote_dir}/none: does not exist"

    def test_many_paths_keep_their_own_lines(self, session, state, remote, remote_dir):
        """One stat(1) serves every existing path: its lines must pair with the
        right paths across missing ones and names holding newlines and spaces."""
        names = ["a", "new\nline", "none1", "sp ace", "none2", "z"]
        for size, name in enumerate(names, 1):
            if not name.startswith("none"):
                remote.write_bytes(f"{remote_dir}/{name}", b"x" * size)
        out = files.file_stat(session, [f"{remote_dir}/{n}" for n in names], state=state)
        entries = out.structured["entries"]
        sizes = [e.get("size") for e in entries]
        assert sizes == [1, 2, None, 4, None, 6]
        assert [e["exists"] for e in entries] == [True, True, False, True, False, True]


def test_ad_hoc_state_defaults(session, remote, remote_dir):
    """A script may call routines without a ToolState (one is made per call)."""
    remote.write_bytes(f"{remote_dir}/x", b"x\n")
    assert files.read(session, f"{remote_dir}/x").text == f"     1{ARROW}x"
    # One state per call: the ad hoc Read is not remembered by an ad hoc Write.
    with pytest.raises(ToolError, match="has not been read yet"):
        files.write(session, f"{remote_dir}/x", "y\n")
    assert remote.read_bytes(f"{remote_dir}/x") == b"x\n"


def test_read_only_and_allowed_paths_guards(session, remote, remote_dir) -> None:
    remote.write_bytes(f"{remote_dir}/in.txt", b"x\n")
    guarded = ToolState(info=session.info, read_only=True, allowed_paths=(remote_dir,))
    assert files.read(session, f"{remote_dir}/in.txt", state=guarded).text == f"     1{ARROW}x"
    with pytest.raises(ToolError, match="host remote is read_only, so Write is not available"):
        files.write(session, f"{remote_dir}/new.txt", "y", state=guarded)
    with pytest.raises(ToolError) as err:
        files.read(session, "/etc/hostname", state=guarded)
    assert str(err.value) == (
        f"Refused: /etc/hostname is outside allowed_paths ({remote_dir}) for host remote."
    )
    # A sibling whose name merely starts with the allowed directory is outside it.
    with pytest.raises(ToolError, match="outside allowed_paths"):
        files.read(session, f"{remote_dir}-evil/x", state=guarded)
    with pytest.raises(ToolError, match="outside allowed_paths"):
        files.read(session, f"{remote_dir}/../escape", state=guarded)
    assert not remote.exists(f"{remote_dir}/new.txt")
