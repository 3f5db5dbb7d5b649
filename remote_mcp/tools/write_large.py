"""Write of large content: the bytes go over SFTP, not through a shell.

Write's content normally travels inside its command (write.sh.j2), which is
one round trip; but bash reads a script a byte at a time, about 0.35 ms per
KB of content here (a 10 MB Write took 7 s of remote CPU), and base64 adds a
third. From LARGE_WRITE_BYTES on, the content is sent over SFTP into a
private (0600) temp file beside the target -- streamed at link speed, every
write acknowledged -- and one command (write_large.sh.j2) then does what
write.sh.j2 does with its inline content: guard, precondition, identity kept,
atomic rename. Two round trips more than the inline path (the open's handle,
the last write's acknowledgement), so the threshold is where bash's parsing
of a script costs about that much at a 20 ms RTT.

A link that drops while the content is being sent leaves the target
untouched; the partial temp file is removed after one reconnect (if that
fails too, the error names it); once the
command runs, Write's usual rule holds: the change may or may not have been
applied, never half of it.
"""

from __future__ import annotations

import posixpath
from contextlib import AbstractContextManager
from typing import Any

from invoke.runners import Result

from ..errors import ConnectionLost, ToolError
from ..sftp_put import NewFile, abandon, chunks_of, create_private, finish
from .base import Runner, ToolState, run_template
from .guard import guard_values
from .transfer import guarded_remote_path

__all__ = ["LARGE_WRITE_BYTES", "can_stage", "write_large"]

LARGE_WRITE_BYTES = 128 * 1024


def can_stage(runner: Runner, size: int) -> bool:
    """Large enough to be worth SFTP, and the runner lends SFTP clients."""
    return size >= LARGE_WRITE_BYTES and callable(getattr(runner, "sftp_client", None))


def write_large(
    runner: Runner,
    state: ToolState,
    file_path: str,
    path: str,
    data: bytes,
    *,
    expect: object,
    token: str,
) -> Result | None:
    """Stage ``data`` beside ``path`` and commit it with write_large.sh.j2.

    None when it cannot be staged (no such directory, permission denied, a
    full disk): the inline path then runs and says why in Write's words
    (SFTP's replies name no errno; the shell's do)."""
    if state.allowed_paths:  # stage only inside the allowed roots: resolve first
        path = guarded_remote_path(runner, state, path)
    staged = posixpath.join(posixpath.dirname(path), f".rmcp-{token}.tmp")
    lender: Any = runner  # a Session: can_stage() checked it lends SFTP clients
    sftp_client: AbstractContextManager[Any] = lender.sftp_client()
    try:
        with sftp_client as sftp:
            try:
                new = create_private(sftp, staged)
            except OSError:
                return None  # missing directory, permission: the inline path explains
            try:
                finish(new, chunks_of(data))
            except OSError:
                abandon_quietly(new)
                return None  # SFTP says only "Failure": the inline path names the error
    except ConnectionLost as exc:
        if _remove_after_reconnect(lender, staged):
            left = "; its partial temp file was removed. Write again."
        else:
            left = (
                f". A private (0600) temp file {staged} may remain on the remote: remove it, "
                "then Write again."
            )
        raise ToolError(
            f"The SSH connection to {state.host_name} dropped while the content for "
            f"{file_path} was being sent: {file_path} was not changed{left}"
        ) from exc
    return run_template(
        runner,
        "write_large.sh.j2",
        path=path,
        staged=staged,
        expect=expect,
        token=token,
        **guard_values(state),
    )


def _remove_after_reconnect(lender: Any, staged: str) -> bool:
    """Reconnect once and remove the partial temp file; False if that fails."""
    try:
        with lender.sftp_client() as sftp:
            sftp.remove(staged)
    except FileNotFoundError:
        return True
    except Exception:  # the link is still down: the error names the file instead
        return False
    return True


def abandon_quietly(new: NewFile) -> None:
    try:
        abandon(new)
    except Exception:  # best effort: the temp file is private and the reply says so
        pass
