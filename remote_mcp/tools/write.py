"""Write: Claude Code's Write (reference/claude-code-tools.md, section 2) in
one remote command: read-before-overwrite enforced by a content-hash
precondition, the content sent base64-encoded, the file committed keeping its
identity (``_commit.sh.j2``: atomic rename when safe, else in place).
"""

from __future__ import annotations

import hashlib
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
    result = None
    if can_stage(runner, len(data)):  # large: the bytes go over SFTP, not through a shell
        result = write_large(runner, state, file_path, path, data, expect=expect, token=token)
    if result is None:
        result = run_template(
            runner,
            "write.sh.j2",
            path=path,
            content=data,
            expect=expect,
            token=token,
            **guard_values(state),
        )
    check_exit(result.exited, result.stderr, file_path)
    reply = parse_write_reply(result.stdout)
    if isinstance(reply, Refused):
        backup = backup_path(path, token)
        raise refusal_error(reply, path=file_path, state=state, access="write", backup=backup)
    if reply is None:
        word = result.stdout.strip().partition(" ")[0]
        raise ToolError(f"Unexpected reply from the remote while writing {file_path}: {word!r}")
    status, mtime = reply.status, reply.mtime
    state.files[path] = FileRecord(hashlib.sha256(data).hexdigest(), mtime, len(data))
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
