"""Glob and Grep against the real sshd: Claude Code's exact output, on every backend.

Glob runs on ripgrep, GNU find and POSIX find (BusyBox applets first in PATH);
Grep on ripgrep and on the find + GNU grep fallback. The same characterization
cases run on each, so a backend that drifts from ripgrep fails here. Trees are
built on the remote with distinct mtimes (``touch -d``) to pin sort orders.
"""

from __future__ import annotations

import base64
import os
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.tools import search
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.names import show_name

CANARY = "/tmp/remote-mcp-search-canary"

# A file: content, or (content, mtime for touch -d).
Tree = dict[str, "bytes | str | tuple[bytes | str, str]"]


def build(remote: Any, root: str, files: Tree) -> None:
    """Create ``files`` under ``root`` in one remote command."""
    script = ["set -e"]
    for rel, spec in files.items():
        content, mtime = spec if isinstance(spec, tuple) else (spec, "2020-01-01 00:00:00")
        data = content.encode() if isinstance(content, str) else content
        path = f"{root}/{rel}"
        parent = path.rsplit("/", 1)[0]
        script.append(f"mkdir -p -- {shlex.quote(parent)}")
        script.append(
            f"printf %s {base64.b64encode(data).decode()} | base64 -d > {shlex.quote(path)}"
        )
        script.append(f"touch -d {shlex.quote(mtime)} -- {shlex.quote(path)}")
    remote.sh("\n".join(script))


def day(n: int) -> str:
    return f"2020-01-{n:02d} 00:00:00"


class PathRunner:
    """The session with PATH replaced by a directory of BusyBox applets, so the
    POSIX-find Glob path really runs on BusyBox find/stat/xargs/sh."""

    def __init__(self, session: Session, bin_dir: str) -> None:
        self.session = session
        self.prefix = f"PATH={shlex.quote(bin_dir)}\nexport PATH\n"

    def run(self, command: str, **kwargs: Any) -> Any:
        return self.session.run(self.prefix + command, **kwargs)


@pytest.fixture(scope="module")
def busybox_bin(sshd: Any, remote: Any) -> Iterator[str]:
    from tests.conftest import REMOTE_AREA

    path = f"{sshd.isolated_root or REMOTE_AREA}/busybox-bin"
    remote.sh(f"mkdir -p {path} && busybox --install -s {path} && test -x {path}/find")
    yield path
    remote.sh(f"rm -rf {path}")


@pytest.fixture(params=["rg", "gnu", "posix"])
def glob_env(
    request: pytest.FixtureRequest, session: Session, state: ToolState, remote_dir: str
) -> tuple[Any, ToolState]:
    """(runner, state) for one Glob backend, cwd = remote_dir."""
    state.cwd = remote_dir
    if request.param == "rg":
        return session, state
    state.backends["find"] = request.param
    if request.param == "gnu":
        return session, state
    return PathRunner(session, request.getfixturevalue("busybox_bin")), state


@pytest.fixture(params=["rg", "grep", "grep-posix-find", "busybox"])
def grep_env(
    request: pytest.FixtureRequest, session: Session, state: ToolState, remote_dir: str
) -> tuple[Any, ToolState]:
    """(runner, state) for one Grep backend, cwd = remote_dir. The GNU
    fallback runs with GNU find (-regex, -printf mtimes) and with POSIX find
    only; the busybox one with BusyBox applets first in PATH."""
    state.cwd = remote_dir
    state.backends["grep"] = request.param.split("-")[0]
    if request.param in ("grep-posix-find", "busybox"):
        state.backends["find"] = "posix"
    if request.param == "busybox":
        return PathRunner(session, request.getfixturevalue("busybox_bin")), state
    return session, state


@pytest.fixture
def canary(remote: Any) -> Iterator[None]:
    remote.sh(f"rm -f {CANARY}")
    yield
    assert not remote.exists(CANARY), "a hostile name or pattern was executed on the remote"


def commands(runner: Any) -> int:
    session = runner.session if isinstance(runner, PathRunner) else runner
    return int(session.stats.snapshot()[0])


# =============================================================================
# Glob
# =============================================================================
GLOB_TREE: Tree = {
    "a.py": ("", day(3)),
    "src/a.ts": ("", day(1)),
    "src/x/y/a.ts": ("", day(5)),
    "src/x/b.ts": ("", day(2)),
    ".hid/h.py": ("", day(4)),
    "node_modules/m/i.py": ("", day(6)),
    "src/x/e.txt": ("", day(7)),
    "src/x/\u00e9.txt": ("", day(8)),
    "ignored.log": ("", day(9)),
    ".gitignore": ("*.log\nnode_modules/\n", day(10)),
    ".git/HEAD": ("ref: refs/heads/main\n", day(11)),
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # Sorted by mtime, oldest first (rg --sort=modified).
        ("**/*.ts", ["src/a.ts", "src/x/b.ts", "src/x/y/a.ts"]),
        ("src/**/*.ts", ["src/a.ts", "src/x/b.ts", "src/x/y/a.ts"]),
        # No slash: matches the file name at any depth, as rg --glob does.
        ("*.py", ["a.py", ".hid/h.py", "node_modules/m/i.py"]),
        ("*.ts", ["src/a.ts", "src/x/b.ts", "src/x/y/a.ts"]),
        # A slash anchors the glob at the search root; * stays in one component.
        ("src/*.ts", ["src/a.ts"]),
        ("x/*.ts", []),
        ("*/a.ts", ["src/a.ts"]),
        ("*.{py,log}", ["a.py", ".hid/h.py", "node_modules/m/i.py", "ignored.log"]),
        ("{src/*.ts,a.py}", ["src/a.ts", "a.py"]),
        ("src/x/[!a].ts", ["src/x/b.ts"]),
        ("src/x/?.txt", ["src/x/e.txt"]),  # ? is one byte: not the 2-byte e-acute
        ("src/x/??.txt", ["src/x/\u00e9.txt"]),
        ("src/**", ["src/a.ts", "src/x/b.ts", "src/x/y/a.ts", "src/x/e.txt", "src/x/\u00e9.txt"]),
        ("src/", []),  # a trailing slash only matches directories
        # .gitignore is not respected; hidden files and .git are listed.
        ("*.log", ["ignored.log"]),
        (".git*", [".gitignore"]),
        ("**/HEAD", [".git/HEAD"]),
        ("nothing-*", []),
    ],
)
def test_glob_matches_ripgrep_semantics(
    remote: Any, remote_dir: str, glob_env: Any, pattern: str, expected: list[str]
) -> None:
    runner, state = glob_env
    build(remote, remote_dir, GLOB_TREE)
    out = search.glob(runner, pattern, state=state)
    if not expected:
        assert out.text == "No files found"
    else:
        assert out.text == "\n".join(f"{remote_dir}/{p}" for p in expected)


def test_glob_sorts_by_mtime_across_directories(
    remote: Any, remote_dir: str, glob_env: Any
) -> None:
    """Claude Code's rg (14.1.1) sorts all results by mtime; rg 13 would sort
    each directory's entries by their own mtime (here: d1 after z.py)."""
    runner, state = glob_env
    build(
        remote, remote_dir, {"a.py": ("", day(1)), "d1/old.py": ("", day(5)), "z.py": ("", day(9))}
    )
    remote.sh(f"touch -d {shlex.quote(day(10))} {shlex.quote(remote_dir)}/d1")
    out = search.glob(runner, "*.py", state=state)
    assert out.text == "\n".join(f"{remote_dir}/{p}" for p in ("a.py", "d1/old.py", "z.py"))


def test_glob_cap_is_100_oldest_with_claude_code_note(
    remote: Any, remote_dir: str, glob_env: Any
) -> None:
    runner, state = glob_env
    remote.sh(
        f"cd {shlex.quote(remote_dir)} && for i in $(seq 100 204); do "
        f'touch -d "@$((1600000000 + i))" f$i.txt; done'
    )
    out = search.glob(runner, "*.txt", state=state)
    lines = out.text.split("\n")
    assert len(lines) == 101
    assert lines[:100] == [f"{remote_dir}/f{i}.txt" for i in range(100, 200)]
    assert lines[100] == (
        "(Results are truncated. Consider using a more specific path or pattern.)"
    )
    assert out.structured["truncated"] is True


def test_glob_exactly_100_is_not_truncated(remote: Any, remote_dir: str, glob_env: Any) -> None:
    runner, state = glob_env
    remote.sh(
        f"cd {shlex.quote(remote_dir)} && for i in $(seq 100 199); do "
        f'touch -d "@$((1600000000 + i))" f$i.txt; done'
    )
    lines = search.glob(runner, "*.txt", state=state).text.split("\n")
    assert len(lines) == 100 and lines[-1] == f"{remote_dir}/f199.txt"


def test_glob_path_argument_and_errors(remote: Any, remote_dir: str, glob_env: Any) -> None:
    runner, state = glob_env
    build(remote, remote_dir, {"sub/one.py": "", "two.py": "", "file.txt": ""})
    # Relative path: from the session's cwd; results stay absolute.
    assert search.glob(runner, "*.py", "sub", state=state).text == f"{remote_dir}/sub/one.py"
    assert search.glob(runner, "*.py", f"{remote_dir}/sub", state=state).text == (
        f"{remote_dir}/sub/one.py"
    )
    # Anchored globs are relative to the search root, whatever the cwd.
    state.cwd = "/"
    assert search.glob(runner, "sub/*.py", remote_dir, state=state).text == (
        f"{remote_dir}/sub/one.py"
    )
    state.cwd = remote_dir
    with pytest.raises(ToolError) as err:
        search.glob(runner, "*.py", "missing-dir", state=state)
    assert str(err.value) == "Directory does not exist: missing-dir"
    with pytest.raises(ToolError) as err:
        search.glob(runner, "*", f"{remote_dir}/file.txt", state=state)
    assert str(err.value) == f"Path is not a directory: {remote_dir}/file.txt"


def test_glob_absolute_pattern_searches_from_its_directory(
    remote: Any, remote_dir: str, glob_env: Any
) -> None:
    """Claude Code's hF7: the literal directory part becomes the search root,
    and the rest is an rg glob (so ``/d/*.py`` matches at any depth under /d)."""
    runner, state = glob_env
    build(remote, remote_dir, {"d/one.py": ("", day(1)), "d/e/two.py": ("", day(2))})
    state.cwd = "/"
    out = search.glob(runner, f"{remote_dir}/d/*.py", state=state)
    assert out.text == f"{remote_dir}/d/one.py\n{remote_dir}/d/e/two.py"
    out = search.glob(runner, f"{remote_dir}/d/e/two.py", state=state)
    assert out.text == f"{remote_dir}/d/e/two.py"
    # A base directory that does not exist: rg finds nothing (no error in CC).
    assert search.glob(runner, f"{remote_dir}/nope/*.py", state=state).text == "No files found"


def test_glob_skips_symlinks_like_rg(remote: Any, remote_dir: str, glob_env: Any) -> None:
    runner, state = glob_env
    build(remote, remote_dir, {"real/a.py": ""})
    remote.sh(f"cd {shlex.quote(remote_dir)} && ln -s real/a.py link.py && ln -s real linkdir")
    assert search.glob(runner, "**/*.py", state=state).text == f"{remote_dir}/real/a.py"


def test_glob_bad_pattern_gives_rg_error_on_every_backend(
    remote: Any, remote_dir: str, glob_env: Any
) -> None:
    """UNCONFIRMED in CC (it shows "No files found" when rg fails); chosen:
    ripgrep's own message, so the agent can fix the pattern."""
    runner, state = glob_env
    build(remote, remote_dir, {"a.py": ""})
    for pattern, message in [
        ("[abc", "error parsing glob '[abc': unclosed character class; missing ']'"),
        (
            "{a,b",
            "error parsing glob '{a,b': unclosed alternate group; missing '}' "
            "(maybe escape '{' with '[{]'?)",
        ),
        ("a{b,{c}}", "error parsing glob 'a{b,{c}}': nested alternate groups are not allowed"),
    ]:
        with pytest.raises(ToolError) as err:
            search.glob(runner, pattern, state=state)
        assert str(err.value) == message


def test_glob_default_path_is_the_session_cwd(
    remote: Any, remote_dir: str, session: Session, state: ToolState
) -> None:
    build(remote, remote_dir, {"w/here.py": ""})
    state.cwd = f"{remote_dir}/w"
    assert search.glob(session, "*.py", state=state).text == f"{remote_dir}/w/here.py"


def test_glob_is_one_remote_command(
    remote: Any, remote_dir: str, session: Session, state: ToolState
) -> None:
    build(remote, remote_dir, {"a.py": "", "b/c.py": ""})
    state.cwd = remote_dir
    for backend in ("auto", "gnu", "posix"):
        state.backends["find"] = backend
        before = commands(session)
        assert search.glob(session, "**/*.py", state=state).structured["files"]
        assert commands(session) - before == 1, backend


HOSTILE = [
    "with space.py",
    "quote'single.py",
    'quote"double.py',
    f"$(touch {CANARY}).py".replace("/", "_"),
    f"`touch {CANARY}`.py".replace("/", "_"),
    "new\nline.py",
    "-leading-dash.py",
    "\u00fcnic\u00f6de-\u6f22\u5b57.py",
    "bad\udcff\udcfebytes.py",  # non-UTF-8 bytes 0xff 0xfe
    "semi;colon&amp|pipe.py",
    "star*question?.py",
    "brace{a,b}[x].py",
]


def _hostile_script(root: str) -> str:
    """Create each hostile name with content 'needle' (name passed as bytes)."""
    lines = []
    for i, name in enumerate(HOSTILE):
        lines.append(f"printf 'needle {i}\\n' > {shlex.quote(root + '/' + name)}")
        lines.append(f"touch -d '@{1600000000 + i}' -- {shlex.quote(root + '/' + name)}")
    return "\n".join(lines)


def test_glob_hostile_names(remote: Any, remote_dir: str, glob_env: Any, canary: None) -> None:
    runner, state = glob_env
    remote.sh(_hostile_script(remote_dir))
    out = search.glob(runner, "*.py", state=state)
    assert out.structured["files"] == [f"{remote_dir}/{n}" for n in HOSTILE]
    # Hostile patterns are data too.
    for pattern in (f"$(touch {CANARY})", f"`touch {CANARY}`", "'; touch x; '", "-rf"):
        assert search.glob(runner, pattern, state=state).text == "No files found"
    # Brackets and braces in names match when escaped, as in rg.
    out = search.glob(runner, "brace\\{a,b\\}\\[x\\].py", state=state)
    assert out.text == f"{remote_dir}/brace{{a,b}}[x].py"


# =============================================================================
# Grep
# =============================================================================
GREP_TREE: Tree = {
    "a.py": ("import os\nfoo = 1\n", day(1)),
    "src/c.py": ("def foo():\n    return 42\n", day(2)),
    "b.md": ("# Foo title\nfoo bar\n", day(3)),
    "src/d.ts": ("const x = 'FOO';\n", day(4)),
    ".hidden.py": ("foo hidden\n", day(5)),
    ".git/config": ("foo in git\n", day(6)),
    "bin.dat": (b"foo\0bin\n", day(7)),
}


def grep_text(env: Any, pattern: str, path: str | None = None, **kw: Any) -> str:
    runner, state = env
    return search.grep(runner, pattern, path, state=state, **kw).text


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # files_with_matches (default): newest first, relative to the cwd;
        # hidden files searched, .git and binary files not.
        ({}, "Found 4 files\n.hidden.py\nb.md\nsrc/c.py\na.py"),
        ({"case_insensitive": True}, "Found 5 files\n.hidden.py\nsrc/d.ts\nb.md\nsrc/c.py\na.py"),
        ({"glob": "*.py"}, "Found 3 files\n.hidden.py\nsrc/c.py\na.py"),
        ({"glob": "*.md,*.ts", "case_insensitive": True}, "Found 2 files\nsrc/d.ts\nb.md"),
        ({"glob": "*.{md,ts} ", "case_insensitive": True}, "Found 2 files\nsrc/d.ts\nb.md"),
        ({"glob": "!*.md"}, "Found 3 files\n.hidden.py\nsrc/c.py\na.py"),
        ({"type": "py"}, "Found 3 files\n.hidden.py\nsrc/c.py\na.py"),
        ({"type": "md"}, "Found 1 file\nb.md"),
        # rg: a matching --glob wins over --type; a negative one narrows it.
        ({"type": "py", "glob": "*.md"}, "Found 1 file\nb.md"),
        ({"type": "py", "glob": "!.hidden*"}, "Found 2 files\nsrc/c.py\na.py"),
        ({"head_limit": 2}, "Found 2 files limit: 2, offset: 0\n.hidden.py\nb.md"),
        ({"head_limit": 2, "offset": 1}, "Found 2 files limit: 2, offset: 1\nb.md\nsrc/c.py"),
        ({"head_limit": 0}, "Found 4 files\n.hidden.py\nb.md\nsrc/c.py\na.py"),
        ({"offset": 3}, "Found 1 file limit: undefined, offset: 3\na.py"),
        # content: rg's path:line:text lines, files in path order.
        (
            {"output_mode": "content"},
            ".hidden.py:1:foo hidden\na.py:2:foo = 1\nb.md:2:foo bar\nsrc/c.py:1:def foo():",
        ),
        (
            {"output_mode": "content", "line_numbers": False},
            ".hidden.py:foo hidden\na.py:foo = 1\nb.md:foo bar\nsrc/c.py:def foo():",
        ),
        (
            {"output_mode": "content", "-A": 1, "glob": "*.py"},
            ".hidden.py:1:foo hidden\n--\na.py:2:foo = 1\n--\nsrc/c.py:1:def foo():\n"
            "src/c.py-2-    return 42",
        ),
        (
            {"output_mode": "content", "head_limit": 2},
            ".hidden.py:1:foo hidden\na.py:2:foo = 1\n\n"
            "[Showing results with pagination = limit: 2, offset: 0]",
        ),
        (
            {"output_mode": "content", "offset": 3},
            "src/c.py:1:def foo():\n\n[Showing results with pagination = limit: undefined, "
            "offset: 3]",
        ),
        # count: path:count lines and Claude Code's footer.
        (
            {"output_mode": "count"},
            ".hidden.py:1\na.py:1\nb.md:1\nsrc/c.py:1\n\nFound 4 total occurrences across 4 files.",
        ),
        (
            {"output_mode": "count", "case_insensitive": True},
            ".hidden.py:1\na.py:1\nb.md:2\nsrc/c.py:1\nsrc/d.ts:1\n\n"
            "Found 6 total occurrences across 5 files.",
        ),
        (
            {"output_mode": "count", "head_limit": 1, "offset": 2},
            "b.md:1\n\nFound 1 total occurrence across 1 file. with pagination = limit: 1, "
            "offset: 2",
        ),
    ],
)
def test_grep_modes(
    remote: Any, remote_dir: str, grep_env: Any, kwargs: dict[str, Any], expected: str
) -> None:
    build(remote, remote_dir, GREP_TREE)
    runner, state = grep_env
    kw = {{"-A": "after", "-B": "before", "-C": "context"}.get(k, k): v for k, v in kwargs.items()}
    assert grep_text(grep_env, "foo", **kw) == expected


def test_grep_glob_with_directory_part(remote: Any, remote_dir: str, grep_env: Any) -> None:
    """Anchored globs need find -regex: without GNU find the fallback refuses
    rather than search a different set of files."""
    build(remote, remote_dir, GREP_TREE)
    runner, state = grep_env
    if state.backends.get("find") == "posix":
        with pytest.raises(ToolError) as err:
            grep_text(grep_env, "foo", glob="src/*")
        assert "a glob with a directory part" in str(err.value)
        return
    assert grep_text(grep_env, "foo", glob="src/*") == "Found 1 file\nsrc/c.py"
    assert grep_text(grep_env, "foo", glob="**/c.*") == "Found 1 file\nsrc/c.py"
    assert grep_text(grep_env, "foo", glob="{src/**,*.md}") == "Found 2 files\nb.md\nsrc/c.py"
    state.cwd = "/usr"  # anchored at the searched path, not at the cwd
    assert grep_text(grep_env, "foo", remote_dir, glob="src/*") == (
        f"Found 1 file\n{remote_dir}/src/c.py"
    )


def test_grep_lists_every_file_when_the_names_exceed_one_command_line(
    remote: Any, remote_dir: str, grep_env: Any
) -> None:
    """Over 64 KiB of names: bash takes the list in one stat only below that,
    and hands a longer one to xargs; no file may go missing either way."""
    stem = "n" * 100
    remote.sh(
        f"cd {remote_dir} && i=0; while [ $i -lt 700 ]; do "
        f"echo foo > {stem}$i.txt; i=$((i + 1)); done; echo foo > short.txt"
    )
    # The count is of every "MTIME PATH" record that came back; what is shown
    # then stops at the output cap.
    text = grep_text(grep_env, "foo", head_limit=1000)
    assert text.startswith("Found 701 files limit: 1000, offset: 0\n"), text[:80]
    assert text.count(f"{stem}") > 100


def test_grep_no_match_and_missing_path(remote: Any, remote_dir: str, grep_env: Any) -> None:
    build(remote, remote_dir, GREP_TREE)
    assert grep_text(grep_env, "zzz") == "No files found"
    assert grep_text(grep_env, "zzz", output_mode="content") == "No matches found"
    assert grep_text(grep_env, "zzz", output_mode="count") == (
        "No matches found\n\nFound 0 total occurrences across 0 files."
    )
    with pytest.raises(ToolError) as err:
        grep_text(grep_env, "foo", "nope/deeper")
    assert str(err.value) == "Path does not exist: nope/deeper"


def test_grep_paths_relative_only_under_cwd(remote: Any, remote_dir: str, grep_env: Any) -> None:
    build(remote, remote_dir, GREP_TREE)
    runner, state = grep_env
    assert grep_text(grep_env, "foo", "src") == "Found 1 file\nsrc/c.py"
    state.cwd = f"{remote_dir}/src"
    assert grep_text(grep_env, "foo", remote_dir, glob="*.py") == (
        f"Found 3 files\n{remote_dir}/.hidden.py\nc.py\n{remote_dir}/a.py"
    )
    assert grep_text(grep_env, "foo", remote_dir, glob="*.py", output_mode="content") == (
        f"{remote_dir}/.hidden.py:1:foo hidden\n{remote_dir}/a.py:2:foo = 1\nc.py:1:def foo():"
    )


def test_grep_single_file_prints_no_file_name(remote: Any, remote_dir: str, grep_env: Any) -> None:
    """rg omits the file name when searching one file; globs do not filter it.
    UNCONFIRMED in CC (its count parser needs a ':' and would report 0); chosen:
    the real totals in the count footer."""
    build(remote, remote_dir, GREP_TREE)
    assert grep_text(grep_env, "o", "a.py", output_mode="content") == "1:import os\n2:foo = 1"
    assert (
        grep_text(grep_env, "o", "a.py", output_mode="content", line_numbers=False, glob="*.md")
        == "import os\nfoo = 1"
    )
    assert grep_text(grep_env, "o", "a.py") == "Found 1 file\na.py"
    assert grep_text(grep_env, "o", "a.py", output_mode="count") == (
        "2\n\nFound 2 total occurrences across 1 file."
    )
    assert grep_text(grep_env, "foo", "bin.dat", output_mode="content") == (
        'binary file matches (found "\\0" byte around offset 3)'
    )
    assert grep_text(grep_env, "foo", "bin.dat") == "Found 1 file\nbin.dat"


CTX_TREE: Tree = {
    "ctx.txt": ("l1\nl2\nhit3\nl4\nl5\nl6\nl7\nhit8\nl9\nl10\n", day(1)),
    "two.txt": ("hit\nafter\n", day(2)),
}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"context": 1},
            [
                "ctx.txt-2-l2",
                "ctx.txt:3:hit3",
                "ctx.txt-4-l4",
                "--",
                "ctx.txt-7-l7",
                "ctx.txt:8:hit8",
                "ctx.txt-9-l9",
                "--",
                "two.txt:1:hit",
                "two.txt-2-after",
            ],
        ),
        (
            {"after": 1},
            [
                "ctx.txt:3:hit3",
                "ctx.txt-4-l4",
                "--",
                "ctx.txt:8:hit8",
                "ctx.txt-9-l9",
                "--",
                "two.txt:1:hit",
                "two.txt-2-after",
            ],
        ),
        (
            {"before": 1, "line_numbers": False},
            ["ctx.txt-l2", "ctx.txt:hit3", "--", "ctx.txt-l7", "ctx.txt:hit8", "--", "two.txt:hit"],
        ),
        # Adjacent groups merge without a separator; -C wins over -A/-B.
        (
            {"context": 2, "after": 5},
            [
                "ctx.txt-1-l1",
                "ctx.txt-2-l2",
                "ctx.txt:3:hit3",
                "ctx.txt-4-l4",
                "ctx.txt-5-l5",
                "ctx.txt-6-l6",
                "ctx.txt-7-l7",
                "ctx.txt:8:hit8",
                "ctx.txt-9-l9",
                "ctx.txt-10-l10",
                "--",
                "two.txt:1:hit",
                "two.txt-2-after",
            ],
        ),
        # -C 0 is no context: no separators.
        ({"context": 0}, ["ctx.txt:3:hit3", "ctx.txt:8:hit8", "two.txt:1:hit"]),
        (
            {"context": 1, "head_limit": 4, "offset": 1},
            [
                "ctx.txt:3:hit3",
                "ctx.txt-4-l4",
                "--",
                "ctx.txt-7-l7",
                "",
                "[Showing results with pagination = limit: 4, offset: 1]",
            ],
        ),
    ],
)
def test_grep_context(
    remote: Any, remote_dir: str, grep_env: Any, kwargs: dict[str, Any], expected: list[str]
) -> None:
    build(remote, remote_dir, CTX_TREE)
    assert grep_text(grep_env, "hit", output_mode="content", **kwargs) == "\n".join(expected)
    # Context only applies to content mode.
    assert grep_text(grep_env, "hit", **kwargs).startswith("Found ")


def test_grep_caps_output_at_20000_chars(remote: Any, remote_dir: str, grep_env: Any) -> None:
    lines = [f"match {i:05d} " + "x" * 20 for i in range(1, 1001)]
    build(remote, remote_dir, {"big.txt": "\n".join(lines) + "\n"})
    full = "\n".join(f"big.txt:{i}:{line}" for i, line in enumerate(lines, 1))
    rest = full[20000:]
    expected = f"{full[:20000]}\n\n... [{len(rest.split(chr(10)))} lines truncated] ..."
    assert grep_text(grep_env, "match", output_mode="content") == expected


def test_grep_omits_long_lines_like_rg_max_columns(
    remote: Any, remote_dir: str, grep_env: Any
) -> None:
    text = "a" * 495 + " foo\n" + "b" * 497 + " foo\n" + "c" * 600 + "\n"
    build(remote, remote_dir, {"long.txt": text})
    assert grep_text(grep_env, "foo", output_mode="content", after=1) == "\n".join(
        [
            "long.txt:1:" + "a" * 495 + " foo",  # 499 bytes + newline: kept
            "long.txt:2:[Omitted long matching line]",
            "long.txt-3-[Omitted long context line]",
        ]
    )


RX_TEXT = "x = 42;\nfoo_bar baz\ninterface{}\na.b\nTODO: fix\ncaf\u00e9\n"


@pytest.mark.parametrize(
    ("pattern", "lines"),
    [
        (r"\d+", [1]),
        (r"\bbaz\b", [2]),
        (r"\s+baz", [2]),
        (r"interface\{\}", [3]),
        (r"a\.b", [4]),
        (r"(?:TODO|FIXME):", [5]),
        (r"(?i)todo", [5]),
        (r"(?P<word>fix)$", [5]),
        (r"caf.", [6]),
        (r"^\w+$", [6]),
        (r"[[:digit:]]{2}", [1]),
        (r"[^a-z =;0-9]", [2, 3, 4, 5, 6]),
        (r"x+?\s", [1]),
        (r"\x41|\u{62}az", [2]),
        (r"-", []),
    ],
)
def test_grep_regex_flavour_is_ripgrep_on_both_backends(
    remote: Any, remote_dir: str, grep_env: Any, pattern: str, lines: list[int]
) -> None:
    build(remote, remote_dir, {"rx.txt": RX_TEXT})
    text_lines = RX_TEXT.split("\n")
    expected = "\n".join(f"rx.txt:{n}:{text_lines[n - 1]}" for n in lines) or "No matches found"
    assert grep_text(grep_env, pattern, output_mode="content") == expected


def test_grep_patterns_rg_rejects_are_errors(remote: Any, remote_dir: str, grep_env: Any) -> None:
    """UNCONFIRMED in CC (an rg failure shows as "No files found"); chosen:
    ripgrep's error text, so the agent can correct the pattern."""
    build(remote, remote_dir, {"rx.txt": RX_TEXT})
    for pattern, needle in [
        ("(?=x)", "look-around"),
        ("(a)\\1", "backreferences"),
        ("(foo", "regex parse error"),
        ("a\\nb", "not allowed"),
    ]:
        with pytest.raises(ToolError) as err:
            grep_text(grep_env, pattern)
        assert needle in str(err.value), (pattern, str(err.value))
    with pytest.raises(ToolError) as err:
        grep_text(grep_env, "foo", type="nosuchtype")
    assert str(err.value).startswith("unrecognized file type: nosuchtype")


def test_grep_fallback_refuses_what_it_cannot_translate(
    remote: Any, remote_dir: str, session: Session, state: ToolState
) -> None:
    build(remote, remote_dir, {"rx.txt": RX_TEXT})
    state.cwd = remote_dir
    assert search.grep(session, r"\pL+_\pL", state=state).text == "Found 1 file\nrx.txt"
    assert search.grep(session, "os\nfoo", state=state, multiline=True).text == "No files found"
    state.backends["grep"] = "grep"
    for pattern, kw, construct in [
        (r"\pL+_\pL", {}, "Unicode class"),
        ("(?i:todo)", {}, "inline flag group"),
        ("caf[\u00e9]", {}, "non-ASCII"),
        ("x", {"multiline": True}, "multiline"),
    ]:
        with pytest.raises(ToolError) as err:
            search.grep(session, pattern, state=state, **kw)
        assert construct in str(err.value) and "Install ripgrep (rg)" in str(err.value)


def test_grep_multiline_with_rg(
    remote: Any, remote_dir: str, session: Session, state: ToolState
) -> None:
    build(remote, remote_dir, GREP_TREE)
    state.cwd = remote_dir
    out = search.grep(session, "os\nfoo", state=state, multiline=True, output_mode="content")
    assert out.text == "a.py:1:import os\na.py:2:foo = 1"


def test_grep_gitignore_only_with_rg(remote: Any, remote_dir: str, grep_env: Any) -> None:
    """rg respects .gitignore inside a git work tree (Claude Code passes no
    --no-ignore to Grep); the fallback cannot (docs/reference/search-backends.md)."""
    build(
        remote,
        remote_dir,
        {
            ".gitignore": "skipped.txt\n",
            "skipped.txt": ("foo\n", day(2)),
            "kept.txt": ("foo\n", day(1)),
            ".git/HEAD": "x\n",
        },
    )
    runner, state = grep_env
    expected = (
        "Found 1 file\nkept.txt"
        if state.backends["grep"] == "rg"
        else ("Found 2 files\nskipped.txt\nkept.txt")
    )
    assert grep_text(grep_env, "foo") == expected


def test_grep_hostile_names_and_patterns(
    remote: Any, remote_dir: str, grep_env: Any, canary: None
) -> None:
    remote.sh(_hostile_script(remote_dir))
    shown = [show_name(name) for name in HOSTILE]  # bytes that are not UTF-8 as \xNN
    newest_first = list(reversed(shown))
    assert grep_text(grep_env, "needle") == f"Found {len(HOSTILE)} files\n" + "\n".join(
        newest_first
    )
    by_name = sorted(range(len(HOSTILE)), key=lambda i: os.fsencode(HOSTILE[i]))
    assert grep_text(grep_env, "needle", output_mode="content") == "\n".join(
        f"{shown[i]}:1:needle {i}" for i in by_name
    )
    assert grep_text(grep_env, "needle", output_mode="count").startswith(
        "\n".join(f"{shown[i]}:1" for i in by_name)
    )
    assert grep_text(grep_env, "needle 5", HOSTILE[5], output_mode="content") == "1:needle 5"
    for pattern in (f"$(touch {CANARY})", f"`touch {CANARY}`", "'; touch x; '", "-e"):
        assert grep_text(grep_env, pattern) == "No files found"
    assert grep_text(grep_env, "needle", glob="$(touch${IFS}canary)`touch${IFS}x`") == (
        "No files found"
    )
    assert grep_text(grep_env, "needle", glob="-leading*") == "Found 1 file\n-leading-dash.py"


def test_grep_is_one_remote_command(remote: Any, remote_dir: str, grep_env: Any) -> None:
    build(remote, remote_dir, GREP_TREE)
    runner, state = grep_env
    for mode in ("files_with_matches", "content", "count"):
        before = commands(runner)
        assert search.grep(runner, "foo", output_mode=mode, state=state).text
        assert commands(runner) - before == 1, mode


def test_server_handlers_map_claude_code_argument_names(
    remote: Any, remote_dir: str, session: Session, state: ToolState, host_config: Any
) -> None:
    """The MCP argument names (-A, -C, -n, -i ...) reach the routines."""
    from remote_mcp.handlers import CallEnv, call_routine
    from remote_mcp.schemas import TOOLS, GlobArgs, GrepArgs

    build(remote, remote_dir, CTX_TREE)
    state.cwd = remote_dir
    env = CallEnv(session=session, state=state, host=host_config)

    def call(tool: str, model: Any, args: dict[str, Any]) -> str:
        return call_routine(TOOLS[tool], env, model.model_validate(args)).text

    assert call(
        "Grep",
        GrepArgs,
        {"pattern": "hit3", "-C": 1, "-n": False, "output_mode": "content", "head_limit": 2},
    ) == ("ctx.txt-l2\nctx.txt:hit3\n\n[Showing results with pagination = limit: 2, offset: 0]")
    assert call(
        "Grep",
        GrepArgs,
        {"pattern": "HIT", "-i": True, "-A": 1, "-B": 0, "output_mode": "content", "glob": "two.*"},
    ) == ("two.txt:1:hit\ntwo.txt-2-after")
    assert (
        call("Grep", GrepArgs, {"pattern": "l1", "type": "txt", "offset": 0, "multiline": False})
        == "Found 1 file\nctx.txt"
    )
    assert call("Glob", GlobArgs, {"pattern": "*.txt", "path": remote_dir}) == (
        f"{remote_dir}/ctx.txt\n{remote_dir}/two.txt"
    )
