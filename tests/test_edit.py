"""Edit and MultiEdit against the real sshd.

Pinned here: Claude Code's exact wording and validation order (reference
sections 3-4), identical results from the three engines (python3 and perl on
the remote, the local fallback), bytes on the wire that follow the edit and
not the file, one command per call, all-or-nothing MultiEdit, the stale-file
precondition, line endings/final newline/mode/owner kept, and hostile names
and contents that never reach the shell.
"""

from __future__ import annotations

import ast
import hashlib
import shlex
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.templates import render
from remote_mcp.testing import remote_exec
from remote_mcp.tools import edit as edit_module
from remote_mcp.tools import files
from remote_mcp.tools.base import HASH_MAX_BYTES, FileRecord, ToolState
from remote_mcp.tools.edit import edit, multi_edit, perl_program, python_program
from tests.conftest import make_host, require_program

ARROW = "\u2192"
BACKENDS = ["python3", "perl", "local"]
REMOTE_ENGINES = ["python3", "perl"]

SAME = "No changes to make: old_string and new_string are exactly the same."
NOT_READ = "File has not been read yet. Read it first before writing to it."
STALE = (
    "File has been modified since read, either by the user or by a linter. "
    "Read it again before attempting to write it."
)
EXISTS = "Cannot create new file - file already exists."
CLASH = "Cannot edit file: old_string is a substring of a new_string from a previous edit."


def updated(path: str, snippet: str) -> str:
    return (
        f"The file {path} has been updated. Here's the result of running `cat -n` on a "
        f"snippet of the edited file:\n{snippet}"
    )


def numbered(first: int, *lines: str) -> str:
    return "\n".join(f"{n:>6}{ARROW}{line}" for n, line in enumerate(lines, first))


def multiple(count: int, old: str, where: str) -> str:
    return (
        f"Found {count} matches of the string to replace, but replace_all is false. To replace "
        "all occurrences, set replace_all to true. To replace only one occurrence, please "
        f"provide more context to uniquely identify the instance.\nString: {old}"
        f"\nMatches at lines: {where}"
    )


def q(path: str) -> str:
    return shlex.quote(path)


def counter(session: Session) -> Callable[[], tuple[int, int, int]]:
    """(commands, bytes sent, bytes received) since this call."""
    before = session.stats.snapshot()

    def delta() -> tuple[int, int, int]:
        after = session.stats.snapshot()
        return tuple(a - b for a, b in zip(after, before, strict=True))  # type: ignore[return-value]

    return delta


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, state: ToolState) -> str:
    """Run the test once per engine (forced by configuration, as a user can)."""
    state.backends["edit"] = request.param
    return request.param


@pytest.fixture
def put(session, state, remote, remote_dir):
    """Create a remote file with exact bytes and Read it, as an agent would."""

    def put(name: str, data: bytes, *, read: bool = True) -> str:
        path = f"{remote_dir}/{name}"
        remote.write_bytes(path, data)
        if read:
            files.read(session, path, offset=1, limit=5, state=state)
        return path

    return put


# -- Edit: output ----------------------------------------------------------------------
class TestEditOutput:
    LINES = b"".join(b"line %d\n" % n for n in range(1, 21))

    def test_snippet_is_four_lines_around_the_change(self, session, state, remote, put, backend):
        p = put("a.txt", self.LINES)
        out = edit(session, p, "line 10", "LINE TEN", state=state)
        around = [f"line {n}" for n in range(6, 15)]
        around[4] = "LINE TEN"
        assert out.text == updated(p, numbered(6, *around))
        assert remote.read_bytes(p) == self.LINES.replace(b"line 10\n", b"LINE TEN\n")

    def test_snippet_grows_with_new_lines(self, session, state, put, backend):
        """CC counts new_string.split(/\\r?\\n/): a trailing newline adds a line."""
        p = put("a.txt", self.LINES)
        out = edit(session, p, "line 3\n", "three\nTHREE\n", state=state)
        assert out.text == updated(
            p,
            numbered(1, "line 1", "line 2", "three", "THREE", *[f"line {n}" for n in range(4, 9)]),
        )

    def test_snippet_at_end_shows_final_newline_as_empty_line(self, session, state, put, backend):
        """CC splits the new file with /\\r?\\n/, so "a\\n" ends with an empty numbered
        line (JS split semantics, as Claude Code shows it)."""
        p = put("a.txt", b"a\nb\nc\n")
        out = edit(session, p, "c", "C", state=state)
        assert out.text == updated(p, numbered(1, "a", "b", "C", ""))

    def test_replace_all_message(self, session, state, remote, put, backend):
        p = put("a.txt", b"foo bar\nfoo\nbarfoo\n")
        out = edit(session, p, "foo", "baz", replace_all=True, state=state)
        assert out.text == (
            f"The file {p} has been updated. All occurrences of 'foo' were successfully "
            "replaced with 'baz'."
        )
        assert out.structured["replacements"] == 3
        assert remote.read_bytes(p) == b"baz bar\nbaz\nbarbaz\n"

    def test_edit_to_empty_file_shows_empty_snippet(self, session, state, remote, put, backend):
        """addLineNumbers returns "" for empty content."""
        p = put("a.txt", b"only")
        assert edit(session, p, "only", "", state=state).text == updated(p, "")
        assert remote.read_bytes(p) == b""

    def test_long_snippet_lines_are_cut_to_2000_chars(self, session, state, put, backend):
        """Not in CC (it prints whole lines); chosen so that an edit inside a
        minified one-line file does not send the whole file back."""
        p = put("min.js", b"x" * 5000 + b"NEEDLE" + b"y" * 5000 + b"\n")
        out = edit(session, p, "NEEDLE", "pin", state=state)
        assert out.text == updated(p, numbered(1, "x" * 2000, ""))


# -- Edit: validation order and error strings --------------------------------------------
class TestEditErrors:
    def test_same_strings_first_and_without_a_remote_command(self, session, state):
        delta = counter(session)
        with pytest.raises(ToolError) as err:
            edit(session, "/nonexistent/file", "x", "x", state=state)
        assert str(err.value) == SAME
        assert delta()[0] == 0

    def test_missing_file(self, session, state, remote_dir, backend):
        with pytest.raises(ToolError) as err:
            edit(session, f"{remote_dir}/nope.txt", "a", "b", state=state)
        assert str(err.value) == "File does not exist."

    def test_missing_file_mentions_cwd_when_it_moved(self, session, state, remote_dir):
        state.cwd = remote_dir
        with pytest.raises(ToolError) as err:
            edit(session, "nope.txt", "a", "b", state=state)
        assert str(err.value) == f"File does not exist. Current working directory: {remote_dir}"

    def test_not_read_yet(self, session, state, remote, put, backend):
        p = put("a.txt", b"hello\n", read=False)
        with pytest.raises(ToolError) as err:
            edit(session, p, "hello", "bye", state=state)
        assert str(err.value) == NOT_READ
        assert remote.read_bytes(p) == b"hello\n"

    def test_stale_after_a_change_behind_our_back(self, session, state, remote, put, backend):
        p = put("a.txt", b"hello\n")
        remote.sh(f"printf 'changed\\n' > {q(p)}")
        with pytest.raises(ToolError) as err:
            edit(session, p, "changed", "mine", state=state)
        assert str(err.value) == STALE
        assert remote.read_bytes(p) == b"changed\n"

    def test_stale_by_size_and_mtime_when_no_hash_is_known(
        self, session, state, remote, put, backend
    ):
        """Files over Read's hash limit are recorded by size+mtime instead."""
        p = put("a.txt", b"hello\n", read=False)
        size, mtime = remote.sh(f"stat -c '%s %y' {q(p)}").strip().split(" ", 1)
        state.files[p] = FileRecord(None, mtime, int(size))
        edit(session, p, "hello", "hi", state=state)  # size+mtime match: accepted
        state.files[p] = FileRecord(None, "2001-01-01 00:00:00.000000000 +0000", 3)
        with pytest.raises(ToolError) as err:
            edit(session, p, "hi", "yo", state=state)
        assert str(err.value) == STALE
        assert remote.read_bytes(p) == b"hi\n"

    def test_a_file_too_big_to_hash_keeps_a_size_and_mtime_record(
        self, session, state, remote, put, backend
    ):
        """Over HASH_MAX_BYTES neither Read nor Edit hashes the file: the session
        keeps its size and mtime, the next Edit checks them, and a change of
        the same size behind our back is still refused."""
        data = b"".join(b"line %07d\n" % i for i in range(HASH_MAX_BYTES // 13 + 10))
        p = put("big.txt", data)
        assert state.files[p].sha256 is None
        out = edit(session, p, "line 0000001\n", "LINE 0000001\n", state=state)
        assert out.structured["sha256"] is None
        assert state.files[p].sha256 is None and state.files[p].size == len(data)
        edit(session, p, "line 0000002\n", "LINE 0000002\n", state=state)
        remote.sh(f"printf X | dd of={q(p)} bs=1 count=1 conv=notrunc 2>/dev/null")
        with pytest.raises(ToolError) as err:
            edit(session, p, "line 0000003\n", "LINE 0000003\n", state=state)
        assert str(err.value) == STALE
        now = remote.read_bytes(p)
        assert now[:26] == b"Xine 0000000\nLINE 0000001\n" and b"line 0000003\n" in now

    def test_not_found(self, session, state, put, backend):
        p = put("a.txt", b"hello\n")
        with pytest.raises(ToolError) as err:
            edit(session, p, "absent\ntext", "x", state=state)
        assert str(err.value) == "String to replace not found in file.\nString: absent\ntext"

    def test_several_matches_names_their_lines(self, session, state, put, backend):
        p = put("a.txt", b"a\nfoo\nb\nfoo foo\nc\n")
        with pytest.raises(ToolError) as err:
            edit(session, p, "foo", "bar", state=state)
        assert str(err.value) == multiple(3, "foo", "2, 4")

    def test_many_matches_list_the_first_20(self, session, state, put, backend):
        p = put("a.txt", b"x\n" * 25)
        with pytest.raises(ToolError) as err:
            edit(session, p, "x", "y", state=state)
        where = ", ".join(str(n) for n in range(1, 21)) + ", ... (5 more)"
        assert str(err.value) == multiple(25, "x", where)

    def test_empty_old_string_on_existing_file(self, session, state, remote, put, backend):
        """CC step 3 comes before the read check: no Read needed to get it."""
        p = put("a.txt", b"content\n", read=False)
        with pytest.raises(ToolError) as err:
            edit(session, p, "", "new", state=state)
        assert str(err.value) == EXISTS
        assert remote.read_bytes(p) == b"content\n"

    def test_notebook(self, session, state, put):
        p = put("n.ipynb", b"{}\n", read=False)
        with pytest.raises(ToolError) as err:
            edit(session, p, "{}", "[]", state=state)
        assert (
            str(err.value) == "File is a Jupyter Notebook. Use the NotebookEdit to edit this file."
        )

    def test_directory(self, session, state, remote_dir, backend):
        with pytest.raises(ToolError) as err:
            edit(session, remote_dir, "a", "b", state=state)
        assert str(err.value) == f"EISDIR: illegal operation on a directory, read '{remote_dir}'"

    def test_fifo_is_refused_without_blocking(self, session, state, remote, remote_dir, backend):
        p = f"{remote_dir}/pipe"
        remote.sh(f"mkfifo {q(p)}")
        state.files[p] = FileRecord("0" * 64, "", 0)
        with pytest.raises(ToolError) as err:
            edit(session, p, "a", "b", state=state)
        assert str(err.value) == f"Cannot edit {p}: it is not a regular file."

    def test_size_limit_of_the_local_fallback(self, session, state, remote, remote_dir):
        """The fallback copies the file both ways, so it stops at 32MB (checked
        on the remote before anything moves)."""
        state.backends["edit"] = "local"
        p = f"{remote_dir}/huge.txt"
        remote.sh(f"truncate -s 40M {q(p)}")
        state.files[p] = FileRecord(None, "", 40 << 20)
        delta = counter(session)
        with pytest.raises(ToolError) as err:
            edit(session, p, "a", "b", state=state)
        assert str(err.value) == (
            "File is too large to edit (40MB; the limit without python3 or perl on the remote "
            "is 32MB). Use Bash (for example sed -i) to change this file."
        )
        assert delta()[2] < 16 * 1024

    def test_non_utf8_file_is_refused_untouched(self, session, state, remote, put, backend):
        data = b"caf\xe9 ok\nmore\n"
        p = put("latin1.txt", data)
        with pytest.raises(ToolError) as err:
            edit(session, p, "ok", "fine", state=state)
        assert str(err.value) == (
            f"Cannot edit {p}: it is not valid UTF-8 text (the first invalid byte is at offset "
            "3). Edit changes only UTF-8 text, so nothing was written; use Bash (for example "
            "iconv, or sed) to change this file."
        )
        assert remote.read_bytes(p) == data

    def test_requote_to_identical_text_fails(self, session, state, put, backend):
        """old_string found only through quote folding, and new_string equal to
        the file's text: nothing changes, CC's engine says so."""
        p = put("a.txt", "say \u201chi\u201d\n".encode())
        with pytest.raises(ToolError) as err:
            edit(session, p, 'say "hi"', "say \u201chi\u201d", state=state)
        assert str(err.value) == "String not found in file. Failed to apply edit."

    def test_read_only_host(self, session, state):
        state.read_only = True
        with pytest.raises(ToolError, match="read_only"):
            edit(session, "/tmp/x", "a", "b", state=state)


# -- Edit: matching and bytes kept ----------------------------------------------------------
class TestMatching:
    def test_straight_quotes_match_curly_ones(self, session, state, remote, put, backend):
        p = put("q.txt", "print(\u201chello\u201d)\nit\u2019s\n".encode())
        edit(session, p, 'print("hello")', 'print("bye")', state=state)
        edit(session, p, "it's", "it is", state=state)
        assert remote.read_bytes(p) == b'print("bye")\nit is\n'

    def test_curly_quotes_match_straight_ones(self, session, state, remote, put, backend):
        p = put("q.txt", b"x = 'a'\n")
        edit(session, p, "x = \u2018a\u2019", "x = 'b'", state=state)
        assert remote.read_bytes(p) == b"x = 'b'\n"

    def test_crlf_file_stays_crlf(self, session, state, remote, put, backend):
        p = put("w.txt", b"one\r\ntwo\r\nthree\r\n")
        out = edit(session, p, "one\ntwo", "1\n2\n2.5", state=state)
        assert remote.read_bytes(p) == b"1\r\n2\r\n2.5\r\nthree\r\n"
        assert out.text == updated(p, numbered(1, "1", "2", "2.5", "three", ""))

    def test_mixed_line_endings_outside_the_edit_are_untouched(
        self, session, state, remote, put, backend
    ):
        """Deviation, deliberate: CC rewrites every line ending to the file's
        majority style; here only the replaced text changes."""
        p = put("m.txt", b"a\r\nb\nc\r\nd\n")
        edit(session, p, "b\nc", "B\nC", state=state)
        assert remote.read_bytes(p) == b"a\r\nB\nC\r\nd\n"

    def test_missing_final_newline_stays_missing(self, session, state, remote, put, backend):
        p = put("n.txt", b"x\ny")
        edit(session, p, "y", "z", state=state)
        assert remote.read_bytes(p) == b"x\nz"

    def test_deleting_a_line_takes_its_newline(self, session, state, remote, put, backend):
        """CC applyEditToFile: new_string "" and old_string + "\\n" present."""
        p = put("d.txt", b"keep\ndrop\nkeep2\n")
        out = edit(session, p, "drop", "", state=state)
        assert remote.read_bytes(p) == b"keep\nkeep2\n"
        assert out.text == updated(p, numbered(1, "keep", "keep2", ""))

    def test_delete_all_takes_every_occurrence(self, session, state, remote, put, backend):
        """Deviation, deliberate: CC's replaceAll(old + "\\n") would leave the
        "drop" that is not followed by a newline; here every one goes."""
        p = put("d.txt", b"drop x\ndrop\nz\n")
        edit(session, p, "drop", "", replace_all=True, state=state)
        assert remote.read_bytes(p) == b" x\nz\n"

    def test_bom_and_unicode_survive(self, session, state, remote, put, backend):
        p = put("u.txt", "\ufeffh\u00e9llo w\u00f6rld \u2603\n".encode())
        edit(session, p, "w\u00f6rld", "\u4e16\u754c", state=state)
        assert remote.read_bytes(p) == "\ufeffh\u00e9llo \u4e16\u754c \u2603\n".encode()


# -- Edit: creating files ---------------------------------------------------------------------
class TestCreate:
    def test_empty_old_string_creates_missing_file_and_dirs(
        self, session, state, remote, remote_dir, backend
    ):
        p = f"{remote_dir}/new/sub/f.txt"
        out = edit(session, p, "", "hello\nworld\n", state=state)
        assert out.text == updated(p, numbered(1, "hello", "world", ""))
        assert remote.read_bytes(p) == b"hello\nworld\n"
        assert state.files[p].sha256 == hashlib.sha256(b"hello\nworld\n").hexdigest()

    def test_blank_existing_file_may_be_filled_without_read(
        self, session, state, remote, put, backend
    ):
        """UNCONFIRMED in CC: validateInput returns early for an existing blank
        file with old_string "" (no read check). Chosen: allowed, content replaced."""
        p = put("b.txt", b"  \n\n", read=False)
        edit(session, p, "", "filled\n", state=state)
        assert remote.read_bytes(p) == b"filled\n"


# -- Edit: state, budget, file attributes ---------------------------------------------------
class TestState:
    def test_one_command_after_read_and_next_edit_needs_no_read(self, session, state, put, backend):
        p = put("a.txt", b"v1\n")
        delta = counter(session)
        edit(session, p, "v1", "v2", state=state)
        edit(session, p, "v2", "v3", state=state)
        expected = 2 if backend == "local" else 1
        assert delta()[0] == 2 * expected

    def test_auto_backend_probes_once_at_most_two_commands(self, session, remote, remote_dir):
        state = ToolState(host_name="test", cwd=None)  # nothing known about the remote
        p = f"{remote_dir}/a.txt"
        remote.write_bytes(p, b"one\n")
        state.files[p] = FileRecord(hashlib.sha256(b"one\n").hexdigest(), "", 4)
        delta = counter(session)
        first = edit(session, p, "one", "two", state=state)
        assert delta()[0] == 2 and first.structured["backend"] == "python3"
        edit(session, p, "two", "three", state=state)
        assert delta()[0] == 3

    def test_too_old_python3_falls_back_once(self, sshd, remote, put, monkeypatch):
        """A python3 that cannot compile the program (older than 3.6) fails
        before touching the file -- as the resident engine, which then never
        starts, and run once -- and auto mode uses perl from then on. A
        session of its own: the shared one's shells have engines running."""
        old_python = "f'{'\n"
        monkeypatch.setattr(edit_module, "python_program", lambda: old_python)
        monkeypatch.setattr(edit_module, "resident_program", lambda: old_python)
        fresh = Session(make_host(sshd))
        try:
            fresh.connect()
            state = ToolState(host_name="test", info=fresh.info)
            p = put("old.txt", b"v1\n", read=False)
            state.files[p] = FileRecord(hashlib.sha256(b"v1\n").hexdigest(), "", 3)
            assert edit(fresh, p, "v1", "v2", state=state).structured["backend"] == "perl"
            assert edit(fresh, p, "v2", "v3", state=state).structured["backend"] == "perl"
        finally:
            fresh.close()
        assert remote.read_bytes(p) == b"v3\n"

    def test_large_new_string(self, session, state, remote, put, backend):
        big = "".join(f"{n} \u2603 '$x' `y`\n" for n in range(20000))  # about 400 KB
        p = put("big.txt", b"head\nMARK\ntail\n")
        edit(session, p, "MARK\n", big, state=state)
        assert remote.read_bytes(p) == b"head\n" + big.encode() + b"tail\n"

    def test_mode_owner_kept_no_temp_left(self, session, state, remote, remote_dir, put, backend):
        p = put("x.sh", b"#!/bin/sh\necho hi\n", read=False)
        remote.sh(f"chmod 0751 {q(p)} && chown 65534:65534 {q(p)}")
        files.read(session, p, state=state)
        edit(session, p, "hi", "ho", state=state)
        assert remote.sh(f"stat -c '%a %u:%g' {q(p)}").strip() == "751 65534:65534"
        assert remote.sh(f"ls -A {q(remote_dir)}").split() == ["x.sh"]

    def test_symlink_is_followed_and_kept(self, session, state, remote, remote_dir, backend):
        target, link = f"{remote_dir}/target.txt", f"{remote_dir}/link.txt"
        remote.write_bytes(target, b"real\n")
        remote.sh(f"ln -s target.txt {q(link)}")
        files.read(session, link, state=state)
        edit(session, link, "real", "edited", state=state)
        assert remote.sh(f"readlink {q(link)}").strip() == "target.txt"
        assert remote.read_bytes(target) == b"edited\n"

    def test_record_is_updated_for_the_next_tools(self, session, state, remote, put, backend):
        p = put("a.txt", b"abc\n")
        out = edit(session, p, "b", "B", state=state)
        record = state.files[p]
        assert record.sha256 == hashlib.sha256(b"aBc\n").hexdigest() == out.structured["sha256"]
        assert record.size == 4
        assert record.mtime == remote.sh(f"stat -c %y {q(p)}").strip()
        files.write(session, p, "written\n", state=state)  # Write accepts Edit's record


# -- MultiEdit -----------------------------------------------------------------------------
class TestMultiEdit:
    def test_success_summary(self, session, state, remote, put, backend):
        p = put("m.txt", b"alpha beta gamma\n")
        out = multi_edit(
            session,
            p,
            [
                {"old_string": "alpha", "new_string": "ALPHA"},
                {"old_string": "gamma", "new_string": "GAMMA", "replace_all": False},
            ],
            state=state,
        )
        assert out.text == (
            f'Applied 2 edits to {p}:\n1. Replaced "alpha" with "ALPHA"\n'
            '2. Replaced "gamma" with "GAMMA"'
        )
        assert remote.read_bytes(p) == b"ALPHA beta GAMMA\n"

    def test_one_edit_and_long_strings_cut_at_50(self, session, state, put, backend):
        long_old, long_new = "o" * 60, "n" * 51
        p = put("m.txt", long_old.encode() + b"\n")
        out = multi_edit(
            session, p, [{"old_string": long_old, "new_string": long_new}], state=state
        )
        assert (
            out.text == f'Applied 1 edit to {p}:\n1. Replaced "{"o" * 50}..." with "{"n" * 50}..."'
        )

    def test_edits_apply_in_order_to_the_running_result(self, session, state, remote, put, backend):
        p = put("m.txt", b"foo bar\nfoo\n")
        multi_edit(
            session,
            p,
            [
                {"old_string": "foo ", "new_string": "FOO "},
                {"old_string": "FOO bar", "new_string": "done"},
                {"old_string": "foo", "new_string": "x", "replace_all": True},
            ],
            state=state,
        )
        assert remote.read_bytes(p) == b"done\nx\n"

    def test_failing_edit_leaves_file_byte_identical(self, session, state, remote, put, backend):
        data = b"one\r\ntwo\r\nthree"
        p = put("m.txt", data)
        with pytest.raises(ToolError) as err:
            multi_edit(
                session,
                p,
                [
                    {"old_string": "one", "new_string": "1"},
                    {"old_string": "nope", "new_string": "2"},
                    {"old_string": "three", "new_string": "3"},
                ],
                state=state,
            )
        assert str(err.value) == "Edit 2 of 3: String to replace not found in file.\nString: nope"
        assert remote.read_bytes(p) == data

    def test_multiple_matches_in_a_later_edit(self, session, state, put, backend):
        p = put("m.txt", b"a b\nb\n")
        with pytest.raises(ToolError) as err:
            multi_edit(
                session,
                p,
                [
                    {"old_string": "a", "new_string": "A"},
                    {"old_string": "b", "new_string": "B"},
                ],
                state=state,
            )
        assert str(err.value) == "Edit 2 of 2: " + multiple(2, "b", "1, 2")

    def test_same_strings_named_by_index_without_remote_command(self, session, state, put):
        p = put("m.txt", b"x\n")
        delta = counter(session)
        with pytest.raises(ToolError) as err:
            multi_edit(
                session,
                p,
                [{"old_string": "x", "new_string": "y"}, {"old_string": "z", "new_string": "z"}],
                state=state,
            )
        assert str(err.value) == f"Edit 2 of 2: {SAME}"
        assert delta()[0] == 0

    def test_old_string_inside_earlier_new_string(self, session, state, remote, put, backend):
        p = put("m.txt", b"a y\n")
        with pytest.raises(ToolError) as err:
            multi_edit(
                session,
                p,
                [
                    {"old_string": "a", "new_string": "xyz"},
                    {"old_string": "y\n", "new_string": "Y"},
                ],
                state=state,
            )
        assert str(err.value) == f"Edit 2 of 2: {CLASH}"
        assert remote.read_bytes(p) == b"a y\n"

    def test_edits_that_cancel_out(self, session, state, put, backend):
        p = put("m.txt", b"ab\n")
        with pytest.raises(ToolError) as err:
            multi_edit(
                session,
                p,
                [{"old_string": "a", "new_string": "c"}, {"old_string": "cb", "new_string": "ab"}],
                state=state,
            )
        assert str(err.value) == "Original and edited file match exactly. Failed to apply edit."

    def test_create(self, session, state, remote, remote_dir, backend):
        p = f"{remote_dir}/made.txt"
        out = multi_edit(
            session, p, [{"old_string": "", "new_string": "hello world\n"}], state=state
        )
        assert out.text == f'Applied 1 edit to {p}:\n1. Replaced "" with "hello world\n"'
        assert remote.read_bytes(p) == b"hello world\n"

    def test_create_then_edit_the_new_text_is_refused(
        self, session, state, remote, remote_dir, backend
    ):
        """MultiEdit's rule (v1.0.128) covers the created text too; nothing is created."""
        p = f"{remote_dir}/made.txt"
        with pytest.raises(ToolError) as err:
            multi_edit(
                session,
                p,
                [
                    {"old_string": "", "new_string": "hello world\n"},
                    {"old_string": "world", "new_string": "there"},
                ],
                state=state,
            )
        assert str(err.value) == f"Edit 2 of 2: {CLASH}"
        assert not remote.exists(p)

    def test_file_level_errors_have_no_index(self, session, state, put, backend):
        p = put("m.txt", b"x\n", read=False)
        with pytest.raises(ToolError) as err:
            multi_edit(session, p, [{"old_string": "x", "new_string": "y"}], state=state)
        assert str(err.value) == NOT_READ

    def test_no_edits(self, session, state):
        with pytest.raises(ToolError, match="At least one edit is required"):
            multi_edit(session, "/tmp/x", [], state=state)


# -- Bytes on the wire ---------------------------------------------------------------------
@pytest.fixture
def ten_mb(session, state, remote, remote_dir) -> str:
    p = f"{remote_dir}/big.txt"
    remote.sh(f"seq 1 1400000 > {q(p)}")
    assert int(remote.sh(f"stat -c %s {q(p)}")) > 10_000_000
    files.read(session, p, offset=700000, limit=2, state=state)
    return p


@pytest.mark.parametrize("engine", REMOTE_ENGINES)
def test_one_line_edit_of_10mb_moves_under_64kb(session, state, remote, ten_mb, engine):
    state.backends["edit"] = engine
    delta = counter(session)
    out = edit(session, ten_mb, "\n700000\n", "\nseven hundred thousand\n", state=state)
    commands, sent, received = delta()
    assert (commands, sent + received < 64 * 1024) == (1, True), (sent, received)
    assert remote.sh(f"sed -n '699999,700001p' {q(ten_mb)}") == (
        "699999\nseven hundred thousand\n700001\n"
    )
    assert numbered(700000, "seven hundred thousand") in out.text


@pytest.mark.parametrize("engine", REMOTE_ENGINES)
def test_five_edits_of_10mb_are_one_command_under_64kb(session, state, remote, ten_mb, engine):
    state.backends["edit"] = engine
    edits = [
        {"old_string": f"\n{n}\n", "new_string": f"\nline {n}\n"}
        for n in (100000, 300000, 500000, 700000, 900000)
    ]
    delta = counter(session)
    multi_edit(session, ten_mb, edits, state=state)
    commands, sent, received = delta()
    assert (commands, sent + received < 64 * 1024) == (1, True), (sent, received)
    assert remote.sh(f"sed -n '899999,900001p' {q(ten_mb)}") == "899999\nline 900000\n900001\n"


def test_an_edit_refuses_a_file_changed_after_its_check(session, state, remote, remote_dir):
    """The local fallback's shell commit re-checks size, mtime and inode, not
    a second hash: a file replaced between the upload's check and the commit
    is reported as stale. (The engines' own re-check: test_edit_engines.py.)"""
    p = f"{remote_dir}/raced.txt"
    remote.write_bytes(p, b"one\n")
    files.read(session, p, state=state)
    script = render(
        "edit.sh.j2",
        path=p,
        engine="upload",
        engine_expect="any",
        content=b"two\n",
        hash_max=1 << 20,
        expect={"sha256": hashlib.sha256(b"one\n").hexdigest()},
        create=0,
        notebook=0,
        max_size=1 << 20,
        token="RMCP_EOF_" + uuid.uuid4().hex,
        refused=10,
        allowed=[remote_dir],
    )
    # Swap the file (same size, new inode) between the upload and the commit,
    # as a concurrent writer would.
    swap = f"printf 'uno\\n' > {q(p)}.new; mv {q(p)}.new {q(p)}; "
    raced = script.replace("\nrmcp_exists=1\n", "\n" + swap + "rmcp_exists=1\n", 1)
    assert raced != script
    reply = session.run(raced, warn=True).stdout
    assert reply.strip().splitlines()[-1] == "stale"
    assert remote.read_bytes(p) == b"uno\n"


def test_local_fallback_report_on_10mb(session, state, remote, ten_mb, request):
    """The fallback moves the file both ways (fetch raw, upload base64 which
    SSH compression shrinks); recorded for the report, bounded here."""
    state.backends["edit"] = "local"
    size = int(remote.sh(f"stat -c %s {q(ten_mb)}"))
    delta = counter(session)
    edit(session, ten_mb, "\n700000\n", "\nseven hundred thousand\n", state=state)
    commands, sent, received = delta()
    request.node.user_properties.append(("local_fallback_bytes", (size, sent, received)))
    print(
        f"\nlocal fallback, {size} byte file: {commands} commands, "
        f"{sent} bytes sent, {received} bytes received"
    )
    assert commands == 2
    assert received + sent > size // 10  # it really moved the file (compressed)
    assert remote.sh(f"sed -n 700000p {q(ten_mb)}") == "seven hundred thousand\n"


# -- Hostile names and contents ------------------------------------------------------------
CANARY = f"CANARY_{uuid.uuid4().hex[:8]}"
HOSTILE_NAMES = [
    "with space.txt",
    'it\'s "quoted".txt',
    f"$(touch {CANARY}).txt",
    f"`touch {CANARY}`.txt",
    f"a;touch {CANARY};b.txt",
    "new\nline.txt",
    "-leading-dash.txt",
    "\u00fcn\u00efc\u00f8d\u00e9 \u2603.txt",
    b"latin1-\xe9\xff.txt".decode("utf-8", "surrogateescape"),
    "RMCP_EOF_0.txt",
]
HOSTILE_TEXT = f"$(touch {CANARY}) `touch {CANARY}` ' \" \\ RMCP_EOF_0\n"


def assert_no_canary(remote, remote_dir: str) -> None:
    found = remote.sh(
        f"ls -d ~/{CANARY} {q(remote_dir)}/{CANARY} /{CANARY} /tmp/{CANARY} 2>/dev/null || true"
    )
    assert found == ""


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
def test_hostile_names_through_edit_and_multiedit(session, state, remote, remote_dir, put, name):
    p = put(name, b"start\n")
    edit(session, p, "start", HOSTILE_TEXT, state=state)
    multi_edit(
        session,
        p,
        [
            {"old_string": "' \" \\", "new_string": "Q"},
            {"old_string": "RMCP_EOF_0", "new_string": "EOF"},
        ],
        state=state,
    )
    expected = (HOSTILE_TEXT + "\n").replace("' \" \\", "Q").replace("RMCP_EOF_0", "EOF")
    assert remote.read_bytes(p) == expected.encode()
    assert_no_canary(remote, remote_dir)


@pytest.mark.parametrize("engine", BACKENDS)
def test_hostile_name_and_content_per_engine(session, state, remote, remote_dir, put, engine):
    state.backends["edit"] = engine
    name = f"-$(touch {CANARY}) `x`\n" + b"\xfe".decode("utf-8", "surrogateescape")
    p = put(name, HOSTILE_TEXT.encode())
    edit(session, p, "' \" \\", "ok", state=state)
    assert remote.read_bytes(p) == HOSTILE_TEXT.replace("' \" \\", "ok").encode()
    assert_no_canary(remote, remote_dir)


# -- One engine, three implementations -------------------------------------------------------
PIECES = [
    "a",
    "b",
    "ab",
    "\n",
    "\r\n",
    "\r",
    "'",
    '"',
    "\u2018",
    "\u2019",
    "\u201c",
    "\u201d",
    " ",
    "\u00e9",
    "\u2603",
    "\t",
    "\\",
    "\\1",
    "$1",
    "@x",
    "&",
]
texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
edit_lists = st.lists(
    st.fixed_dictionaries({"old_string": texts, "new_string": texts, "replace_all": st.booleans()}),
    min_size=1,
    max_size=3,
)
contents = st.one_of(
    texts.map(lambda t: t.encode()),
    st.binary(max_size=12).filter(lambda b: b"\0" not in b),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=contents, edits=edit_lists)
def test_engines_agree(session, remote, remote_dir, data, edits):
    """python3, perl and the local fallback: same message or same error, and
    the same bytes on the remote, for arbitrary text, quotes and line endings."""
    paths = [f"{remote_dir}/agree-{engine}.txt" for engine in BACKENDS]
    seed = " && ".join([f"cat > {q(paths[0])}"] + [f"cp {q(paths[0])} {q(p)}" for p in paths[1:]])
    assert remote_exec(remote.server, seed, input=data)[0] == 0
    texts = []
    for engine, p in zip(BACKENDS, paths, strict=True):
        state = ToolState(host_name="test", info=session.info, backends={"edit": engine})
        state.files[p] = FileRecord(hashlib.sha256(data).hexdigest(), "", len(data))
        try:
            texts.append(multi_edit(session, p, edits, state=state).text.replace(p, "PATH"))
        except ToolError as err:
            texts.append("error: " + str(err).replace(p, "PATH"))
    dump = remote.sh("; ".join(f"base64 -w0 {q(p)}; echo" for p in paths)).split("\n")
    assert texts[0] == texts[1] == texts[2]
    assert dump[0] == dump[1] == dump[2]


@pytest.mark.parametrize("engine", BACKENDS)
def test_single_edit_snippets_agree(session, state, remote, put, engine):
    """Snippet windows near both ends, CRLF and a last line without newline."""
    state.backends["edit"] = engine
    data = b"".join(b"l%d\r\n" % n for n in range(1, 8)) + b"end"
    p = put("s.txt", data)
    out = edit(session, p, "l2\nl3", "two\nthree\nmore", state=state)
    assert out.text == updated(p, numbered(1, "l1", "two", "three", "more", "l4", "l5", "l6", "l7"))
    out = edit(session, p, "end", "fin", state=state)
    assert out.text == updated(p, numbered(5, "l4", "l5", "l6", "l7", "fin"))


# -- The shipped programs -----------------------------------------------------------------------
def test_python_program_is_python36_syntax():
    ast.parse(python_program(), feature_version=(3, 6))


@pytest.mark.skipif(
    not Path("/root/.pyenv/versions/3.6.15/bin/python3").exists(), reason="no python 3.6 here"
)
def test_python_program_runs_on_python36(tmp_path):
    """Remotes such as RHEL 8 ship python 3.6: run the program there (locally:
    this checks the interpreter version, not the remote)."""
    src = tmp_path / "src"
    old = b"x\r\nhello \xe2\x80\x9cworld\xe2\x80\x9d\r\ny\r\n"
    src.write_bytes(old)
    request = b"1\naGVsbG8gIndvcmxkIg==\nYnll\n00\n"  # 'hello "world"' -> 'bye'
    run = subprocess.run(
        [
            "/root/.pyenv/versions/3.6.15/bin/python3",
            "-I",
            "-S",
            "-c",
            python_program(),
            str(src),
            str(tmp_path / "tmp"),
            str(tmp_path / "bak"),
            "sha256",
            hashlib.sha256(old).hexdigest(),
            "0",
            "99",
            "99",
        ],
        input=request,
        capture_output=True,
        timeout=30,
    )
    assert (run.returncode, run.stderr) == (0, b"")
    assert run.stdout.startswith(b"ok 1 1 ")
    assert src.read_bytes() == b"x\r\nbye\r\ny\r\n"
    assert b"\ndone " + hashlib.sha256(src.read_bytes()).hexdigest().encode() in run.stdout


@pytest.mark.parametrize(
    "shell", [["dash", "-n"], ["busybox", "sh", "-n"]], ids=["dash", "busybox"]
)
@pytest.mark.parametrize("engine", ["python3", "perl", "fetch", "upload"])
@pytest.mark.parametrize("resident", [False, True], ids=["once", "resident"])
def test_template_is_posix_sh(engine, resident, shell, tmp_path):
    """Rendered with hostile values, every variant parses under dash and busybox sh."""
    require_program(shell[0])
    script = render(
        "edit.sh.j2",
        engine=engine,
        resident=resident,
        engine_key="ekey",
        program=python_program(),
        refused=10,
        content=b"x\n",
        engine_expect=FileRecord(None, HOSTILE_TEXT, 1),
        hash_max=1 << 20,
        edits=[{"old": HOSTILE_TEXT.encode(), "new": b"", "replace_all": 1, "clash": 0}],
        path="/tmp/" + HOSTILE_NAMES[2],
        expect=FileRecord("ab" * 32, "m", 1),
        create=0,
        notebook=0,
        max_size=1 << 30,
        token="RMCP_EOF_abc",
    )
    run = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=30)
    assert run.returncode == 0, (shell, run.stderr)


@pytest.mark.parametrize("engine", REMOTE_ENGINES)
def test_runs_under_plain_sh_on_the_remote(session, state, remote, put, engine):
    """The remote may have no bash: run the rendered command under /bin/sh."""
    p = put("sh.txt", b"plain sh\n")
    program = python_program() if engine == "python3" else perl_program()
    script = render(
        "edit.sh.j2",
        engine=engine,
        program=program,
        refused=10,
        path=p,
        engine_expect="any",
        hash_max=1 << 20,
        edits=[{"old": b"plain", "new": b"posix", "replace_all": 0, "clash": 0}],
        expect=state.files[p],
        create=0,
        notebook=0,
        max_size=1 << 30,
        token="RMCP_EOF_abc",
    )
    reply = remote.sh(f"/bin/sh -c {q(script)}")
    assert reply.startswith("ok 1 1 ") and "\ndone " in reply
    assert remote.read_bytes(p) == b"posix sh\n"


def test_server_handlers_dispatch_edit_and_multiedit(session, state, remote, put, host_config):
    from remote_mcp.handlers import CallEnv, call_routine
    from remote_mcp.schemas import TOOLS

    env = CallEnv(session=session, state=state, host=host_config)
    p = put("h.txt", b"one two\n")
    args = TOOLS["Edit"].model.model_validate(
        {"file_path": p, "old_string": "one", "new_string": "1"}
    )
    assert call_routine(TOOLS["Edit"], env, args).text == updated(p, numbered(1, "1 two", ""))
    args = TOOLS["MultiEdit"].model.model_validate(
        {"file_path": p, "edits": [{"old_string": "two", "new_string": "2"}]}
    )
    assert call_routine(TOOLS["MultiEdit"], env, args).text == (
        f'Applied 1 edit to {p}:\n1. Replaced "two" with "2"'
    )
    assert remote.read_bytes(p) == b"1 2\n"
