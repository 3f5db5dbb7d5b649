"""The Edit engines on byte fixtures, run locally: no sshd.

Edit runs on the remote as a python3 program (``edit.python_program()``, the
engine section of tools/edit.py) or, with perl only, as the port in
``edit_perl.sh.j2``. Both must give the same reply and the same bytes. Here
the python engine runs in process and as the shipped program, the perl one
under the local perl, on generated files and edits (CRLF, curly quotes,
invalid UTF-8, empty strings): the fast layer catches a drift between them
before any SSH test runs.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_mcp.templates import render
from remote_mcp.tools.edit import _apply_edits, python_program
from tests.conftest import require_program

_CHUNKS = st.sampled_from(
    [b"a", b"b", b"ab", b" ", b"\n", b"\r\n", b"\r", b"'", b'"', b"\xe2\x80\x9c",
     b"\xe2\x80\x9d", b"\xe2\x80\x98", b"\xe2\x80\x99", b"\xc3\xa9", b"\xff", b"\t", b"x\n"]
)  # fmt: skip
_TEXT_CHUNKS = _CHUNKS.filter(lambda chunk: chunk != b"\xff")
_TEXT = st.lists(_TEXT_CHUNKS, max_size=12).map(b"".join)

Edit = tuple[bytes, bytes, bool, bool]


def _request(edits: list[Edit]) -> bytes:
    lines = [str(len(edits)).encode()]
    for old, new, replace_all, clash in edits:
        lines += [base64.b64encode(old), base64.b64encode(new), b"%d%d" % (replace_all, clash)]
    return b"\n".join(lines) + b"\n"


def _run_engine(argv: list[str], tmp: Path, data: bytes, edits: list[Edit]) -> tuple:
    src, out = tmp / "src", tmp / "out"
    src.write_bytes(data)
    out.unlink(missing_ok=True)
    run = subprocess.run(
        [*argv, str(src), str(out)], input=_request(edits), capture_output=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert run.stderr == b"", run.stderr
    assert run.returncode in (0, 10), run.returncode  # 10: refused, nothing written
    written = out.read_bytes() if run.returncode == 0 else None
    assert (written is None) == (run.returncode == 10)
    return written, run.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


@pytest.fixture(scope="module")
def perl_engine(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The perl engine as edit.sh.j2 defines it, callable as ``sh FILE SRC OUT``."""
    require_program("perl")
    script = tmp_path_factory.mktemp("perl") / "engine.sh"
    script.write_text(render("edit_perl.sh.j2") + "\nrmcp_in=$1 rmcp_tmp=$2\nrmcp_engine\n")
    return ["sh", str(script)]


_CURLY = {
    b"\xe2\x80\x9c": b'"',
    b"\xe2\x80\x9d": b'"',
    b"\xe2\x80\x98": b"'",
    b"\xe2\x80\x99": b"'",
}


@st.composite
def _cases(draw: st.DrawFn) -> tuple[bytes, list[Edit]]:
    """A file of several lines, and edits whose old string is mostly a run of
    its pieces (sometimes with straight quotes for its curly ones, as agents
    write them)."""
    pieces = draw(st.lists(st.sampled_from([b"line\n", b"\r\n"]) | _TEXT_CHUNKS, max_size=30))
    if draw(st.integers(0, 9)) == 0:
        pieces.insert(draw(st.integers(0, len(pieces))), b"\xff")  # not UTF-8: refused
    edits = []
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        start = draw(st.integers(0, len(pieces)))
        old = b"".join(pieces[start : start + draw(st.integers(1, 6))])
        if draw(st.booleans()):
            for curly, straight in _CURLY.items():
                old = old.replace(curly, straight)
        old = draw(st.sampled_from([old, old, old, draw(_TEXT)]))
        clash = draw(st.integers(0, 9)) == 0
        edits.append((old, draw(_TEXT), draw(st.booleans()), clash))
    return b"".join(pieces), edits


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_cases())
def test_perl_engine_gives_the_python_engines_reply_and_bytes(
    perl_engine: list[str], tmp_path: Path, case: tuple[bytes, list[Edit]]
) -> None:
    data, edits = case
    expected = _apply_edits(data, edits)
    assert _run_engine(perl_engine, tmp_path, data, edits) == expected, (data, edits)


@pytest.mark.parametrize(
    ("data", "edits", "written", "reply_word"),
    [
        (b"x\r\nhello \xe2\x80\x9cworld\xe2\x80\x9d\r\ny\r\n",
         [(b'hello "world"', b"bye", False, False)], b"x\r\nbye\r\ny\r\n", "ok"),
        (b"a a a\n", [(b"a", b"b", False, False)], None, "multiple"),
        (b"a a a\n", [(b"a", b"b", True, False)], b"b b b\n", "ok"),
        (b"abc\n", [(b"zzz", b"y", False, False)], None, "notfound"),
        (b"ok \xff\n", [(b"ok", b"no", False, False)], None, "notutf8"),
        (b"", [(b"", b"new\n", False, False)], b"new\n", "ok"),
        (b"it\xe2\x80\x99s \xe2\x80\x98q\xe2\x80\x99\n", [(b"it's 'q'", b"x", False, False)],
         b"x\n", "ok"),
        (b"".join(b"l%d\n" % i for i in range(30)), [(b"l12\n", b"new\nl12\n", False, False)],
         b"".join(b"l%d\n" % i for i in range(12)) + b"new\n"
         + b"".join(b"l%d\n" % i for i in range(12, 30)), "ok"),
    ],
)  # fmt: skip
def test_engines_on_byte_fixtures(
    perl_engine: list[str],
    tmp_path: Path,
    data: bytes,
    edits: list[Edit],
    written: bytes | None,
    reply_word: str,
) -> None:
    """The shipped python program (annotations stripped, run with -I -S), the
    engine in process and the perl port agree, and say what Edit needs."""
    argv = [sys.executable, "-I", "-S", "-c", python_program()]
    result, reply = _run_engine(argv, tmp_path, data, edits)
    assert (result, reply) == _apply_edits(data, edits)
    assert result == written
    assert reply.split(" ", 1)[0] == reply_word, reply
    assert _run_engine(perl_engine, tmp_path, data, edits) == (result, reply)


def test_perl_program_compiles(perl_engine: list[str]) -> None:
    """perl -c on the program exactly as the template passes it (a shell
    function named perl stands in to print its -e argument)."""
    show = 'perl() { printf %s "$2"; }; . "$0" in out'
    shown = subprocess.run(["sh", "-c", show, perl_engine[1]], capture_output=True, timeout=30,
                           check=False)  # fmt: skip
    program = shown.stdout
    assert b"use strict;" in program
    run = subprocess.run(["perl", "-c", "-e", program], capture_output=True, timeout=30)
    assert run.returncode == 0 and b"syntax OK" in run.stderr, run.stderr
