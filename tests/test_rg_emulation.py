"""The ripgrep emulation, differential against the real tools on this machine.

Without rg on the remote, Glob and Grep decide in Python which files rg would
list (``RipgrepGlob``), walk with ``find`` (``find_filter``), take file types
from a table (``RG_TYPES``) and search with GNU ``grep -E`` (``translate_regex``).
Each is checked here against the local ``rg``, GNU find, BusyBox find and GNU
grep over a small generated tree: no sshd, so these run in the fast layer.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_mcp.tools.glob_to_find import find_filter
from remote_mcp.tools.rg_globs import GlobSyntaxError, RipgrepGlob
from remote_mcp.tools.rg_types import RG_TYPES

RG = shutil.which("rg")
GNU_FIND = shutil.which("find")
BUSYBOX = shutil.which("busybox")
GNU_GREP = shutil.which("grep")

pytestmark = pytest.mark.skipif(
    RG is None and not os.environ.get("CI"),
    reason="ripgrep (rg) is not installed here; CI installs it (.ci/run)",
)
LOCAL = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
C_LOCALE = {**os.environ, "LC_ALL": "C"}

# Names chosen to hit the glob features: extensions, hidden files, nesting,
# glob metacharacters and spaces in names, bare names rg types list.
# A word list: packed lines read better than one word a line (fmt: skip).
TREE = [
    "a.py",
    "b.txt",
    "Makefile",
    ".bashrc",
    "CMakeLists.txt",
    "weird[1].txt",
    "brace{a}.c",
    "q?.py",
    "star*.md",
    "a b.md",
    "café.py",
    "src/main.py",
    "src/main.rs",
    "src/lib/util.rs",
    "src/lib/.hidden.py",
    "src/lib/a.py",
    "docs/readme.md",
    "docs/a b.md",
    "docs/src/x.md",
    "build/out.o",
    "build/src/gen.py",
    "x/y/z/deep.py",
    "x/y/z/a.txt",
    ".git/config",
    "node_modules/m/index.js",
    "src/a",
    "lib/a.py",
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rgtree")
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{rel}\n")
    return root


def _files(root: Path) -> list[bytes]:
    out = []
    for dirpath, _, names in os.walk(os.fsencode(root)):
        for name in names:
            out.append(os.path.relpath(os.path.join(dirpath, name), os.fsencode(root)))
    return sorted(out)


def _rg_files(root: Path, args: Sequence[str]) -> tuple[int, set[bytes], str]:
    """``rg --files`` with only the given options (no ignore files, no config)."""
    run = subprocess.run(
        [RG or "rg", "--files", "--hidden", "--no-ignore", "--no-config", *args],
        cwd=root,
        capture_output=True,
        env=C_LOCALE,
        timeout=30,
        check=False,
    )
    return run.returncode, set(run.stdout.splitlines()), run.stderr.decode(errors="replace")


def _find(root: Path, command: list[str], words: list[str]) -> set[bytes]:
    run = subprocess.run(
        [*command, ".", *words, "-print"],
        cwd=root,
        capture_output=True,
        env=C_LOCALE,
        timeout=30,
        check=True,
    )
    return {line.removeprefix(b"./") for line in run.stdout.splitlines()}


# -- globs ------------------------------------------------------------------------------
# A word list: packed lines read better than one word a line (fmt: skip).
_SEGMENTS = st.sampled_from(
    [
        "*",
        "**",
        "?",
        "a",
        "src",
        "lib",
        "docs",
        "x",
        "y",
        "z",
        "main.*",
        "*.py",
        "*.rs",
        "*.md",
        "*.{py,rs}",
        "{src,docs}",
        "[a-m]*",
        "[!a]*",
        "a*",
        "*a",
        ".*",
        "deep*",
        "*.txt",
        "a?py",
        "weird\\[1\\].txt",
        "q\\?.py",
        "{a,b}.*",
        "**.py",
        "a b.md",
        "caf*",
        "[[]*",
    ]
)


@st.composite
def _globs(draw: st.DrawFn) -> str:
    body = "/".join(draw(st.lists(_SEGMENTS, min_size=1, max_size=3)))
    lead = draw(st.sampled_from(["", "", "!", "/", "!/"]))
    trail = draw(st.sampled_from(["", "", "", "/"]))
    return lead + body + trail


@LOCAL
@given(globs=st.lists(_globs(), min_size=1, max_size=3))
def test_glob_emulation_selects_what_rg_lists(tree: Path, globs: list[str]) -> None:
    """One rg run per example, checked three ways: RipgrepGlob in Python, the
    GNU find filter (exact), the POSIX find filter under BusyBox (exact, or a
    superset that RipgrepGlob narrows to exact, as Glob does)."""
    rc, listed, err = _rg_files(tree, [a for g in globs for a in ("--glob", g)])
    try:
        matcher = RipgrepGlob(globs)
    except GlobSyntaxError as exc:
        assert rc == 2 and str(exc) in err, (globs, str(exc), err)
        return
    assert rc in (0, 1), (globs, err)
    assert {p for p in _files(tree) if matcher.selects(p)} == listed, globs

    words = find_filter(matcher, gnu=True, exact=True)
    assert words is not None
    assert _find(tree, [GNU_FIND or "find"], words) == listed, (globs, words)

    if BUSYBOX is None:
        return
    superset = find_filter(matcher, gnu=False, exact=False)
    assert superset is not None
    found = _find(tree, [BUSYBOX, "find"], superset)
    assert listed <= found, (globs, superset)
    assert {p for p in found if matcher.selects(p)} == listed
    exact = find_filter(matcher, gnu=False, exact=True)
    if exact is not None:
        assert _find(tree, [BUSYBOX, "find"], exact) == listed, (globs, exact)


@pytest.mark.parametrize(
    ("glob", "error"),
    [
        ("[a", "unclosed character class"),
        ("{a,{b}}", "nested alternate groups are not allowed"),
        ("{a", "unclosed alternate group"),
        ("[z-a]", "invalid range"),
        ("a\\", "dangling"),
    ],
)
def test_a_glob_rg_rejects_is_rejected_with_rg_wording(tree: Path, glob: str, error: str) -> None:
    rc, _, err = _rg_files(tree, ["--glob", glob])
    with pytest.raises(GlobSyntaxError) as caught:
        RipgrepGlob([glob])
    assert rc == 2 and error in err
    assert str(caught.value) in err, (str(caught.value), err)


# -- the type table ----------------------------------------------------------------------
@functools.cache
def _rg_type_list() -> dict[str, tuple[str, ...]]:
    run = subprocess.run(
        [RG or "rg", "--type-list", "--no-config"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return {
        name: tuple(globs.split(", "))
        for name, globs in (line.split(": ", 1) for line in run.stdout.splitlines())
    }


@pytest.fixture(scope="module")
def type_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file per glob of every type, plus near misses (``x.pyc`` for ``*.py``)."""
    root = tmp_path_factory.mktemp("types")
    for globs in RG_TYPES.values():
        for glob in globs:
            name = glob.replace("*", "f")
            for variant in (name, name + "c", "sub/" + name, "f" + name):
                path = root / variant
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("x\n")
    return root


@pytest.mark.parametrize("name", sorted(RG_TYPES))
def test_type_table_matches_rg_type_list(name: str) -> None:
    assert set(RG_TYPES[name]) == set(_rg_type_list()[name])


@pytest.mark.parametrize("name", sorted(RG_TYPES))
def test_type_filter_selects_what_rg_type_selects(type_tree: Path, name: str) -> None:
    rc, listed, err = _rg_files(type_tree, ["--type", name])
    assert rc == 0, err
    for gnu in (True, False):
        words = find_filter(RipgrepGlob([]), RG_TYPES[name], gnu=gnu, exact=True)
        assert words is not None
        assert _find(type_tree, [GNU_FIND or "find"], words) == listed, (name, gnu)
