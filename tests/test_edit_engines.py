"""The Edit engines on byte fixtures, run locally: no sshd.

Edit runs on the remote as the python3 program shell_templates/engines/edit.py
(sent as ``edit.python_program()``: the file minus docstrings) or, with perl
only, as its port engines/edit.pl. Both must give the same reply and the same
bytes. Here the python engine runs in process and as the shipped program, the
perl one under the local perl, on generated files and edits (CRLF, curly
quotes, invalid UTF-8, empty strings): the fast layer catches a drift between
them before any SSH test runs. The python engine also checks the precondition
and commits (file-identity rule): those paths run here on real files too.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_mcp.templates import TEMPLATE_DIR, render
from remote_mcp.tools.edit import engine, packed, perl_program, python_program, write_program
from tests.conftest import require_program

_CHUNKS = st.sampled_from(
    [
        b"a",
        b"b",
        b"ab",
        b" ",
        b"\n",
        b"\r\n",
        b"\r",
        b"'",
        b'"',
        b"\xe2\x80\x9c",
        b"\xe2\x80\x9d",
        b"\xe2\x80\x98",
        b"\xe2\x80\x99",
        b"\xc3\xa9",
        b"\xff",
        b"\t",
        b"x\n",
    ]
)
_TEXT_CHUNKS = _CHUNKS.filter(lambda chunk: chunk != b"\xff")
_TEXT = st.lists(_TEXT_CHUNKS, max_size=12).map(b"".join)

Edit = tuple[bytes, bytes, bool, bool]


def _request(edits: list[Edit]) -> bytes:
    lines = [str(len(edits)).encode()]
    for old, new, replace_all, clash in edits:
        lines += [base64.b64encode(old), base64.b64encode(new), b"%d%d" % (replace_all, clash)]
    return b"\n".join(lines) + b"\n"


ENGINES = ["python3", "perl"]


def _engine_command(name: str, argv: list[str], perl_options: tuple[str, ...] = ()) -> list[str]:
    """The shipped program as edit.sh.j2 runs it (``perl_options``: the test's own)."""
    if name == "python3":
        return [sys.executable, "-I", "-S", "-c", packed(python_program()), *argv]
    perl = shutil.which("perl") or "perl"  # found before a test's own PATH applies
    return [perl, *perl_options, "-e", perl_program(), "--", *argv]


def _run_engine(
    name: str,
    tmp: Path,
    data: bytes | None,
    edits: list[Edit],
    expect: tuple[str, str] = ("-", "-"),
    umask: int = 0o022,
    max_size: int = 1 << 20,
    hash_max: int = 1 << 30,
    perl_options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[bytes | None, list[str]]:
    """The shipped python3 or perl program on FILE (``data``; None: missing),
    as edit.sh.j2 runs it; ``expect`` is the precondition (KIND, EXPECTED).
    Returns the file's content if it committed, and the reply lines."""
    path = tmp / "file"
    if data is not None:
        path.write_bytes(data)
    argv = [
        str(path),
        str(tmp / ".t.tmp"),
        str(tmp / ".t.bak"),
        *expect,
        str(int(data is None)),
        str(max_size),
        str(hash_max),
    ]
    run = subprocess.run(
        _engine_command(name, argv, perl_options),
        input=_request(edits),
        capture_output=True,
        timeout=30,
        check=False,
        env=env,
        preexec_fn=lambda: os.umask(umask),
    )
    assert run.stderr == b"", run.stderr
    assert run.returncode in (0, 10), run.returncode
    lines = run.stdout.decode("utf-8", "surrogateescape").split("\n")
    assert not (tmp / ".t.tmp").exists() and not (tmp / ".t.bak").exists()
    if run.returncode == 10:
        assert path.exists() is (data is not None) and (data is None or path.read_bytes() == data)
        return None, lines
    committed = path.read_bytes()
    # SIZE MTIME exactly as `stat -c '%s %y'` (the format every template compares)
    shown = subprocess.run(["stat", "-c", "%s %y", str(path)], capture_output=True, text=True)
    digest = hashlib.sha256(committed).hexdigest() if len(committed) <= hash_max else "-"
    assert lines[-2:] == [f"done {digest} {shown.stdout.strip()}", ""]
    return committed, lines


def _run_python(tmp: Path, data: bytes | None, edits: list[Edit], **options: Any) -> tuple:
    return _run_engine("python3", tmp, data, edits, **options)


def _perl_functions(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` after the functions of edit.pl (its last line, which runs
    main, cut off); returns what it printed."""
    program = perl_program()
    main = "exit(main(@ARGV));\n"
    assert program.endswith(main)
    run = subprocess.run(
        ["perl", "-e", program[: -len(main)] + code, "--", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert (run.returncode, run.stderr) == (0, ""), run
    return run.stdout


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
    perl: None, tmp_path: Path, case: tuple[bytes, list[Edit]]
) -> None:
    data, edits = case
    expected = engine().apply_edits(data, edits)
    result, lines = _run_engine("perl", tmp_path, data, edits)
    assert (result, lines[0]) == expected, (data, edits)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_cases())
def test_one_edit_as_parts_is_the_joined_content(case: tuple[bytes, list[Edit]]) -> None:
    """The remote program takes one edit's content as (before, new, after)
    views, written and hashed without a copy: the same bytes and reply
    (snippet included) as the joined content."""
    data, edits = case
    expected = engine().apply_edits(data, edits[:1])
    content, reply = engine().apply_edits(data, edits[:1], parts=True)
    if isinstance(content, tuple):
        joined = b"".join(bytes(part) for part in content)
        assert (joined, reply) == expected
        assert engine().sha256_later(content)() == hashlib.sha256(joined).hexdigest()
    else:
        assert (content, reply) == expected


@pytest.mark.parametrize(
    ("data", "edits", "written", "reply_word"),
    [
        (
            b"x\r\nhello \xe2\x80\x9cworld\xe2\x80\x9d\r\ny\r\n",
            [(b'hello "world"', b"bye", False, False)],
            b"x\r\nbye\r\ny\r\n",
            "ok",
        ),
        (b"a a a\n", [(b"a", b"b", False, False)], None, "multiple"),
        (b"a a a\n", [(b"a", b"b", True, False)], b"b b b\n", "ok"),
        (b"a\n" * 25, [(b"a", b"b", False, False)], None, "multiple"),  # more than shown
        (b"xa\n" * 25, [(b"a", b"", True, False)], b"x" * 25, "ok"),  # with the line breaks
        (b"abc\n", [(b"zzz", b"y", False, False)], None, "notfound"),
        # Several edits change one copy in place (python engine): each sees
        # the last one's result; undoing them all is no change at all.
        (
            b"one two three\n",
            [(b"one", b"1", False, False), (b"three", b"3 and 3", False, False)],
            b"1 two 3 and 3\n",
            "ok",
        ),
        (b"a b\n", [(b"a", b"x", False, False), (b"x", b"a", False, False)], None, "identical"),
        (b"a b\n", [(b"a", b"x", False, False), (b"b", b"b", False, False)], None, "nochange"),
        (b"a b\n", [(b"a", b"", False, False), (b"b", b"c", True, False)], b" c\n", "ok"),
        (b"ok \xff\n", [(b"ok", b"no", False, False)], None, "notutf8"),
        (b"", [(b"", b"new\n", False, False)], b"new\n", "ok"),
        (
            b"it\xe2\x80\x99s \xe2\x80\x98q\xe2\x80\x99\n",
            [(b"it's 'q'", b"x", False, False)],
            b"x\n",
            "ok",
        ),
        (
            b"".join(b"l%d\n" % i for i in range(30)),
            [(b"l12\n", b"new\nl12\n", False, False)],
            b"".join(b"l%d\n" % i for i in range(12))
            + b"new\n"
            + b"".join(b"l%d\n" % i for i in range(12, 30)),
            "ok",
        ),
    ],
)
def test_engines_on_byte_fixtures(
    perl: None,
    tmp_path: Path,
    data: bytes,
    edits: list[Edit],
    written: bytes | None,
    reply_word: str,
) -> None:
    """The shipped python program (run with -I -S, committing into the file),
    the engine in process and the perl port agree, and say what Edit needs."""
    result, lines = _run_python(tmp_path, data, edits)
    assert (result, lines[0]) == engine().apply_edits(data, edits)
    assert result == written
    assert lines[0].split(" ", 1)[0] == reply_word, lines
    perl_result, perl_lines = _run_engine("perl", tmp_path, data, edits)
    assert (perl_result, perl_lines[0]) == (result, lines[0])


_LINES = b"".join(b"line %d\n" % n for n in range(40))


@pytest.mark.parametrize(
    ("data", "old", "new"),
    [
        (_LINES, b"line 20\n", b"twenty\nand more\n"),  # the middle
        (_LINES, b"line 0\n", b"zero\n"),  # the first line: no context before
        (_LINES, b"line 2\n", b"two\n"),  # fewer than 4 lines before
        (_LINES, b"line 39\n", b"last\n"),  # the end: no context after
        (_LINES, b"line 37", b""),  # deleting takes the line break with it
        (_LINES[:-1], b"line 39", b"no final newline"),
        (b"x" * 9000 + b"\n" + _LINES + b"y" * 9000, b"line 5\n", b"5\n"),  # long lines
        (_LINES, b"line 20\n", b"line 20\n"),  # no change
    ],
)
def test_perl_engine_edits_one_match_without_copying_the_file(
    perl: None, tmp_path: Path, data: bytes, old: bytes, new: bytes
) -> None:
    """One literal edit is written as pieces of the bytes read (no copy of a
    10 MB file) and its snippet is taken from the lines around it: the same
    bytes and reply (snippet included) as the python engine."""
    edits = [(old, new, False, False)]
    result, lines = _run_engine("perl", tmp_path, data, edits)
    assert (result, lines[0]) == engine().apply_edits(data, edits)


def test_perl_program_compiles(perl: None) -> None:
    """perl -c on what the template sends: the shipped file, its comment and
    blank lines and indentation dropped (a third of its bytes)."""
    source = (TEMPLATE_DIR / "engines" / "edit.pl").read_text()
    code = [line.strip() for line in source.splitlines()]
    code = [line for line in code if line and not line.startswith("#")]
    assert perl_program().splitlines() == code and len(perl_program()) < 0.75 * len(source)
    run = subprocess.run(["perl", "-c", "-e", perl_program()], capture_output=True, timeout=30)
    assert run.returncode == 0 and b"syntax OK" in run.stderr, run.stderr


def test_python_program_is_the_engine_file_without_docstrings() -> None:
    program = python_program()
    assert '"""' not in program and "import binascii" in program
    assert len(program) < 0.75 * len((TEMPLATE_DIR / "engines" / "edit.py").read_text())


_EDIT = [(b"two", b"2", False, False)]


def test_engine_refuses_a_hash_other_than_the_one_read(name: str, tmp_path: Path) -> None:
    """The precondition is checked on the bytes the engine read."""
    result, lines = _run_engine(name, tmp_path, b"one\ntwo\n", _EDIT, expect=("sha256", "ab" * 32))
    assert (result, lines[0]) == (None, "stale")
    good = ("sha256", hashlib.sha256(b"one\ntwo\n").hexdigest())
    assert _run_engine(name, tmp_path, b"one\ntwo\n", _EDIT, expect=good)[0] == b"one\n2\n"


def test_engine_hashes_a_big_file_alongside_the_edit(name: str, tmp_path: Path) -> None:
    """Over 1 MB (where python3 hashes in threads while the edit and the write
    go on): a wrong precondition still refuses (and leaves no temp file), a
    right one commits and reports the new content's hash (_run_engine checks it)."""
    data = b"".join(b"line %d\n" % i for i in range(200_000))
    assert len(data) > 1 << 20
    edit = [(b"line 123456\n", b"changed\n", False, False)]
    wrong = ("sha256", "ab" * 32)
    assert _run_engine(name, tmp_path, data, edit, expect=wrong, max_size=1 << 30)[1][0] == "stale"
    good = ("sha256", hashlib.sha256(data).hexdigest())
    result, _ = _run_engine(name, tmp_path, data, edit, expect=good, max_size=1 << 30)
    assert result == data.replace(b"line 123456\n", b"changed\n")


def test_engine_refuses_a_file_over_the_size_limit(name: str, tmp_path: Path) -> None:
    """The engine checks the size of the file it opened (no separate stat)."""
    result, lines = _run_engine(name, tmp_path, b"two\n" * 5, _EDIT, max_size=19)
    assert (result, lines[0]) == (None, "toolarge 20 19")


def test_engine_renames_a_plain_file_keeping_its_mode(name: str, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"two\n")
    path.chmod(0o640)
    before = path.stat().st_ino
    assert _run_engine(name, tmp_path, b"two\n", _EDIT)[0] == b"2\n"
    after = path.stat()
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert after.st_ino != before  # renamed over: atomic


def test_engine_writes_a_hard_linked_file_in_place(name: str, tmp_path: Path) -> None:
    """Renaming would split the links: the new content goes into the same inode."""
    path, link = tmp_path / "file", tmp_path / "link"
    path.write_bytes(b"two\n")
    os.link(path, link)
    before = path.stat().st_ino
    assert _run_engine(name, tmp_path, b"two\n", _EDIT)[0] == b"2\n"
    assert path.stat().st_ino == before and link.read_bytes() == b"2\n"


def test_engine_gives_a_new_file_the_umask_mode(name: str, tmp_path: Path) -> None:
    result, _ = _run_engine(name, tmp_path, None, [(b"", b"new\n", False, False)], umask=0o027)
    assert result == b"new\n"
    assert stat.S_IMODE((tmp_path / "file").stat().st_mode) == 0o640


def test_engine_checks_a_size_and_mtime_record_and_hashes_no_big_content(
    name: str, tmp_path: Path
) -> None:
    """KIND stat: the session's record of a file too big to hash is compared
    with the file the engine opened (a wrong one refuses before reading), and
    a new content over HASH_MAX is not hashed either (``done -``): python3's
    edit of a big file imports no hashlib at all (-X importtime lists imports)."""
    path = tmp_path / "file"
    data = b"".join(b"line %d\n" % i for i in range(200_000))  # hashlib's size, if hashed
    path.write_bytes(data)
    stat = ["stat", "-c", "%s %y", str(path)]
    seen = subprocess.run(stat, capture_output=True, text=True, check=True).stdout.strip()

    def run(expected: str) -> subprocess.CompletedProcess[bytes]:
        argv = [str(path), str(tmp_path / ".t.tmp"), str(tmp_path / ".t.bak"), "stat", expected]
        argv += ["0", str(1 << 30), str(1 << 20)]
        command = _engine_command(name, argv)
        if name == "python3":
            command[1:1] = ["-X", "importtime"]
        return subprocess.run(
            command,
            input=_request([(b"line 123456\n", b"changed\n", False, False)]),
            capture_output=True,
            timeout=30,
            check=False,
        )

    wrong = run(f"{len(data)} 2001-01-01 00:00:00.000000000 +0000")
    assert (wrong.returncode, wrong.stdout) == (10, b"stale\n")
    assert path.read_bytes() == data
    right = run(seen)
    assert right.returncode == 0, right.stderr
    now = subprocess.run(stat, capture_output=True, text=True, check=True).stdout.strip()
    assert right.stdout.decode().split("\n")[-2:] == [f"done - {now}", ""]
    assert path.read_bytes() == data.replace(b"line 123456\n", b"changed\n")
    if name == "python3":
        imported = {line.rsplit("|", 1)[-1].strip() for line in right.stderr.decode().splitlines()}
        assert imported and "hashlib" not in imported, imported


def test_python_engine_commit_refuses_a_file_replaced_after_its_read(tmp_path: Path) -> None:
    """Size, mtime and inode as read are re-checked just before the commit: a
    file replaced meanwhile (same size, new inode) is reported, not overwritten."""
    path, tmp = tmp_path / "file", tmp_path / ".t.tmp"
    path.write_bytes(b"one\n")
    seen = path.stat()
    tmp.write_bytes(b"two\n")
    (tmp_path / "new").write_bytes(b"uno\n")
    os.replace(tmp_path / "new", path)
    refused = engine().commit(
        str(path), str(tmp), str(tmp_path / ".t.bak"), seen, b"one\n", b"two\n"
    )
    assert refused == "stale" and path.read_bytes() == b"uno\n"


def test_perl_engine_commit_refuses_a_file_replaced_after_its_read(
    perl: None, tmp_path: Path
) -> None:
    """The same re-check in edit.pl's commit (its own state of the file)."""
    path, tmp = tmp_path / "file", tmp_path / ".t.tmp"
    path.write_bytes(b"one\n")
    tmp.write_bytes(b"two\n")
    code = """
my $seen = file_state($ARGV[0]);
system("sh", "-c", 'printf "uno\\n" > "$1.new" && mv "$1.new" "$1"', "-", $ARGV[0]);
print commit($ARGV[0], $ARGV[1], $ARGV[2], $seen, "one\\n", "two\\n") // "committed";
"""
    assert _perl_functions(code, str(path), str(tmp), str(tmp_path / ".t.bak")) == "stale"
    assert path.read_bytes() == b"uno\n" and tmp.exists()


def test_perl_engine_creates_its_temp_file_private(perl: None, tmp_path: Path) -> None:
    """Under umask 000 the temp copy is created 0600 and stays so once written
    (its final mode comes at the commit)."""
    code = 'umask(0); write_private($ARGV[0], "two\\n") or die;'
    code += ' printf "%o", (stat $ARGV[0])[2] & 07777;'
    assert _perl_functions(code, str(tmp_path / ".t.tmp")) == "600"
    assert (tmp_path / ".t.tmp").read_bytes() == b"two\n"


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/St_Johns", "Europe/Berlin"])
def test_perl_engine_states_a_file_as_stat_does(perl: None, tmp_path: Path, zone: str) -> None:
    """edit.pl's file state, from the system call statx and from the command
    stat (the fallback on other machines), is what `stat -c` prints: the
    session's records are compared as text, to the nanosecond and time zone."""
    path = tmp_path / "file"
    path.write_bytes(b"x" * 12345)
    for when_ns in (1_700_000_000_123_456_789, 1_719_900_000_000_000_001):  # winter, summer
        os.utime(path, ns=(when_ns, when_ns))
        env = {**os.environ, "TZ": zone}
        shown = subprocess.run(
            ["stat", "-c", "%s %y|%i %u %g %f %h", str(path)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        line, numbers = shown.split("|")
        ino, uid, gid, mode, links = numbers.split()
        code = """
for my $state (state_by_statx($ARGV[0]), state_by_command($ARGV[0])) {
    print stat_line($state), "|", join(" ", @$state{qw(ino uid gid mode nlink)}), "\\n";
}
"""
        expected = f"{line}|{ino} {uid} {gid} {int(mode, 16)} {links}\n"
        assert _perl_functions(code, str(path), env=env) == expected * 2


def test_perl_engine_states_a_file_by_command_where_statx_is_refused(
    perl: None, tmp_path: Path
) -> None:
    """A kernel or a seccomp filter that refuses statx (here: a system call
    number that does not exist) leaves the engine the `stat` command."""
    path = tmp_path / "file"
    path.write_bytes(b"abc")
    shown = subprocess.run(["stat", "-c", "%s %y", str(path)], capture_output=True, text=True)
    code = "$SYSCALL = { %$SYSCALL, statx => 99999 } if $SYSCALL;"
    code += " print stat_line(file_state($ARGV[0]));"
    assert _perl_functions(code, str(path)) == shown.stdout.strip()


def test_perl_engine_sees_extended_attributes(perl: None, tmp_path: Path) -> None:
    """A user xattr on the file and not on its temp copy keeps the commit from
    renaming (from listxattr/getxattr; the same values compare equal)."""
    path, copy = tmp_path / "file", tmp_path / "copy"
    path.write_bytes(b"a")
    copy.write_bytes(b"b")
    try:
        os.setxattr(path, "user.x", b"kept")
    except OSError as err:
        pytest.skip(f"this file system takes no user xattrs: {err!r}")
    code = 'print xattrs($ARGV[0]) eq xattrs($ARGV[1]) ? "same" : "differ", "|", xattrs($ARGV[0]);'
    assert _perl_functions(code, str(path), str(copy)) == "differ|user.x=6b657074\n"
    os.setxattr(copy, "user.x", b"kept")
    assert _perl_functions(code, str(path), str(copy)).startswith("same|")


def test_perl_engine_without_digest_sha(perl: None, tmp_path: Path) -> None:
    """perl-base has no Digest::SHA: the hashes come from sha256sum, and with
    nothing to hash with, the record's size and mtime are compared instead
    and the new content is not hashed (``done -``)."""
    hidden = tmp_path / "lib" / "Digest"
    hidden.mkdir(parents=True)
    (hidden / "SHA.pm").write_text('die "not in perl-base\\n";\n')
    work = tmp_path / "work"
    work.mkdir()
    options = ("-I", str(tmp_path / "lib"))
    data = b"one\ntwo\n"
    wrong = ("sha256", "ab" * 32)
    assert _run_engine("perl", work, data, _EDIT, expect=wrong, perl_options=options)[0] is None
    good = ("sha256", hashlib.sha256(data).hexdigest())
    assert (
        _run_engine("perl", work, data, _EDIT, expect=good, perl_options=options)[0] == b"one\n2\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    bare = {**os.environ, "PATH": str(empty)}  # no sha256sum either
    path = work / "file"
    path.write_bytes(data)
    shown = subprocess.run(["stat", "-c", "%s %y", str(path)], capture_output=True, text=True)
    argv = [str(path), str(work / ".t.tmp"), str(work / ".t.bak"), "sha256"]
    argv += ["ab" * 32 + " " + shown.stdout.strip(), "0", "99", "0"]
    run = subprocess.run(
        _engine_command("perl", argv, options),
        input=_request(_EDIT),
        capture_output=True,
        timeout=30,
        check=False,
        env=bare,
    )
    assert (run.returncode, run.stderr) == (0, b""), run
    now = subprocess.run(["stat", "-c", "%s %y", str(path)], capture_output=True, text=True)
    reply = engine().apply_edits(data, _EDIT)[1]
    assert run.stdout.decode().split("\n") == [reply, f"done - {now.stdout.strip()}", ""]
    assert path.read_bytes() == b"one\n2\n"


def test_perl_engine_loads_only_what_perl_base_has_and_cheap(perl: None, tmp_path: Path) -> None:
    """POSIX (10 ms to load), IO::Handle (6 ms) and Config (3 ms) stay out of
    an edit. Without Digest::SHA (as in perl-base), only perl-base modules
    are loaded; with it, it is the only addition."""
    hidden = tmp_path / "lib" / "Digest"
    hidden.mkdir(parents=True)
    (hidden / "SHA.pm").write_text('die "not in perl-base\\n";\n')
    path = tmp_path / "file"

    def loaded(*options: str) -> set[str]:
        path.write_bytes(b"two\n")
        argv = [str(path), str(tmp_path / ".t.tmp"), str(tmp_path / ".t.bak")]
        argv += ["-", "-", "0", "99", "99"]
        code = "END { print STDERR join(' ', grep { $INC{$_} } keys %INC) }\n" + perl_program()
        run = subprocess.run(
            ["perl", *options, "-e", code, "--", *argv],
            input=_request(_EDIT),
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert run.returncode == 0 and path.read_bytes() == b"2\n", run
        return set(run.stderr.decode().split())

    base = loaded("-I", str(tmp_path / "lib"))
    assert base <= {"strict.pm", "warnings.pm", "Fcntl.pm", "Exporter.pm", "XSLoader.pm"}, base
    full = loaded()
    assert "Digest/SHA.pm" in full and not full & {"POSIX.pm", "IO/Handle.pm", "Config.pm"}, full


def test_python_engine_creates_its_temp_file_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under umask 000 the temp copy of a 0644 file is still 0600 while the
    content is written into it (the final mode comes once it is complete):
    every write(2) of the engine is checked with fstat."""
    modes: list[int] = []
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    path = tmp_path / "file"
    path.write_bytes(b"two\n")
    path.chmod(0o644)
    argv = [
        str(path),
        str(tmp_path / ".t.tmp"),
        str(tmp_path / ".t.bak"),
        "-",
        "-",
        "0",
        "99",
        "99",
    ]
    old_mask = os.umask(0)
    try:
        monkeypatch.setattr(os, "write", write)
        stdin = _BytesStream(_request(_EDIT))
        status = engine().main(argv, stdin, _BytesStream(b""))
    finally:
        os.umask(old_mask)
    assert status == 0 and path.read_bytes() == b"2\n"
    assert modes and set(modes) == {0o600}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


class _BytesStream:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def _run_write(
    tmp: Path, content: bytes, kind: str, expected: str = "-", umask: int = 0o022
) -> tuple[int, str]:
    """write_program() as write.sh.j2 runs it on tmp/file: (exit status, reply)."""
    argv = [str(tmp / "file"), str(tmp / ".w.tmp"), str(tmp / ".w.bak"), kind, expected]
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", packed(write_program()), *argv],
        input=base64.encodebytes(content),
        capture_output=True,
        timeout=30,
        check=False,
        preexec_fn=lambda: os.umask(umask),
    )
    assert run.stderr == b"", run.stderr
    assert not (tmp / ".w.tmp").exists() and not (tmp / ".w.bak").exists()
    return run.returncode, run.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def _stat_y(path: Path) -> str:
    return subprocess.run(["stat", "-c", "%y", str(path)], capture_output=True, text=True).stdout


def test_write_program_creates_a_file_with_the_umask_mode(tmp_path: Path) -> None:
    status, reply = _run_write(tmp_path, b"new\n", "absent", umask=0o027)
    path = tmp_path / "file"
    assert (status, reply) == (0, f"created {_stat_y(path).strip()}")
    assert path.read_bytes() == b"new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_write_program_creates_missing_parent_directories(tmp_path: Path) -> None:
    status, reply = _run_write(tmp_path / "a" / "b", b"x", "absent")
    assert status == 0 and reply.startswith("created ")
    assert (tmp_path / "a" / "b" / "file").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("kind", "expected", "word"),
    [
        ("absent", "-", "notread"),  # exists, but the session never read it
        ("sha256", "ab" * 32, "stale"),
        ("stat", "3 2001-01-01 00:00:00.000000000 +0000", "stale"),
    ],
)
def test_write_program_refuses_a_file_other_than_the_one_seen(
    tmp_path: Path, kind: str, expected: str, word: str
) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")
    assert _run_write(tmp_path, b"new", kind, expected) == (10, word)
    assert path.read_bytes() == b"old"


@pytest.mark.parametrize("kind", ["sha256", "stat", "any"])
def test_write_program_replaces_the_file_it_was_told_of_keeping_its_mode(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"old")
    path.chmod(0o640)
    inode = path.stat().st_ino
    expected = {
        "sha256": hashlib.sha256(b"old").hexdigest(),
        "stat": f"3 {_stat_y(path).strip()}",
        "any": "-",
    }[kind]
    status, reply = _run_write(tmp_path, b"new\n", kind, expected)
    assert (status, reply) == (0, f"updated {_stat_y(path).strip()}")
    assert path.read_bytes() == b"new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # renamed over: atomic


def test_write_program_replaces_a_staged_copy_left_under_its_temp_name(tmp_path: Path) -> None:
    """A large Write whose SFTP staging was cut falls back to this program with
    the same token: the partial copy under the temp name goes, nothing is left."""
    (tmp_path / ".w.tmp").write_bytes(b"partial")
    (tmp_path / ".w.tmp").chmod(0o600)
    status, reply = _run_write(tmp_path, b"new", "absent")
    assert status == 0 and reply.startswith("created ")
    assert sorted(os.listdir(tmp_path)) == ["file"] and (tmp_path / "file").read_bytes() == b"new"


def test_write_program_writes_a_hard_linked_file_in_place(tmp_path: Path) -> None:
    path, link = tmp_path / "file", tmp_path / "link"
    path.write_bytes(b"old")
    os.link(path, link)
    expected = hashlib.sha256(b"old").hexdigest()
    assert _run_write(tmp_path, b"new", "sha256", expected)[0] == 0
    assert link.read_bytes() == b"new" and path.stat().st_ino == link.stat().st_ino


def test_write_program_refuses_a_directory_and_a_read_only_file(tmp_path: Path) -> None:
    (tmp_path / "file").mkdir()
    assert _run_write(tmp_path, b"x", "any") == (10, "isdir")
    (tmp_path / "file").rmdir()
    (tmp_path / "file").write_bytes(b"old")
    (tmp_path / "file").chmod(0o444)
    if os.geteuid() != 0:  # root may write anything
        assert _run_write(tmp_path, b"x", "any") == (10, "denied")


def test_each_program_is_only_what_its_entry_calls() -> None:
    """Less text to compile on every call: Write's program has no matching
    functions, Edit's none of Write's."""
    program = write_program()
    assert "def write_main(" in program and "def commit(" in program
    assert "def apply_edits(" not in program and "def main(" not in program
    assert len(program) < 0.6 * len(python_program())
    assert "def main(" in python_program() and "def write_main(" not in python_program()


@pytest.mark.parametrize(
    ("engine", "resident"), [("python3", False), ("python3", True), ("shell", False)]
)
def test_write_sends_the_content_once(engine: str, resident: bool) -> None:
    """Every byte of a command costs remote time: the content goes once, and
    the program only where python3 runs once for the call (a worker shell's
    resident engine gets it from ShellChannel, once per shell)."""
    content = b"unique content " * 200
    program = packed(write_program())
    command = render(
        "write.sh.j2",
        path="/tmp/x",
        content=content,
        expect="absent",
        token="RMCP_EOF_t",
        allowed=[],
        engine=engine,
        program="" if resident else program,
        resident=resident,
        engine_key="ekey",
        refused=10,
    )
    assert command.count(base64.encodebytes(content).decode()) == 1
    assert (program in command) is (engine == "python3" and not resident)
    assert ("zlib" in command) is (engine == "python3" and not resident)


def _without_docstrings(body: list[ast.stmt]) -> list[ast.stmt]:
    kept = []
    for node in body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (is_doc and isinstance(node.value.value, str)):
            if isinstance(node, ast.FunctionDef):
                node.body = _without_docstrings(node.body)
            kept.append(node)
    return kept


@pytest.mark.parametrize("entry", ["main", "write_main"])
def test_the_programs_are_the_engine_code_cut_by_lines_exactly(entry: str) -> None:
    """edit.py cuts the programs out of the engine file by lines (fast, but it
    relies on the file's layout): the code left must be exactly the engine's,
    minus docstrings, the ``if __name__`` block and functions never called."""
    program = {"main": python_program, "write_main": write_program}[entry]()
    cut = ast.parse(program).body
    assert ast.unparse(cut[-3]).startswith(f"status = {entry}(sys.argv[1:]")
    kept = {node.name for node in cut if isinstance(node, ast.FunctionDef)}
    engine_file = ast.parse((TEMPLATE_DIR / "engines" / "edit.py").read_text()).body
    expected = [
        node
        for node in _without_docstrings(engine_file)
        if not isinstance(node, ast.If)
        and not (isinstance(node, ast.FunctionDef) and node.name not in kept)
    ]
    assert ast.dump(ast.Module(expected, [])) == ast.dump(ast.Module(cut[:-3], []))
    names = {n.id for n in ast.walk(ast.Module(cut, [])) if isinstance(n, ast.Name)}
    assert kept <= names  # every function kept is called


def test_a_plain_edit_imports_neither_re_nor_hashlib(tmp_path: Path) -> None:
    """Each costs python3 milliseconds to import on every call: a one-line edit
    of a small file without CR needs neither (-X importtime lists imports)."""
    path = tmp_path / "file"
    path.write_bytes(b"one\ntwo\n")
    argv = [str(path), str(tmp_path / ".t.tmp"), str(tmp_path / ".t.bak")]
    argv += ["sha256", hashlib.sha256(b"one\ntwo\n").hexdigest(), "0", "99", "99"]
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", "-c", packed(python_program()), *argv],
        input=_request(_EDIT),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0 and path.read_bytes() == b"one\n2\n", run.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.decode().splitlines()}
    assert imported and not imported & {"re", "hashlib", "base64"}, imported


@pytest.fixture(scope="module")
def perl() -> None:
    require_program("perl")


@pytest.fixture(params=ENGINES)
def name(request: pytest.FixtureRequest) -> str:
    """Each remote engine program: python3, and perl where installed."""
    if request.param == "perl":
        require_program("perl")
    return str(request.param)
