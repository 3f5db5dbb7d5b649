"""The templates' replies, parsed into typed values, and the one refusal table
that words them for every tool. Pure functions: no sshd (``invoke test --fast``)."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from remote_mcp.tools.base import ToolState
from remote_mcp.tools.edit_replies import (
    Committed,
    EngineReply,
    EngineWord,
    Fetched,
    parse_committed,
    parse_engine_reply,
    parse_fetched,
)
from remote_mcp.tools.file_stat import PathKind, StatRow, parse_stat_reply
from remote_mcp.tools.files import ReadReply, ReadStatus, parse_read_reply
from remote_mcp.tools.refusals import Refusal, Refused, parse_refusal, refusal_error
from remote_mcp.tools.search_replies import SearchStatus, parse_search_reply
from remote_mcp.tools.write import WriteStatus, Written, parse_write_reply

NOT_READ = "File has not been read yet. Read it first before writing to it."
STALE = (
    "File has been modified since read, either by the user or by a linter. "
    "Read it again before attempting to write it."
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def message(line: str, access: str = "read", state: object = None) -> str:
    refused = parse_refusal(line)
    assert refused is not None, line
    state = state or ToolState(host_name="box", allowed_paths=("/srv",))
    return str(refusal_error(refused, path="/p", state=state, access=access, backup="/b"))  # type: ignore[arg-type]


def test_parse_refusal_reads_the_word_and_keeps_the_rest() -> None:
    assert parse_refusal("refused L2V0Yw==\n") == Refused(Refusal.OUTSIDE_GUARD, "L2V0Yw==")
    assert parse_refusal("failed tmp No space left on device ") == Refused(
        Refusal.FAILED, "tmp No space left on device"
    )
    assert parse_refusal("notread") == Refused(Refusal.NOT_READ)
    assert parse_refusal("ok 12 abc") is None
    assert parse_refusal("") is None


@pytest.mark.parametrize(
    ("line", "access", "expected"),
    [
        ("notread", "write", NOT_READ),
        ("stale", "read", STALE),
        ("isdir", "write", "EISDIR: illegal operation on a directory, open '/p'"),
        ("isdir", "read", "EISDIR: illegal operation on a directory, read '/p'"),
        ("unreadable", "read", "EACCES: permission denied, open '/p'"),
        ("unreadable", "glob", "EACCES: permission denied, scandir '/p'"),
        ("unreadable", "grep", "EACCES: permission denied, scandir '/p'"),
        ("denied", "write", "EACCES: permission denied, open '/p'"),
        ("missing", "read", "File does not exist."),
        ("missing", "glob", "Directory does not exist: /p"),
        ("missing", "grep", "Path does not exist: /p"),
        ("notdir", "glob", "Path is not a directory: /p"),
        ("notregular", "read", "Cannot edit /p: it is not a regular file."),
        ("notebook", "read", "File is a Jupyter Notebook. Use the NotebookEdit to edit this file."),
        ("badlink", "write", "Cannot resolve the symbolic link /p on the remote."),
        ("mkdir", "write", "Cannot create the parent directory of /p on the remote."),
        (
            "failed tmp No space left on device",
            "write",
            "ENOSPC: no space left on device, write '/p'",
        ),
        ("failed rename File name too long", "write", "ENAMETOOLONG: name too long, open '/p'"),
        (
            "failed tmp Permission denied",
            "write",
            "EACCES: permission denied, open '/p' (the new content goes first to a temporary "
            "file beside it, so its directory must be writable)",
        ),
        ("failed copy weird thing", "write", "Cannot write /p on the remote: weird thing"),
        ("failed copy", "write", "Cannot write /p on the remote: unknown error"),
        (
            "corrupt",
            "write",
            "Writing /p in place failed and so did restoring it: its content may be incomplete. "
            "The previous content is kept on the remote in /b; copy it back (Bash: cat BACKUP > "
            "FILE) before doing anything else.",
        ),
        (
            f"refused {b64('/etc/p')}",
            "read",
            "Refused: /p resolves to /etc/p, outside allowed_paths (/srv) for host box.",
        ),
        (
            "refused -",
            "read",
            "Refused: /p cannot be resolved on box (a symlink loop, a directory "
            "that cannot be entered, or '..' below a missing directory), and allowed_paths (/srv) "
            "for host box need every path resolved.",
        ),
    ],
)
def test_one_table_words_every_refusal(line: str, access: str, expected: str) -> None:
    assert message(line, access) == expected


def test_a_missing_file_names_the_cwd_when_the_shell_moved() -> None:
    state = SimpleNamespace(cwd="/work", info=SimpleNamespace(home="/home/u"))
    assert (
        message("missing", state=state) == "File does not exist. Current working directory: /work"
    )


def test_every_refusal_word_has_a_message() -> None:
    for word in Refusal:
        for access in ("read", "write", "glob", "grep"):
            assert message(f"{word} -", access)


def test_read_replies() -> None:
    ok = parse_read_reply(b"ok 6 abc123 0 2026-01-02 03:04:05.1 +0000\none\ntwo\n")
    assert ok == ReadReply(
        ReadStatus.TEXT,
        6,
        sha256="abc123",
        mtime="2026-01-02 03:04:05.1 +0000",
        final_newline=False,
        body=b"one\ntwo\n",
    )
    short = parse_read_reply(b"short 3 12 - 2026-01-02 03:04:05 +0000")
    assert short == ReadReply(ReadStatus.SHORT, 12, 3, None, "2026-01-02 03:04:05 +0000")
    assert parse_read_reply(b"image 5\nQUJD\n") == ReadReply(ReadStatus.IMAGE, 5, body=b"QUJD\n")
    assert parse_read_reply(b"toolarge 999") == ReadReply(ReadStatus.TOO_LARGE, 999)
    assert parse_read_reply(b"special fifo") == ReadReply(ReadStatus.SPECIAL, kind="fifo")
    assert parse_read_reply(b"directory") == ReadReply(ReadStatus.DIRECTORY)
    assert parse_read_reply(b"missing") == Refused(Refusal.MISSING)
    assert parse_read_reply(b"bogus 1 2") is None


def test_write_replies() -> None:
    assert parse_write_reply("created 2026-01-02 03:04:05 +0000\n") == Written(
        WriteStatus.CREATED, "2026-01-02 03:04:05 +0000"
    )
    assert parse_write_reply("updated T") == Written(WriteStatus.UPDATED, "T")
    assert parse_write_reply("stale\n") == Refused(Refusal.STALE)
    assert parse_write_reply("") is None


def test_stat_replies() -> None:
    rows = parse_stat_reply(
        "0 file 12 644 u g 1700000000\n"
        f"1 symlink 4 777 u g 1700000000 {b64('../t' + chr(10))} missing\n"
        "2 missing\n"
        "3 refused\n"
        "noise\n"
    )
    assert rows == {
        0: StatRow(PathKind.FILE, 12, "644", "u", "g", 1700000000),
        1: StatRow(PathKind.SYMLINK, 4, "777", "u", "g", 1700000000, "../t", "missing"),
        2: None,
        3: Refused(Refusal.OUTSIDE_GUARD, ""),
    }


def test_edit_replies() -> None:
    assert parse_engine_reply(f"ok 2 7 {b'a'.hex()}") == EngineReply(
        EngineWord.OK, replaced=2, first_line=7, snippet=b"a"
    )
    assert parse_engine_reply("ok 1 -") == EngineReply(EngineWord.OK, replaced=1)
    assert parse_engine_reply("multiple 1 3 4,9") == EngineReply(
        EngineWord.MULTIPLE, index=1, count=3, lines=(4, 9)
    )
    assert parse_engine_reply("notutf8 17") == EngineReply(EngineWord.NOT_UTF8, offset=17)
    assert parse_engine_reply("notfound 2") == EngineReply(EngineWord.NOT_FOUND, index=2)
    assert parse_engine_reply("identical") == EngineReply(EngineWord.IDENTICAL)
    assert parse_engine_reply("notread") is None  # a refusal: refusals.py words it
    assert parse_committed("done abc 10 2026-01-02 03:04:05 +0000") == Committed(
        "abc", 10, "2026-01-02 03:04:05 +0000"
    )
    assert parse_committed("stale") is None
    assert parse_fetched(b"content 3 0\nabcdef") == Fetched(b"abc", 3, False)
    assert parse_fetched(b"content 5 1\nab") == Fetched(b"ab", 5, True)
    assert parse_fetched(b"missing\n") is None


# -- Glob's and Grep's replies --------------------------------------------------------------
@pytest.mark.parametrize("word", list(SearchStatus))
def test_search_status_words_parse_with_their_body(word: SearchStatus) -> None:
    reply = parse_search_reply(f"{word}\nsrc/a.py\x00b\xff")
    assert reply.status is word
    assert reply.body == "src/a.py\x00b\xff".encode("utf-8", "surrogateescape")


def test_a_search_refusal_is_the_refusal_and_an_unknown_word_is_none() -> None:
    refused = parse_search_reply("missing\n")
    assert refused.status == Refused(Refusal.MISSING, "")
    assert parse_search_reply("what?\nrest").status is None
    assert parse_search_reply("").status is None
