"""What every tool says when the remote does not do what was asked: one table
from the templates' refusal words to Claude Code's messages.

A template answers a refusal with a word on its status line (``notread``,
``refused B64``, ``failed STEP TEXT`` ...). :func:`parse_refusal` reads that
line into a :class:`Refused`; :func:`refusal_error` words it, the same way for
Read, Write, Edit, MultiEdit, FileStat, Glob, Grep and the transfers, so two
tools never say the same thing two ways.

Claude Code reports Node's errors: ``EACCES: permission denied, open '<path>'``.
The remote commands print the failing tool's own error text (in the C
locale); :func:`errno_message` turns it back into the errno code and Node's
wording, so a full disk reads as ENOSPC and a long name as ENAMETOOLONG, not
as a permission problem. The commit's words come from ``_commit.sh.j2``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from ..errors import ToolError
from .base import NOT_READ, STALE
from .guard import refusal

__all__ = [
    "NOTEBOOK",
    "Refusal",
    "Refused",
    "backup_path",
    "errno_message",
    "file_missing",
    "parse_refusal",
    "refusal_error",
]

NOTEBOOK = "File is a Jupyter Notebook. Use the NotebookEdit to edit this file."


class Refusal(StrEnum):
    """The words a template prints for "not done", with what follows them."""

    OUTSIDE_GUARD = "refused"  # allowed_paths; then the resolved path, base64 ("-": none)
    MISSING = "missing"
    NOT_DIRECTORY = "notdir"
    IS_DIRECTORY = "isdir"
    UNREADABLE = "unreadable"
    DENIED = "denied"  # the file is not writable
    NOT_READ = "notread"  # no Read in this session (Write, Edit)
    STALE = "stale"  # changed since that Read
    NOT_REGULAR = "notregular"
    NOTEBOOK = "notebook"
    BAD_LINK = "badlink"
    MKDIR = "mkdir"
    FAILED = "failed"  # then the commit step (tmp, ...) and the tool's error text
    CORRUPT = "corrupt"  # an in-place write and its restore both failed


@dataclass(frozen=True)
class Refused:
    """A template's refusal: its word and what followed it on the line."""

    word: Refusal
    detail: str = ""


def parse_refusal(line: str) -> Refused | None:
    """The refusal a status line carries, or None if it is not one."""
    word, _, detail = line.strip().partition(" ")
    try:
        return Refused(Refusal(word), detail)
    except ValueError:
        return None


# What the tool does to the path -> Node's call named in EACCES (permission)
# and in EISDIR (a directory where a file was meant). Glob lists a directory,
# Grep searches a file or a directory: each says "missing" its own way.
Access = Literal["read", "write", "glob", "grep"]
_NODE_CALLS: dict[str, tuple[str, str]] = {
    "read": ("open", "read"),
    "write": ("open", "open"),
    "glob": ("scandir", "scandir"),
    "grep": ("scandir", "scandir"),
}


def file_missing(state: Any) -> str:
    """Claude Code's text for a missing file, with the shell's cwd when it moved."""
    msg = "File does not exist."
    if state.cwd and state.info and state.cwd != state.info.home:
        msg += f" Current working directory: {state.cwd}"
    return msg


def refusal_error(
    refused: Refused, *, path: str, state: Any, access: Access = "read", backup: str = ""
) -> ToolError:
    """The agent's error for ``refused`` of ``path`` (as the agent wrote it).

    ``access`` (what the tool does to the path) picks Node's wording;
    ``backup`` is where an in-place write kept the old content
    (:func:`backup_path`)."""
    word, detail = refused.word, refused.detail
    if word is Refusal.OUTSIDE_GUARD:
        return refusal(state, path, detail.strip())
    if word is Refusal.FAILED:
        return ToolError(_commit_failed(detail, path))
    access_call, isdir_call = _NODE_CALLS[access]
    key = f"{word}-{access}" if word is Refusal.MISSING and access in ("glob", "grep") else word
    messages = {
        "missing": file_missing(state),
        "missing-glob": f"Directory does not exist: {path}",
        "missing-grep": f"Path does not exist: {path}",
        "notdir": f"Path is not a directory: {path}",
        "isdir": f"EISDIR: illegal operation on a directory, {isdir_call} '{path}'",
        "unreadable": f"EACCES: permission denied, {access_call} '{path}'",
        "denied": f"EACCES: permission denied, open '{path}'",
        "notread": NOT_READ,
        "stale": STALE,
        "notregular": f"Cannot edit {path}: it is not a regular file.",
        "notebook": NOTEBOOK,
        "badlink": f"Cannot resolve the symbolic link {path} on the remote.",
        "mkdir": f"Cannot create the parent directory of {path} on the remote.",
        "corrupt": f"Writing {path} in place failed and so did restoring it: its content may "
        f"be incomplete. The previous content is kept on the remote in {backup}; copy it "
        "back (Bash: cat BACKUP > FILE) before doing anything else.",
    }
    return ToolError(messages[key])


# strerror(3) text in the C locale -> (code, Node's description)
_ERRNO = {
    "No space left on device": ("ENOSPC", "no space left on device"),
    "Disk quota exceeded": ("EDQUOT", "disk quota exceeded"),
    "File name too long": ("ENAMETOOLONG", "name too long"),
    "Permission denied": ("EACCES", "permission denied"),
    "Read-only file system": ("EROFS", "read-only file system"),
    "Operation not permitted": ("EPERM", "operation not permitted"),
    "Text file busy": ("ETXTBSY", "text file is busy"),
    "No such file or directory": ("ENOENT", "no such file or directory"),
    "Not a directory": ("ENOTDIR", "not a directory"),
    "Too many levels of symbolic links": ("ELOOP", "too many symbolic links encountered"),
    "Input/output error": ("EIO", "i/o error"),
    "File too large": ("EFBIG", "file too large"),
}
# Running out of room fails the write(2), everything else the open(2).
_WRITE_ERRORS = frozenset({"ENOSPC", "EDQUOT", "EIO", "EFBIG"})


def errno_message(detail: str, shown: str) -> str | None:
    """Node's ``CODE: description, syscall '<path>'`` for an error text, if known."""
    for text, (code, description) in _ERRNO.items():
        if text in detail:
            syscall = "write" if code in _WRITE_ERRORS else "open"
            return f"{code}: {description}, {syscall} '{shown}'"
    return None


def backup_path(path: str, token: str) -> str:
    """Where ``_commit.sh.j2`` keeps the old content during an in-place write."""
    return posixpath.join(posixpath.dirname(path), f".rmcp-{token}.bak")


def _commit_failed(detail: str, shown: str) -> str:
    """``failed STEP TEXT``: the errno's message, else the tool's own text."""
    step, _, text = detail.partition(" ")
    message = errno_message(text, shown)
    if message is None:
        message = f"Cannot write {shown} on the remote: {text.strip() or 'unknown error'}"
    if step == "tmp" and message.startswith("EACCES"):
        message += (
            " (the new content goes first to a temporary file beside it, so its directory "
            "must be writable)"
        )
    return message
