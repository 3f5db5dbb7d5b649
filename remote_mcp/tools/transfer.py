"""Upload and Download: whole files between this machine and the remote, over
SFTP (binary-exact, no shell involved, large windows for fast links).

Both replace their destination atomically: the data lands in a temporary
file beside it and is renamed into place, so an interrupted transfer never
leaves a half-written file behind. Each transfer has an SFTP channel of its
own (``Session.sftp_client``), so parallel transfers are safe; a fabric
``Connection`` used by a script shares its one client.
"""

from __future__ import annotations

import os
import posixpath
import secrets
import stat
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConnectionLost, ToolError, reason
from .base import ToolOutput, ToolState, format_size

__all__ = ["download", "upload"]


class _OpensSftp(Protocol):
    """A Session: ``sftp_client()`` lends a client for one transfer."""

    def sftp_client(self) -> AbstractContextManager[Any]: ...


class _SharesSftp(Protocol):
    """A fabric.Connection: ``sftp()`` is its one shared client."""

    def sftp(self) -> Any: ...


SftpRunner = _OpensSftp | _SharesSftp


def _sftp(runner: Any) -> AbstractContextManager[Any]:
    opener = getattr(runner, "sftp_client", None)
    return opener() if opener is not None else _shared(runner)


@contextmanager
def _shared(runner: Any) -> Iterator[Any]:
    yield runner.sftp()


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
    tmp = posixpath.join(posixpath.dirname(dest), f".rmcp-upload-{secrets.token_hex(8)}.tmp")
    try:
        with _sftp(runner) as sftp:
            old_mode = _remote_mode(sftp, dest)
            if old_mode is not None and stat.S_ISDIR(old_mode):
                raise ToolError(
                    f"Remote path is a directory: {remote_path}. Give the file's full path."
                )
            if old_mode is not None and not overwrite:
                raise ToolError(
                    f"Remote file already exists: {remote_path}. Set overwrite to true to "
                    "replace it."
                )
            try:
                sftp.put(str(src), tmp)
                sftp.chmod(
                    tmp, stat.S_IMODE(old_mode if old_mode is not None else src.stat().st_mode)
                )
                sftp.posix_rename(tmp, dest)
            except OSError as exc:
                if not isinstance(exc, TimeoutError):  # a stalled link would stall this too
                    _remove_quietly(sftp, tmp)
                raise
    except OSError as exc:  # an SFTP error (the session turns a broken link into ConnectionLost)
        raise ToolError(f"Upload to {remote_path} failed: {reason(exc)}") from exc
    except ConnectionLost as exc:
        raise ToolError(
            f"The SSH connection to {state.host_name} dropped during the Upload to "
            f"{remote_path} ({reason(exc)}), so it may or may not have been applied: the "
            "remote file is either as before or completely replaced, never half-written (a "
            f"temporary {posixpath.basename(tmp)} beside it may remain). Check with FileStat "
            "before repeating it."
        ) from None
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
    try:
        with _sftp(runner) as sftp:
            mode = _remote_mode(sftp, src)
            if mode is None:
                raise ToolError(f"Remote file does not exist: {remote_path}")
            if not stat.S_ISREG(mode):
                raise ToolError(f"Remote path is not a regular file: {remote_path}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".rmcp-download-")
            os.close(handle)
            try:
                sftp.get(src, tmp)
                os.chmod(tmp, stat.S_IMODE(mode) & 0o777)
                os.replace(tmp, dest)
            finally:
                Path(tmp).unlink(missing_ok=True)  # gone already when it was renamed
    except OSError as exc:  # an SFTP or local error (a broken link is ConnectionLost)
        raise ToolError(f"Download of {remote_path} failed: {reason(exc)}") from exc
    except ConnectionLost as exc:
        raise ToolError(
            f"The SSH connection to {state.host_name} dropped during the Download of "
            f"{remote_path} ({reason(exc)}). {local_path} was not changed (the partial copy was "
            "deleted); nothing changed on the remote. Download it again."
        ) from None
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


def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        sftp.remove(path)
    except Exception:  # noqa: BLE001 - best effort cleanup, the link may be gone
        pass
