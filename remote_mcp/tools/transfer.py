"""Upload and Download: whole files between this machine and the remote, over
SFTP (binary-exact, no shell involved, large windows for fast links).

Both replace their destination atomically: the data lands in a temporary
file beside it and is renamed into place, so an interrupted transfer never
leaves a half-written file behind.
"""

from __future__ import annotations

import os
import posixpath
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any, Protocol

from ..errors import ToolError
from .base import ToolOutput, ToolState, format_size

__all__ = ["download", "upload"]


class SftpRunner(Protocol):
    """A Session or a fabric.Connection: both offer ``sftp()``."""

    def sftp(self) -> Any: ...


def upload(
    runner: SftpRunner,
    local_path: str,
    remote_path: str,
    overwrite: bool = False,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    state = state if state is not None else ToolState()
    src = Path(os.path.expanduser(local_path))
    if not src.is_file():
        raise ToolError(f"Local file does not exist or is not a regular file: {local_path}")
    dest = state.resolve(remote_path)
    state.check_allowed(dest, write=True)
    sftp = runner.sftp()
    old_mode = _remote_mode(sftp, dest)
    if old_mode is not None and stat.S_ISDIR(old_mode):
        raise ToolError(f"Remote path is a directory: {remote_path}. Give the file's full path.")
    if old_mode is not None and not overwrite:
        raise ToolError(
            f"Remote file already exists: {remote_path}. Set overwrite to true to replace it."
        )
    tmp = posixpath.join(posixpath.dirname(dest), f".rmcp-upload-{secrets.token_hex(8)}.tmp")
    try:
        sftp.put(str(src), tmp)
        sftp.chmod(tmp, stat.S_IMODE(old_mode if old_mode is not None else src.stat().st_mode))
        sftp.posix_rename(tmp, dest)
    except OSError as exc:
        _remove_quietly(sftp, tmp)
        raise ToolError(f"Upload to {remote_path} failed: {exc}") from exc
    state.files.pop(dest, None)  # our knowledge of the old content is void
    size = src.stat().st_size
    return ToolOutput(
        f"Uploaded {local_path} to {remote_path} ({format_size(size)}).",
        structured={"bytes": size, "remote_path": dest},
    )


def download(
    runner: SftpRunner,
    remote_path: str,
    local_path: str,
    overwrite: bool = False,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    state = state if state is not None else ToolState()
    src = state.resolve(remote_path)
    state.check_allowed(src, write=False)
    dest = Path(os.path.expanduser(local_path))
    if dest.is_dir():
        raise ToolError(f"Local path is a directory: {local_path}. Give the file's full path.")
    if dest.exists() and not overwrite:
        raise ToolError(
            f"Local file already exists: {local_path}. Set overwrite to true to replace it."
        )
    sftp = runner.sftp()
    mode = _remote_mode(sftp, src)
    if mode is None:
        raise ToolError(f"Remote file does not exist: {remote_path}")
    if not stat.S_ISREG(mode):
        raise ToolError(f"Remote path is not a regular file: {remote_path}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".rmcp-download-")
    os.close(fd)
    try:
        sftp.get(src, tmp)
        os.chmod(tmp, stat.S_IMODE(mode) & 0o777)
        os.replace(tmp, dest)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ToolError(f"Download of {remote_path} failed: {exc}") from exc
    size = dest.stat().st_size
    return ToolOutput(
        f"Downloaded {remote_path} to {local_path} ({format_size(size)}).",
        structured={"bytes": size, "local_path": str(dest)},
    )


def _remote_mode(sftp: Any, path: str) -> int | None:
    try:
        return int(sftp.stat(path).st_mode)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"Cannot inspect remote path {path}: {exc}") from exc


def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        sftp.remove(path)
    except OSError:
        pass
