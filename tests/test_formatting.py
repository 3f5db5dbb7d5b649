"""Output formatting in Claude Code's words, tested without any sshd.

Read's ``cat -n`` lines, sizes, Bash's durations, BashOutput's filter, Glob's
oldest-first order and Grep's paths are pure functions of their input: each is
pinned here on small fixtures and, where a law holds for every input, with
hypothesis. The fast layer (``invoke test --fast``).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remote_mcp.errors import ToolError
from remote_mcp.tools.base import decode_text, format_size, number_lines, split_lines
from remote_mcp.tools.bash import format_duration
from remote_mcp.tools.line_filter import filter_lines
from remote_mcp.tools.rg_globs import RipgrepGlob
from remote_mcp.tools.search_output import join_path, oldest_first

ARROW = "\u2192"


# -- Read: cat -n lines ------------------------------------------------------------------
def test_number_lines_right_aligns_to_six_then_an_arrow() -> None:
    assert number_lines(["a", "", "c"], 1) == f"     1{ARROW}a\n     2{ARROW}\n     3{ARROW}c"
    assert number_lines(["x"], 999_999) == f"999999{ARROW}x"
    assert number_lines(["x"], 1_234_567) == f"1234567{ARROW}x"  # wider: never cut
    assert number_lines([], 5) == ""


def test_number_lines_is_the_same_on_both_sides_of_its_made_prefixes() -> None:
    """Lines up to 4096 take prefixes made once, later ones are formatted:
    a run across the border reads as one."""
    lines = [f"l{n}" for n in range(4090, 4101)]
    expected = "\n".join(f"{n:>6}{ARROW}l{n}" for n in range(4090, 4101))
    assert number_lines(lines, 4090) == expected
    assert number_lines(lines[:7], 4090) == expected.rsplit("\n", 4)[0]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", []),
        ("\n", [""]),
        ("a", ["a"]),
        ("a\n", ["a"]),
        ("a\n\n", ["a", ""]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("a\rb", ["a\rb"]),  # a lone CR is not a line break
        ("a\r\r\nb", ["a\r", "b"]),
    ],
)
def test_split_lines_like_claude_code(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n")), min_size=1))
def test_split_lines_undoes_joining_with_newlines(lines: list[str]) -> None:
    assert split_lines("\n".join(lines) + "\n") == lines
    assert split_lines("\r\n".join(lines) + "\r\n") == lines


def test_decode_text_keeps_invalid_utf8_recoverable() -> None:
    data = b"ok \xff\xfe caf\xc3\xa9"
    text = decode_text(data)
    assert text.startswith("ok ") and text.endswith("café")
    assert text.encode("utf-8", "surrogateescape") == data


# -- sizes and durations -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1KB"),
        (1536, "1.5KB"),
        (256 * 1024, "256KB"),
        (1024 * 1024 - 1, "1024KB"),  # 1023.999 rounds up; Claude Code says the same
        (1024 * 1024, "1MB"),
        (int(1.5 * 1024**2), "1.5MB"),
        (3 * 1024**3, "3GB"),
        (5000 * 1024**3, "5000GB"),  # no TB: GB is the last unit
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (999, "0s"),
        (59_999, "59s"),
        (60_000, "1m 0s"),
        (119_600, "2m 0s"),  # 59.6 s rounds to a whole minute
        (3_599_600, "1h 0m 0s"),
        (3_723_000, "1h 2m 3s"),
        (36_000_000, "10h 0m 0s"),
    ],
)
def test_format_duration(ms: float, text: str) -> None:
    assert format_duration(ms) == text


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_format_duration_parts_stay_in_range(ms: float) -> None:
    text = format_duration(ms)
    match = re.fullmatch(r"(?:(\d+)h )?(?:(\d+)m )?(\d+)s", text)
    assert match, text
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    assert minutes < 60 and seconds < 60
    total = hours * 3600 + minutes * 60 + seconds
    assert abs(total - ms / 1000) <= 1, (ms, text)


# -- BashOutput's filter -----------------------------------------------------------------
def test_filter_keeps_matching_lines_case_insensitively() -> None:
    text = "Error: one\nok\nerror two\n\xff raw"
    assert filter_lines("error", text) == "Error: one\nerror two"
    assert filter_lines("^ok$", text) == "ok"
    assert filter_lines("raw", "bad \udcff raw") == "bad \udcff raw"  # bytes survive


def test_filter_that_does_not_compile_is_a_clear_error() -> None:
    with pytest.raises(ToolError, match=r'^The filter "\(unclosed" could not run: .*'):
        filter_lines("(unclosed", "x")


# -- Glob and Grep paths -----------------------------------------------------------------
def test_oldest_first_sorts_by_exact_nanoseconds_then_name() -> None:
    body = (
        b"1700000000.2 ./b.py\0"
        b"1700000000.10 ./a.py\0"  # .10 < .2: fractions are not integers
        b"1700000000.2 ./a.py\0"
        b"1699999999 ./old.txt\0"
        b"garbage ./bad.py\0"  # unparsable times sort first, as 0
        b"1700000001 ./cut-sh"  # no NUL: a record cut short is dropped
    )
    assert oldest_first(body, None) == [
        b"./bad.py",
        b"./old.txt",
        b"./a.py",
        b"./a.py",
        b"./b.py",
    ]
    assert oldest_first(body, RipgrepGlob(["*.py", "!a*"])) == [b"./bad.py", b"./b.py"]


@pytest.mark.parametrize(
    ("root", "rel", "path"),
    [
        ("/srv", b"./a.py", "/srv/a.py"),
        ("/srv/", b"sub/b", "/srv/sub/b"),
        ("/", b"./etc/x", "/etc/x"),
        ("/d", b"./caf\xc3\xa9 \xff", "/d/café \udcff"),
    ],
)
def test_join_path(root: str, rel: bytes, path: str) -> None:
    assert join_path(root, rel) == path


def test_multiread_reply_splits_into_its_parts_or_says_it_was_cut_short() -> None:
    """The batch section (its own boundary lines) comes before part 0; a
    reply with a part missing or out of order is refused, not misread."""
    from remote_mcp.tools.files import _split_parts

    reply = b"B batch\n3 1 t\nB head\nabc\nB 0\nfirst\nB 1\nsecond\n\nB 2\n"
    assert _split_parts(reply, "B", 3) == (
        b"B batch\n3 1 t\nB head\nabc\n",
        [b"first", b"second\n", b""],
    )
    assert _split_parts(b"B 0\nonly\n", "B", 1) == (b"", [b"only"])
    for cut in (reply[:-4], reply.replace(b"B 1\n", b"B 2\n", 1), b"nothing\n"):
        with pytest.raises(ToolError, match="cut short"):
            _split_parts(cut, "B", 3)
