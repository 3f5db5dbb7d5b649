"""The calls ``invoke bench`` times: one scenario per tool and case, run
through its routine on an open session as the server runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .session import Session
from .tools import bash, edit, search
from .tools.base import ToolState

Scenario = tuple[str, str, Callable[[], Any]]  # tool, what, the call


def scenarios(session: Session, state: ToolState, area: str) -> list[Scenario]:
    """Issue 13's per-call list: each must take one round trip and little work."""
    from .tools import files

    big = f"{area}/big.log"
    small = [f"{area}/small{i}.txt" for i in range(10)]
    scenarios: list[Scenario] = [
        (
            "Read",
            "20 lines at offset 100000 of a 20 MB file",
            lambda: files.read(session, big, offset=100000, limit=20, state=state),
        ),
        ("Read", "whole 200-line file", lambda: files.read(session, small[0], state=state)),
        (
            "MultiRead",
            "10 files of 200 lines",
            lambda: files.multi_read(session, [{"file_path": p} for p in small], state=state),
        ),
        ("FileStat", "1 path", lambda: files.file_stat(session, small[:1], state=state)),
        ("FileStat", "10 paths", lambda: files.file_stat(session, small, state=state)),
        (
            "Write",
            "1 KB file (atomic replace)",
            lambda: files.write(session, f"{area}/w1k.txt", "x" * 1_000 + "\n", state=state),
        ),
        (
            "Write",
            "10 KB file (atomic replace)",
            lambda: files.write(session, f"{area}/w10k.txt", "x" * 10_000 + "\n", state=state),
        ),
    ]
    scenarios += _small_edit_scenarios(session, state, area)
    scenarios += _optional_scenarios(session, state, area, big)
    return scenarios


def _small_edit_scenarios(session: Session, state: ToolState, area: str) -> list[Scenario]:
    """Edit and MultiEdit of a 200-line file, flipping a word back and forth
    (each call must find its old_string)."""
    from .tools import edit, files

    target = f"{area}/small9.txt"
    files.read(session, target, state=state)

    def flipper(*lines: str) -> Callable[[], list[tuple[str, str]]]:
        flips = iter(range(10**6))

        def pairs() -> list[tuple[str, str]]:
            up = next(flips) % 2 == 0
            pairs = [(f"{w}\n", f"{w.upper()}\n") for w in lines]
            return pairs if up else [(new, old) for old, new in pairs]

        return pairs

    edit_pairs, multi_pairs = flipper("line 77"), flipper("line 88", "line 99")

    def one_edit() -> None:
        [(old, new)] = edit_pairs()
        edit.edit(session, target, old, new, state=state)

    def multi() -> None:
        edits = [{"old_string": o, "new_string": n} for o, n in multi_pairs()]
        edit.multi_edit(session, target, edits, state=state)

    return [
        ("Edit", "1 line of a 200-line file", one_edit),
        ("MultiEdit", "2 edits of a 200-line file", multi),
    ]


def _optional_scenarios(session: Session, state: ToolState, area: str, big: str) -> list[Scenario]:
    """The 10 MB Edit (each engine), Glob, Grep, Bash and BashOutput."""
    out: list[Scenario] = []
    target = f"{area}/edit10m.txt"
    counter = iter(range(10**6))

    def one_line_edit() -> None:
        old, new = ("line 5 marker", "line 5 MARKER")
        if next(counter) % 2:
            old, new = new, old
        edit.edit(session, target, old, new, state=state)

    out.append(("Edit", "1 line of a 10 MB file, python3 on the remote", one_line_edit))
    for backend in ("perl", "local"):
        forced = ToolState(
            host_name="bench",
            info=state.info,
            cwd=area,
            backends={"edit": backend},
            files=state.files,
        )

        def forced_edit(forced: ToolState = forced) -> None:
            old, new = ("line 5 marker", "line 5 MARKER")
            if next(counter) % 2:
                old, new = new, old
            edit.edit(session, target, old, new, state=forced)

        where = "perl on the remote" if backend == "perl" else "local fallback (no python3/perl)"
        out.append(("Edit", f"1 line of a 10 MB file, {where}", forced_edit))
    out.append(
        (
            "MultiEdit",
            "5 edits of a 10 MB file, python3 on the remote",
            _multi_edit_10m(session, state, target),
        )
    )
    out.append(
        (
            "Glob",
            "**/*.txt over 12 files",
            lambda: search.glob(session, "**/*.txt", area, state=state),
        )
    )
    for mode, context in (("content", 2), ("files_with_matches", None), ("count", None)):
        what = f"{mode} mode{', -C 2' if context else ''}, 10 files"
        out.append(("Grep", what, _grep_call(session, state, f"{area}/grep10", mode, context)))
    out.append(
        (
            "Bash",
            "echo hi on the persistent shell",
            lambda: bash.bash(session, "echo hi", state=state),
        )
    )
    out.append(("BashOutput", "a running background job", _bash_output_call(session, state)))
    return out


def _multi_edit_10m(session: Session, state: ToolState, target: str) -> Callable[[], Any]:
    """Five edits far apart in the 10 MB file, flipped back and forth (issue 13
    target 2: MultiEdit of 5 edits is held to the one-line Edit's bound)."""
    lines = [f"line {n} marker" for n in (11, 2222, 33333, 144444, 255555)]
    flips = iter(range(10**6))

    def call() -> None:
        pairs = [(line, line.upper()) for line in lines]
        if next(flips) % 2:
            pairs = [(new, old) for old, new in pairs]
        edits = [{"old_string": old, "new_string": new} for old, new in pairs]
        edit.multi_edit(session, target, edits, state=state)

    return call


def _grep_call(
    session: Session, state: ToolState, path: str, mode: str, context: int | None
) -> Callable[[], Any]:
    return lambda: search.grep(
        session, "line 1[0-9]$", path, output_mode=mode, context=context, state=state
    )


def _bash_output_call(session: Session, state: ToolState) -> Callable[[], Any]:
    """BashOutput of a background job that keeps running (killed with the
    session's shells at the end of the run)."""
    from .tools import bash, bash_jobs

    started = bash.bash(session, "echo started; sleep 600", run_in_background=True, state=state)
    job_id = str((started.structured or {})["bash_id"])
    return lambda: bash_jobs.bash_output(session, job_id, state=state)
