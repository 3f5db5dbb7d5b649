"""Grep's regex translation (ripgrep regex -> GNU ``grep -E``), differential.

Without rg on the remote, Grep searches with GNU ``grep -E`` bytewise in the C
locale on the pattern ``translate_regex`` writes. Checked here against the
local ``rg`` and GNU grep on a small file with ASCII and UTF-8 lines: the same
lines must match, or the pattern is refused by name. No sshd: the fast layer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_mcp.errors import ToolError
from remote_mcp.tools.regex_translate import translate_regex

RG = shutil.which("rg")
GNU_GREP = shutil.which("grep")

pytestmark = pytest.mark.skipif(
    RG is None and not os.environ.get("CI"),
    reason="ripgrep (rg) is not installed here; CI installs it (.ci/run)",
)
LOCAL = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
C_LOCALE = {**os.environ, "LC_ALL": "C"}

# -- regex translation -------------------------------------------------------------------
# A word list: packed lines read better than one word a line (fmt: skip).
HAYSTACK = [
    "plain text",
    "foo bar baz",
    "FOO BAR",
    "a1b2c3",
    "x = 42;",
    "tab\there",
    "under_score",
    "dots...and.more",
    "café au lait",
    "(parens) [brackets] {braces}",
    "a+b*c?d",
    "^caret$",
    "back\\slash",
    "",
    "   leading space",
    "aaa",
    "abab",
    "foofoo",
    "the end.",
    "pipe|bar",
    "x-y_z",
    "0123456789",
    "MiXeD CaSe",
    "ends with space ",
    "naïve résumé",
]
# A word list: packed lines read better than one word a line (fmt: skip).
_ATOMS = st.sampled_from(
    [
        "a",
        "b",
        "o",
        "foo",
        "bar",
        "é",
        "café",
        ".",
        "\\d",
        "\\w",
        "\\s",
        "\\D",
        "\\W",
        "\\S",
        "[a-c]",
        "[^a-z]",
        "[0-9]",
        "[[:alpha:]]",
        "[\\d_]",
        "[-a]",
        "\\.",
        "\\$",
        "\\(",
        "\\x41",
        "\\t",
        "(?:a|b)",
        "(a|foo)",
        "(?P<n>ba)",
        "\\bfoo",
        "bar\\b",
        "[.]",
        "[a\\-z]",
    ]
)
_QUANTIFIERS = st.sampled_from(["", "", "", "*", "+", "?", "{2}", "{1,2}", "{2,}", "*?", "+?"])


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    pieces = [draw(_ATOMS) + draw(_QUANTIFIERS) for _ in range(draw(st.integers(1, 4)))]
    lead = draw(st.sampled_from(["", "", "^", "(?i)"]))
    trail = draw(st.sampled_from(["", "", "$"]))
    alternate = draw(st.sampled_from(["", "", "|x = "]))
    return lead + "".join(pieces) + trail + alternate


@pytest.fixture(scope="module")
def haystack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("regex") / "haystack.txt"
    path.write_text("\n".join(HAYSTACK) + "\n", encoding="utf-8")
    return path


def _matching_lines(command: list[str]) -> tuple[int, set[int]]:
    run = subprocess.run(command, capture_output=True, env=C_LOCALE, timeout=30, check=False)
    lines = {int(line.split(b":", 1)[0]) for line in run.stdout.splitlines()}
    return run.returncode, lines


@LOCAL
@given(pattern=_patterns())
def test_translated_regex_matches_the_lines_rg_matches(haystack: Path, pattern: str) -> None:
    rg_rc, rg_lines = _matching_lines(
        [RG or "rg", "--no-config", "-n", "-e", pattern, "--", str(haystack)]
    )
    try:
        ere, icase = translate_regex(pattern)
    except ToolError as err:
        if str(err).startswith("The Grep fallback"):
            return  # a refusal that names the construct; never a different search
        assert rg_rc == 2, (pattern, str(err))  # rg rejects it too
        return
    assert rg_rc in (0, 1), pattern
    grep = [GNU_GREP or "grep", "-a", "-n", "-E", *(["-i"] if icase else []), "-e", ere]
    grep_rc, grep_lines = _matching_lines([*grep, "--", str(haystack)])
    assert grep_rc in (0, 1), (pattern, ere)
    assert grep_lines == rg_lines, (pattern, ere)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a(?=b)", "look-around"),
        ("(a)\\1", "backreferences are not supported"),
        ("a{x}", "repetition quantifier expects a valid decimal"),
        ("[b-a]", "invalid character class range"),
        ("[abc", "unclosed character class"),
        ("\\q", "unrecognized escape sequence"),
        ("a\\", "incomplete escape sequence"),
        ("(?P<n>a)(?P<n>b)", "duplicate capture group name"),
    ],
)
def test_patterns_rg_rejects_are_rejected_with_rg_wording(
    haystack: Path, pattern: str, message: str
) -> None:
    run = subprocess.run(
        [RG or "rg", "--no-config", "-e", pattern, "--", str(haystack)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    with pytest.raises(ToolError) as caught:
        translate_regex(pattern)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("\\p{Greek}", "Unicode class"),
        ("a(?x) b", "inline flag"),
        ("[a&&b]", "class set operation"),
        ("[é]", "non-ASCII character"),
        ("\\Afoo", "anchor"),
        ("[\\D]", "negated class"),
    ],
)
def test_what_ere_cannot_say_is_refused_by_name(pattern: str, construct: str) -> None:
    with pytest.raises(ToolError, match=re.escape(construct)) as caught:
        translate_regex(pattern)
    assert "Install ripgrep (rg) on the remote host" in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "line"),
    [("a.b", "aéb"), ("^.$", "é"), ("^\\D$", "é"), ("^[^a-z]$", "é"), ("^\\S{2}$", "éa")],
)
def test_one_character_of_utf8_text_is_one_character_not_one_byte(
    tmp_path: Path, pattern: str, line: str
) -> None:
    """rg counts characters; grep -E in the C locale counts bytes, so ``.`` and
    negated classes must take a whole UTF-8 sequence as one character."""
    path = tmp_path / "one.txt"
    path.write_text(f"{line}\nabc\n", encoding="utf-8")
    ere, _ = translate_regex(pattern)
    assert _matching_lines([GNU_GREP or "grep", "-a", "-n", "-E", "-e", ere, str(path)])[1] == {1}
    rg = _matching_lines([RG or "rg", "--no-config", "-n", "-e", pattern, str(path)])
    assert rg[1] == {1}
