"""Write: Claude Code's Write (reference/claude-code-tools.md, section 2) in
one remote command: read-before-overwrite enforced by a content-hash
precondition, the content sent base64-encoded, the file committed keeping its
identity (``_commit.sh.j2``: atomic rename when safe, else in place). Where
Edit's python3 engine runs, it does Write's precondition and commit too: one
process instead of a dozen stat/chmod/chown forks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from ..errors import ToolError
from .base import (
    FileRecord,
    Runner,
    ToolOutput,
    ToolState,
    check_exit,
    number_lines,
    require_command,
    run_template,
    split_lines,
)
from .edit import (
    REFUSED_EXIT,
    choose_backend,
    packed,
    python3_too_old,
    run_engine_template,
    write_program,
)
from .guard import check_writable, guard_values
from .refusals import Refused, backup_path, parse_refusal, refusal_error
from .write_large import can_stage, write_large

__all__ = ["WriteStatus", "Written", "parse_write_reply", "write"]

WRITE_SNIPPET_LINES = 16000  # Ek2
_CLIPPED = (
    "<response clipped><NOTE>To save on context only part of this file has been shown "
    "to you. You should retry this tool after you have searched inside the file with Grep "
    "in order to find the line numbers of what you are looking for.</NOTE>"
)
# What still works on a host without base64 (Write sends content base64-encoded).
WITHOUT_BASE64 = (
    "Read, Grep, Glob, Bash, Upload (which can replace a whole file) and Edit (when python3 or "
    "perl is on the host) still work."
)


class WriteStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


@dataclass(frozen=True)
class Written:
    status: WriteStatus
    mtime: str  # the file's new mtime, the precondition of the next change


def parse_write_reply(stdout: str) -> Written | Refused | None:
    """``write.sh.j2``'s one line: ``created|updated MTIME`` or a refusal."""
    line = stdout.strip()
    refused = parse_refusal(line)
    if refused is not None:
        return refused
    word, _, mtime = line.partition(" ")
    try:
        return Written(WriteStatus(word), mtime)
    except ValueError:
        return None


def write(
    runner: Runner, file_path: str, content: str, *, state: ToolState | None = None
) -> ToolOutput:
    """Claude Code's Write: read-before-overwrite enforced; the file keeps its
    identity (``_commit.sh.j2``: atomic rename when safe, else in place)."""
    state = state if state is not None else ToolState()
    check_writable(state, "Write")
    require_command(state, runner, "Write", "base64", WITHOUT_BASE64)
    path = state.resolve(file_path, runner)
    record = state.files.get(path)
    expect: object = "absent" if record is None else record
    data = content.encode("utf-8", "surrogateescape")
    token = "RMCP_EOF_" + secrets.token_hex(12)
    engine = "python3" if choose_backend(state, runner) == "python3" else "shell"
    result = None
    if can_stage(runner, len(data)):  # large: the bytes go over SFTP, not through a shell
        result = write_large(runner, state, file_path, path, data, expect=expect, token=token)
    if result is None:
        values = dict(
            path=path,
            content=data,
            expect=expect,
            token=token,
            engine=engine,
            refused=REFUSED_EXIT,
            **guard_values(state),
        )
        if engine == "python3":
            program = packed(write_program())
            result = run_engine_template(runner, state, "write.sh.j2", program, **values)
        else:
            result = run_template(runner, "write.sh.j2", program="", resident=False, **values)
    check_exit(result.exited, result.stderr, file_path)
    if python3_too_old(result.stdout, result.stderr, engine, state):
        return write(runner, file_path, content, state=state)
    if result.stdout.startswith("crashed "):
        raise ToolError(
            f"The write program failed on the remote ({result.stdout.strip()}): "
            f"{result.stderr.strip()[-500:]}\nNothing was written. Setting edit_backend to "
            "perl or local in the remote-mcp config writes with the shell instead."
        )
    reply = parse_write_reply(result.stdout)
    if isinstance(reply, Refused):
        backup = backup_path(path, token)
        raise refusal_error(reply, path=file_path, state=state, access="write", backup=backup)
    if reply is None:
        word = result.stdout.strip().partition(" ")[0]
        raise ToolError(f"Unexpected reply from the remote while writing {file_path}: {word!r}")
    status, mtime = reply.status, reply.mtime
    state.files[path] = FileRecord.of_content(data, mtime)
    info = {"path": path, "status": str(status), "bytes": len(data)}
    if status is WriteStatus.CREATED:
        return ToolOutput(f"File created successfully at: {file_path}", structured=info)
    lines = split_lines(content)
    snippet = number_lines(lines[:WRITE_SNIPPET_LINES], 1)
    if len(lines) > WRITE_SNIPPET_LINES:
        snippet += _CLIPPED
    return ToolOutput(
        f"The file {file_path} has been updated. Here's the result of running `cat -n` on a "
        f"snippet of the edited file:\n{snippet}",
        structured=info,
    )
