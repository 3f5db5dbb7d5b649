"""Hostile file names and contents: nothing a user controls ever becomes shell.

Write -> Read must round-trip byte-exact for any name and content, and a
canary proves that no `$(...)`, backtick or `;` in them was executed.
"""

from __future__ import annotations

import posixpath
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_mcp.tools import files
from remote_mcp.tools.base import ToolState

CANARY = "/tmp/remote-mcp-canary"
# Pieces that would run something if they ever reached a shell unquoted.
INJECTIONS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"; touch {CANARY}",
    f"' ; touch {CANARY} ; '",
    f'" ; touch {CANARY} ; "',
    f"\n touch {CANARY}\n",
    f"|touch {CANARY}",
    f"&& touch {CANARY}",
    "${IFS}",
    "-rf",
    "--",
    "*",
    "~",
    "EOF",
]

# File name components: any byte but "/" and NUL; non-UTF-8 bytes arrive as
# surrogate escapes, exactly as os.fsdecode would give them.
raw_bytes = st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b)
name_parts = st.one_of(
    st.sampled_from(INJECTIONS).map(lambda s: s.replace("/", "_")),
    st.text(
        alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=12,
    ),
    raw_bytes.map(lambda b: b.decode("utf-8", "surrogateescape")),
)
names = (
    st.lists(name_parts, min_size=1, max_size=3)
    .map("".join)
    .filter(lambda n: n not in (".", "..") and len(n.encode("utf-8", "surrogateescape")) < 200)
)
contents = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))),
    st.lists(st.sampled_from(INJECTIONS + ["\r\n", "\n", "\\", "'\"", "é"])).map("".join),
    st.binary(max_size=200)
    .filter(lambda b: b"\0" not in b)
    .map(lambda b: b.decode("utf-8", "surrogateescape")),
)


@pytest.fixture
def canary(remote):
    remote.sh(f"rm -f {CANARY}")
    yield
    assert not remote.exists(CANARY), "a hostile name or content was executed on the remote"


# Each example is a Write and a Read over SSH plus checks on channels of their
# own: 500 examples took over 300 s (pytest-timeout) on a loaded 2-core machine.
# The names strategy is built from injections, so 100 examples still mix them.
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=names, content=contents, leading_dash=st.booleans())
def test_write_read_roundtrip_is_byte_exact(
    session, remote, remote_dir, canary, name, content, leading_dash
):
    name = ("-" + name) if leading_dash else name
    # A fresh directory per example: a failing example must not leave a file
    # that makes the shrunk re-runs fail differently.
    path = f"{remote_dir}/{uuid.uuid4().hex}/{name}"
    state = ToolState(info=session.info)
    files.write(session, path, content, state=state)
    expected = content.encode("utf-8", "surrogateescape")
    # Independent check over a separate SSH channel: the exact bytes landed.
    # (Example directories are left for remote_dir's teardown: an exec is slow.)
    assert remote.read_bytes(path) == expected
    # And Read gives them back (numbered) as the same text.
    ext = posixpath.splitext(name)[1].lower()
    if ext in files.IMAGE_TYPES or ext in files.BINARY_EXTENSIONS:
        return  # Read answers by file type there (image block, binary refusal), not with lines
    out = files.read(session, path, state=state)
    if not expected:
        assert "contents are empty" in out.text
    elif b"\0" not in expected[:8192]:
        lines = out.structured["lines"]
        assert lines == [line[:2000] for line in _split(content)]


def _split(text: str) -> list[str]:
    import re

    lines = re.split(r"\r?\n", text)
    if text.endswith("\n"):
        lines.pop()
    return lines


def test_hostile_names_through_filestat_and_multiread(session, remote, remote_dir, canary):
    state = ToolState(info=session.info)
    paths = [f"{remote_dir}/{inj.replace('/', '_')}" for inj in INJECTIONS]
    for i, path in enumerate(paths):
        files.write(session, path, f"{i}\n", state=state)
    stat = files.file_stat(session, paths, state=state).structured["entries"]
    assert all(e["exists"] and e["type"] == "file" for e in stat)
    out = files.multi_read(session, [{"file_path": p} for p in paths], state=state)
    assert [f["lines"] for f in out.structured["files"]] == [[str(i)] for i in range(len(paths))]
