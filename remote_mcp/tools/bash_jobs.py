"""BashOutput and KillShell: Claude Code's background-shell pair over the
session's Bash shell (``session.bash``), with its result wording.

Jobs belong to the server session that started them: another session's job
is refused with a message that says whose it is, unless ``all_sessions``.
Output is what arrived since this session last read the job (a fresh
session starts at the beginning); BashOutput reads only the new bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import UTC, datetime

from ..bash_jobs import ForeignJob
from ..errors import ToolError
from .base import ToolOutput, ToolState
from .bash import (
    MAX_OUTPUT_CHARS,
    MAX_TIMEOUT_MS,
    BashHost,
    BashRuntime,
    _check_id,
    _offsets,
    _truncate,
)
from .line_filter import filter_lines

__all__ = ["bash_output", "kill_shell"]

READ_CAP = 128 << 10  # BashOutput bytes per call (>= 30000 chars)
FILTER_READ_CAP = 8 << 20  # with a filter every new line is needed
DEFAULT_WAIT_MS = 30_000
LIST_CAP = 50  # jobs shown by BashOutput "list" (the newest)


def bash_output(
    session: BashHost,
    bash_id: str,
    filter: str | None = None,  # Claude Code's parameter name
    block: bool | None = False,
    timeout: float | None = None,
    all_sessions: bool | None = False,
    *,
    state: ToolState,
) -> ToolOutput:
    """New output and status of a background job (v1.0.128's BashOutput blocks).

    Jobs belong to the server session that started them: another session's
    job is refused unless ``all_sessions``. ``bash_id`` "list" lists this
    session's jobs (every session's with ``all_sessions``). ``block`` waits up to
    ``timeout`` ms (default 30000, max 600000) for the job to finish. Output
    is what arrived since this session last read the job (a fresh session
    starts at the beginning); with ``filter`` only matching lines are shown
    and the others are consumed too.
    """
    if bash_id == "list":
        return _list_jobs(session.bash, state, all_sessions=bool(all_sessions))
    regex = None
    if filter:
        try:
            # UNCONFIRMED in CC whether the filter is case-insensitive; chosen:
            # yes, as its validation compiles the pattern with the "i" flag.
            regex = re.compile(filter, re.IGNORECASE)
        except re.error as exc:
            raise ToolError(f'Invalid regex pattern "{filter}": {exc}') from None
    _check_id(bash_id)
    wait_ms = 0.0
    if block:
        wait_ms = DEFAULT_WAIT_MS if timeout is None or timeout < 0 else timeout
        wait_ms = min(wait_ms, MAX_TIMEOUT_MS)
    offsets = _offsets(state)
    offset = offsets.get(bash_id, 0)
    cap = FILTER_READ_CAP if regex else READ_CAP
    job = session.bash.read_job(
        bash_id, offset=offset, cap=cap, wait_s=wait_ms / 1000, all_sessions=bool(all_sessions)
    )
    if job is None:
        raise ToolError(f"No shell found with ID: {bash_id}")
    if isinstance(job, ForeignJob):
        raise ToolError(_foreign(job))
    status, body = job.status, job.body
    start = job.offset
    rest_lines = job.rest_lines
    sent = len(body)
    truncated_remote = job.size - start > sent
    if truncated_remote and regex is None:
        consumed = job.size - start  # CC drops what it cannot show
    else:
        consumed = _consumable(
            body,
            more=status == "running" or truncated_remote,
            truncated=truncated_remote,
            whole_lines=regex is not None,
        )
    offsets[bash_id] = start + consumed
    text = body[: min(consumed, sent)].decode("utf-8", "surrogateescape")
    if regex is not None:
        text = filter_lines(filter or "", text)
        rest_lines = 0
    if rest_lines or truncated_remote and regex is None:
        # Only the head came over: count the lines of the rest as the remote
        # reported them (minus the final newline Claude Code's trimEnd drops).
        tail = text[MAX_OUTPUT_CHARS:]
        remaining = tail.count("\n") + rest_lines - int(job.final_nl) + 1
        stdout = f"{text[:MAX_OUTPUT_CHARS]}\n\n... [{remaining} lines truncated] ..."
    else:
        stdout = _truncate(text.rstrip(), 0)
    parts = [f"<status>{status}</status>"]
    exit_code = job.exit_code
    if exit_code is not None and status in ("completed", "failed"):
        parts.append(f"<exit_code>{exit_code}</exit_code>")
    if stdout.strip():
        parts.append(f"<stdout>\n{stdout.rstrip()}\n</stdout>")
    parts.append(f"<timestamp>{_iso_now()}</timestamp>")
    return ToolOutput(
        text="\n\n".join(parts),
        structured={
            "bash_id": bash_id,
            "status": status,
            "exit_code": int(exit_code) if exit_code and exit_code.lstrip("-").isdigit() else None,
            "stdout": text,
            "offset": offsets[bash_id],
        },
    )


def _consumable(body: bytes, *, more: bool, truncated: bool, whole_lines: bool) -> int:
    """How many bytes to consume now. While more output may follow, hold
    back a cut UTF-8 character -- and, when filtering, a partial last line,
    unless that line alone filled the read."""
    if not more or not body:
        return len(body)
    if whole_lines:
        cut = body.rfind(b"\n")
        if cut >= 0:
            return cut + 1
        return len(body) if truncated else 0
    for back in range(1, min(4, len(body)) + 1):
        byte = body[-back]
        if byte < 0x80:
            return len(body)
        if byte >= 0xC0:  # a lead byte: complete if enough continuation bytes follow
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(body) if back >= need else len(body) - back
    return len(body)


def _iso_now() -> str:
    """JavaScript's toISOString(): millisecond precision, Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _foreign(job: ForeignJob) -> str:
    return (
        f"Shell {job.bash_id} belongs to another remote-mcp session (started "
        f"{job.started or 'at an unknown time'}); pass all_sessions: true to read or kill it "
        "anyway."
    )


def _list_jobs(shell: BashRuntime, state: ToolState, *, all_sessions: bool) -> ToolOutput:
    """This session's jobs, oldest first (the newest LIST_CAP), and one line
    counting the jobs of other sessions; with ``all_sessions``, every job."""
    listing = shell.list_jobs(all_sessions=all_sessions)
    shown = listing.jobs[-LIST_CAP:]
    jobs = [asdict(job) for job in shown]
    structured = {
        "jobs": jobs,
        "other_sessions": listing.others,
        "not_shown": len(listing.jobs) - len(shown),
    }
    lines = []
    if shown:
        whose = "" if all_sessions else " of this session"
        lines.append(f"Background jobs{whose} on {state.host_name} (oldest first):")
    elif listing.others:
        lines.append(f"No background jobs of this session on {state.host_name}.")
    else:
        return ToolOutput(text=f"No background jobs on {state.host_name}.", structured=structured)
    if len(listing.jobs) > len(shown):
        lines.append(f"({len(listing.jobs) - len(shown)} older jobs not shown)")
    for job in shown:
        status = job.status + (f" (exit code {job.exit_code})" if job.exit_code else "")
        owner = "" if job.mine or not all_sessions else "  [another session]"
        lines.append(f"{job.bash_id}  {status}  started {job.started or '?'}{owner}  {job.command}")
    if listing.others:
        noun = "job" if listing.others == 1 else "jobs"
        lines.append(
            f"{listing.others} {noun} of other remote-mcp sessions on {state.host_name} not "
            "shown; pass all_sessions: true to list them."
        )
    return ToolOutput(text="\n".join(lines), structured=structured)


def kill_shell(
    session: BashHost, shell_id: str, all_sessions: bool | None = False, *, state: ToolState
) -> ToolOutput:
    """Kill background job ``shell_id`` and its whole process group (v1.0.128
    KillShell); another session's job only with ``all_sessions``."""
    del state
    _check_id(shell_id)
    job = session.bash.kill_job(shell_id, all_sessions=bool(all_sessions))
    if job is None:
        raise ToolError(f"No shell found with ID: {shell_id}")
    if isinstance(job, ForeignJob):
        raise ToolError(_foreign(job))
    if not job.was_running:
        raise ToolError(
            f"Shell {shell_id} is not running, so cannot be killed (status: {job.status})"
        )
    message = {
        "message": f"Successfully killed shell: {shell_id} ({job.command})",
        "shell_id": shell_id,
    }
    return ToolOutput(
        text=json.dumps(message, ensure_ascii=False, separators=(",", ":")),
        structured={"bash_id": shell_id, "status": "killed"},
    )
