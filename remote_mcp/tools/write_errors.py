"""What Write, Edit and MultiEdit say when the remote refuses to store a file.

Claude Code reports Node's error: ``EACCES: permission denied, open '<path>'``.
The remote commands print the failing tool's own error text (in the C
locale); this module turns it back into the errno code and Node's wording, so
a full disk reads as ENOSPC and a long name as ENAMETOOLONG, not as a
permission problem. The reply words come from ``_commit.sh.j2``.
"""

from __future__ import annotations

import posixpath

__all__ = ["backup_path", "commit_failure", "errno_message"]

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


def commit_failure(line: str, shown: str, backup: str) -> str | None:
    """The agent's message for a refusal/failure reply line, or None if ``line`` is none."""
    word, _, rest = line.partition(" ")
    if word == "denied":
        return f"EACCES: permission denied, open '{shown}'"
    if word == "corrupt":
        return (
            f"Writing {shown} in place failed and so did restoring it: its content may be "
            f"incomplete. The previous content is kept on the remote in {backup}; copy it "
            "back (Bash: cat BACKUP > FILE) before doing anything else."
        )
    if word != "failed":
        return None
    step, _, detail = rest.partition(" ")
    message = errno_message(detail, shown)
    if message is None:
        message = f"Cannot write {shown} on the remote: {detail.strip() or 'unknown error'}"
    if step == "tmp" and message.startswith("EACCES"):
        message += (
            " (the new content goes first to a temporary file beside it, so its directory "
            "must be writable)"
        )
    return message
