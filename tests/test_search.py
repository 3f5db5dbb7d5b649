"""Glob and Grep against the real sshd: Claude Code's exact output, on every backend.

Glob runs on ripgrep, GNU find and POSIX find (BusyBox applets first in PATH);
Grep on ripgrep and on the find + GNU grep fallback. The same characterization
cases run on each, so a backend that drifts from ripgrep fails here. Trees are
built on the remote with distinct mtimes (``touch -d``) to pin sort orders.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.tools import search
from remote_mcp.tools.base import ToolState

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
def glob_env(request: pytest.FixtureRequest, session: Session, state: ToolState,
             remote_dir: str) -> tuple[Any, ToolState]:  # fmt: skip
    """(runner, state) for one Glob backend, cwd = remote_dir."""
    state.cwd = remote_dir
    if request.param == "rg":
        return session, state
    state.backends["find"] = request.param
    if request.param == "gnu":
        return session, state
    return PathRunner(session, request.getfixturevalue("busybox_bin")), state


@pytest.fixture(params=["rg", "grep"])
def grep_env(request: pytest.FixtureRequest, session: Session, state: ToolState,
             remote_dir: str) -> tuple[Session, ToolState]:  # fmt: skip
    """(runner, state) for one Grep backend, cwd = remote_dir."""
    state.cwd = remote_dir
    state.backends["grep"] = request.param
    return session, state


@pytest.fixture
def canary(remote: Any) -> Iterator[None]:
    remote.sh(f"rm -f {CANARY}")
    yield
    assert not remote.exists(CANARY), "a hostile name or pattern was executed on the remote"


def commands(session: Session) -> int:
    return session.stats.snapshot()[0]


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
def test_glob_matches_ripgrep_semantics(remote: Any, remote_dir: str, glob_env: Any,
                                        pattern: str, expected: list[str]) -> None:  # fmt: skip
    runner, state = glob_env
    build(remote, remote_dir, GLOB_TREE)
    out = search.glob(runner, pattern, state=state)
    if not expected:
        assert out.text == "No files found"
    else:
        assert out.text == "\n".join(f"{remote_dir}/{p}" for p in expected)


def test_glob_sorts_by_mtime_across_directories(remote: Any, remote_dir: str,
                                                glob_env: Any) -> None:  # fmt: skip
    """Claude Code's rg (14.1.1) sorts all results by mtime; rg 13 would sort
    each directory's entries by their own mtime (here: d1 after z.py)."""
    runner, state = glob_env
    build(remote, remote_dir, {"a.py": ("", day(1)), "d1/old.py": ("", day(5)),
                               "z.py": ("", day(9))})  # fmt: skip
    remote.sh(f"touch -d {shlex.quote(day(10))} {shlex.quote(remote_dir)}/d1")
    out = search.glob(runner, "*.py", state=state)
    assert out.text == "\n".join(f"{remote_dir}/{p}" for p in ("a.py", "d1/old.py", "z.py"))


def test_glob_cap_is_100_oldest_with_claude_code_note(remote: Any, remote_dir: str,
                                                      glob_env: Any) -> None:  # fmt: skip
    runner, state = glob_env
    remote.sh(
        f"cd {shlex.quote(remote_dir)} && for i in $(seq 100 204); do "
        f"touch -d \"@$((1600000000 + i))\" f$i.txt; done"
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
        f"touch -d \"@$((1600000000 + i))\" f$i.txt; done"
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
    with pytest.raises(ToolError) as err:
        search.glob(runner, "*.py", "missing-dir", state=state)
    assert str(err.value) == "Directory does not exist: missing-dir"
    with pytest.raises(ToolError) as err:
        search.glob(runner, "*", f"{remote_dir}/file.txt", state=state)
    assert str(err.value) == f"Path is not a directory: {remote_dir}/file.txt"


def test_glob_absolute_pattern_searches_from_its_directory(remote: Any, remote_dir: str,
                                                           glob_env: Any) -> None:  # fmt: skip
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


def test_glob_bad_pattern_gives_rg_error_on_every_backend(remote: Any, remote_dir: str,
                                                          glob_env: Any) -> None:  # fmt: skip
    """UNCONFIRMED in CC (it shows "No files found" when rg fails); chosen:
    ripgrep's own message, so the agent can fix the pattern."""
    runner, state = glob_env
    build(remote, remote_dir, {"a.py": ""})
    for pattern, message in [
        ("[abc", "error parsing glob '[abc': unclosed character class; missing ']'"),
        ("{a,b", "error parsing glob '{a,b': unclosed alternate group; missing '}' "
                 "(maybe escape '{' with '[{]'?)"),  # fmt: skip
        ("a{b,{c}}", "error parsing glob 'a{b,{c}}': nested alternate groups are not allowed"),
    ]:
        with pytest.raises(ToolError) as err:
            search.glob(runner, pattern, state=state)
        assert str(err.value) == message


def test_glob_default_path_is_the_session_cwd(remote: Any, remote_dir: str, session: Session,
                                              state: ToolState) -> None:  # fmt: skip
    build(remote, remote_dir, {"w/here.py": ""})
    state.cwd = f"{remote_dir}/w"
    assert search.glob(session, "*.py", state=state).text == f"{remote_dir}/w/here.py"


def test_glob_is_one_remote_command(remote: Any, remote_dir: str, session: Session,
                                    state: ToolState) -> None:  # fmt: skip
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
