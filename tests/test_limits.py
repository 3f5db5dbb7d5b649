"""Large results cost what is returned: Grep's content pages and Read's
slices are cut on the remote, so bytes on the wire (session.stats) follow the
answer, not the file; pages of one search fit together line for line."""

from __future__ import annotations

import shlex

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.session import Session
from remote_mcp.tools import files, search
from remote_mcp.tools.base import ToolState


def received(session: Session) -> int:
    return session.stats.snapshot()[2]


def test_grep_deep_offset_returns_the_lines_and_moves_only_the_page(
    session: Session, state: ToolState, remote, remote_dir
) -> None:
    path = f"{remote_dir}/numbers.txt"
    remote.sh(f"seq 1 3000000 > {shlex.quote(path)}")
    before = received(session)
    out = search.grep(
        session, ".", path, output_mode="content", offset=2_900_000, head_limit=3, state=state
    )
    moved = received(session) - before
    assert out.text == (
        "2900001:2900001\n2900002:2900002\n2900003:2900003\n\n"
        "[Showing results with pagination = limit: 3, offset: 2900000]"
    )
    assert out.structured["numLines"] == 3
    assert moved < 100_000, moved  # the whole output is ~20 MB


def test_grep_without_a_limit_counts_the_lines_it_does_not_send(
    session: Session, state: ToolState, remote, remote_dir
) -> None:
    path = f"{remote_dir}/numbers.txt"
    remote.sh(f"seq 1 1000000 > {shlex.quote(path)}")
    before = received(session)
    out = search.grep(session, ".", path, output_mode="content", state=state)
    moved = received(session) - before
    head, _, note = out.text.rpartition("\n\n")
    shown = head.count("\n") + 1
    # Claude Code's cap: 20000 characters, then how many lines were left out.
    assert note.startswith("... [") and note.endswith(" lines truncated] ...")
    left_out = int(note.split("[")[1].split()[0])
    assert shown + left_out == 1_000_000 + 1  # the cut line is counted in both
    assert moved < 1_000_000, moved


@pytest.mark.parametrize("backend", ["rg", "grep"])
def test_grep_pages_fit_together_line_for_line(
    sshd, session: Session, remote, remote_dir, backend: str
) -> None:
    for name, text in (
        ("a/f.txt", "x1\ny\ny\ny\nx2\n"),
        ("a-c.txt", "x3\n"),
        ("b/g.txt", "y\nx4\n"),
    ):
        remote.sh(f"mkdir -p {shlex.quote(remote_dir)}/a {shlex.quote(remote_dir)}/b")
        remote.write_bytes(f"{remote_dir}/{name}", text.encode())
    assert session.info is not None
    state = ToolState(
        host_name="test", info=session.info, cwd=remote_dir, backends={"grep": backend}
    )
    whole = search.grep(session, "x", remote_dir, output_mode="content", context=1, state=state)
    lines = whole.text.split("\n")
    assert len(lines) >= 9 and "--" in lines
    paged: list[str] = []
    for offset in range(0, len(lines), 2):
        page = search.grep(
            session,
            "x",
            remote_dir,
            output_mode="content",
            context=1,
            offset=offset,
            head_limit=2,
            state=state,
        )
        paged += page.text.rpartition("\n\n[Showing results")[0].split("\n")
    assert paged == lines


def test_read_slice_is_capped_on_the_remote(
    session: Session, state: ToolState, remote, remote_dir
) -> None:
    path = f"{remote_dir}/noise.txt"
    # ~6 MB of incompressible 100-character lines.
    remote.sh(f"head -c 4500000 /dev/urandom | base64 -w 100 > {shlex.quote(path)}")
    before = received(session)
    with pytest.raises(ToolError, match="exceeds maximum allowed tokens"):
        files.read(session, path, offset=1, limit=60000, state=state)
    assert received(session) - before < 1_000_000
