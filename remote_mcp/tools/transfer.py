"""Upload and Download: whole files between this machine and the remote, over
SFTP (binary-exact, no shell involved, large windows for fast links).

Both replace their destination atomically: the data lands in a temporary
file beside it and is renamed into place, so an interrupted transfer never
leaves a half-written file behind. Both temp files are private (0600) from
their first byte: an upload of a key that the link cuts half-way leaves at
most a partial file nobody else can read.

Both ends are guarded. The remote path goes through the host's
``allowed_paths`` guard (resolved on the remote, one extra round trip, only
when the host sets allowed_paths). Download is a local write that content on
the remote can steer, so it is marked destructive, resolves the local path
with symlinks, never writes into ``~/.ssh`` or remote-mcp's own config, honours
the host's ``local_paths`` allow-list, and gives the file owner-only
permissions. Upload reads only a regular file the user can read.

Each transfer has an SFTP channel of its own (``Session.sftp_client``), so
parallel transfers are safe; a fabric ``Connection`` used by a script shares
its one client. A transfer the link cuts says what state it left.
"""

from __future__ import annotations

import base64
import os
import posixpath
import secrets
import stat
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..config import default_config_path
from ..errors import ConnectionLost, ToolError, reason
from ..sftp_put import CHUNK, NewFile, abandon, chunks_of, finish, stat_and_create
from .base import ToolOutput, ToolState, format_size, run_template
from .guard import check_writable, guard_values
from .refusals import Refusal, parse_refusal, refusal_error

__all__ = [
    "download",
    "guarded_remote_path",
    "local_refusal",
    "private_local_paths",
    "upload",
]

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class SftpRunner(Protocol):
    """A Session or a fabric.Connection: both offer ``run()``; a Session lends
    an SFTP client per transfer (``sftp_client()``), a Connection shares its
    one (``sftp()``)."""

    def run(self, command: str, **kwargs: Any) -> Any: ...


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
    check_writable(state, "Upload")
    with _open_source(local_path) as src:
        size = os.fstat(src.fileno()).st_size
        dest = guarded_remote_path(runner, state, remote_path)
        tmp = posixpath.join(posixpath.dirname(dest), f".rmcp-upload-{secrets.token_hex(8)}.tmp")
        renaming = False
        try:
            with _sftp(runner) as sftp:
                old_mode, new = _stat_and_create(sftp, dest, tmp, remote_path)
                try:
                    mode = _upload_mode(src, old_mode, remote_path, overwrite)
                except ToolError:
                    abandon(new)
                    raise
                try:
                    finish(new, chunks_of(src), final_mode=mode)
                    renaming = True
                    sftp.posix_rename(tmp, dest)
                except Exception as exc:
                    if not isinstance(exc, TimeoutError):  # a stalled link stalls this too
                        _remove_quietly(sftp, tmp)
                    raise
        except ToolError:
            raise
        except Exception as exc:  # OSError, EOFError, ConnectionLost, the SSH library's own
            if renaming and _dropped(exc):
                raise ToolError(
                    f"The SSH connection to {state.host_name} dropped while the Upload to "
                    f"{remote_path} was being renamed into place, so it may or may not have "
                    "been applied: the remote file is either as before or completely replaced, "
                    "never half-written. Check it (FileStat) before repeating the Upload."
                ) from exc
            raise ToolError(
                f"Upload of {local_path} to {remote_path} failed ({_why(exc)}); {remote_path} "
                f"was not replaced. If the connection dropped, a partial private (0600) temp "
                f"file {tmp} may remain on the remote: remove it, then upload again."
            ) from exc
    state.files.pop(dest, None)  # our knowledge of the old content is void
    return ToolOutput(
        f"Uploaded {local_path} to {remote_path} ({format_size(size)}).",
        structured={"bytes": size, "remote_path": dest},
    )


@contextmanager
def _open_source(local_path: str) -> Iterator[BinaryIO]:
    """Open a local file for Upload: only a regular file the user can read.

    The type is checked before opening (opening a FIFO or a tape device can
    block or have effects) and again on the open descriptor, so a file
    swapped in between is caught too."""
    path = os.path.expanduser(local_path)
    try:
        _check_regular(local_path, os.stat(path).st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ToolError(
            f"Local file does not exist or is not a regular file: {local_path}"
        ) from None
    except PermissionError:
        raise ToolError(
            f"Local file {local_path} cannot be read (permission denied); Upload reads only "
            "files the local user can read."
        ) from None
    with os.fdopen(fd, "rb") as src:
        _check_regular(local_path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        yield src


def _check_regular(shown: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise ToolError(
            f"Local path {shown} is {kind}: Upload copies one regular file. Give the path of "
            "a file (for a directory, archive it first, e.g. with tar)."
        )


def _stat_and_create(
    sftp: Any, dest: str, tmp: str, remote_path: str
) -> tuple[int | None, NewFile]:
    """The destination's mode (None: absent) and a NEW private temp file
    beside it (0600 before any data is in it), in one round trip."""
    try:
        return stat_and_create(sftp, dest, tmp)
    except PermissionError as exc:
        raise ToolError(f"Cannot upload to {remote_path}: {reason(exc)}") from exc


def _upload_mode(src: BinaryIO, old_mode: int | None, remote_path: str, overwrite: bool) -> int:
    """The mode the uploaded file gets: the replaced file's, else the local one's."""
    if old_mode is not None and stat.S_ISDIR(old_mode):
        raise ToolError(f"Remote path is a directory: {remote_path}. Give the file's full path.")
    if old_mode is not None and not overwrite:
        raise ToolError(
            f"Remote file already exists: {remote_path}. Set overwrite to true to replace it."
        )
    return stat.S_IMODE(old_mode if old_mode is not None else os.fstat(src.fileno()).st_mode)


def _fetch(sftp: Any, src: str, tmp: str, size: int) -> None:
    """Copy ``src`` into ``tmp`` with every read requested at once (paramiko's
    prefetch); the size comes from our stat, so no second one (sftp.get's)."""
    with sftp.open(src, "rb") as remote_file, open(tmp, "wb") as local_file:
        remote_file.prefetch(size)
        while chunk := remote_file.read(CHUNK):
            local_file.write(chunk)


def _dropped(exc: BaseException) -> bool:
    return (
        isinstance(exc, EOFError | ConnectionLost)
        or "closed" in str(exc).lower()
        or "dropped" in str(exc)
    )


def _why(exc: BaseException) -> str:
    if _dropped(exc):
        return "the SSH connection dropped"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def download(
    runner: SftpRunner,
    remote_path: str,
    local_path: str,
    overwrite: bool = False,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    state = state if state is not None else ToolState()
    dest = _local_destination(state, local_path)
    if dest.is_dir():
        raise ToolError(f"Local path is a directory: {local_path}. Give the file's full path.")
    if dest.exists() and not overwrite:
        raise ToolError(
            f"Local file already exists: {local_path}. Set overwrite to true to replace it."
        )
    src = guarded_remote_path(runner, state, remote_path)
    try:
        with _sftp(runner) as sftp:
            attrs = _remote_attrs(sftp, src)
            mode = None if attrs is None else int(attrs.st_mode)
            if mode is None:
                raise ToolError(f"Remote file does not exist: {remote_path}")
            if not stat.S_ISREG(mode):
                raise ToolError(f"Remote path is not a regular file: {remote_path}")
            _make_private_dirs(dest.parent)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".rmcp-download-")  # 0600
            os.close(fd)
            try:
                _fetch(sftp, src, tmp, int(attrs.st_size or 0))
                # Owner bits only: a remote 0777 must not become a world-writable local file.
                os.chmod(tmp, stat.S_IMODE(mode) & 0o700)
                os.replace(tmp, dest)
            finally:
                Path(tmp).unlink(missing_ok=True)  # gone already once renamed into place
    except ToolError:
        raise
    except Exception as exc:  # OSError, EOFError, ConnectionLost, the SSH library's own
        if _dropped(exc):
            raise ToolError(
                f"Download of {remote_path} failed (the SSH connection to {state.host_name} "
                f"dropped). {local_path} was not changed (the partial copy was deleted) and "
                "nothing changed on the remote: Download it again."
            ) from exc
        raise ToolError(f"Download of {remote_path} failed ({_why(exc)}).") from exc
    size = dest.stat().st_size
    return ToolOutput(
        f"Downloaded {remote_path} to {local_path} ({format_size(size)}).",
        structured={"bytes": size, "local_path": str(dest)},
    )


def private_local_paths(config_file: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """Where Download never writes: ssh's keys and remote-mcp's own config."""
    paths = [os.path.expanduser("~/.ssh"), str(default_config_path().parent)]
    for extra in (config_file, os.environ.get("REMOTE_MCP_CONFIG")):
        if extra:
            paths.append(os.path.expanduser(str(extra)))
    return tuple(dict.fromkeys(paths))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def local_refusal(state: ToolState, local_path: str, real: str) -> ToolError | None:
    """Why Download may not write ``real`` (the resolved local path), or None."""
    where = f" ({local_path} resolves to {real})" if real != local_path else ""
    for private in state.private_local or private_local_paths():
        if _under(real, os.path.realpath(private)):
            return ToolError(
                f"Refused: Download never writes into {private}{where}: it holds SSH keys or "
                "remote-mcp's own configuration. Choose another local path."
            )
    if state.local_paths and not any(
        _under(real, os.path.realpath(os.path.expanduser(p))) for p in state.local_paths
    ):
        return ToolError(
            f"Refused: {local_path}{where} is outside local_paths "
            f"({', '.join(state.local_paths)}) for host {state.host_name}. Choose a path under "
            "them, or add its directory to local_paths in the remote-mcp config."
        )
    return None


def _local_destination(state: ToolState, local_path: str) -> Path:
    expanded = os.path.expanduser(local_path)
    if not os.path.isabs(expanded):
        raise ToolError(f"local_path must be an absolute local path, got {local_path!r}.")
    real = os.path.realpath(expanded)  # a symlink cannot lead the write elsewhere
    refused = local_refusal(state, local_path, real)
    if refused is not None:
        raise refused
    return Path(real)


def _make_private_dirs(directory: Path) -> None:
    """mkdir -p, every directory we create 0700 (pathlib's parents=True would not)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)


def guarded_remote_path(runner: SftpRunner, state: ToolState, remote_path: str) -> str:
    """The remote path to transfer: with allowed_paths, resolved on the remote
    through the guard (one round trip); else the path as written."""
    path = state.resolve(remote_path, runner)
    if not state.allowed_paths:
        return path
    result = run_template(runner, "guard_path.sh.j2", path=path, **guard_values(state))
    reply = result.stdout.strip()
    refused = parse_refusal(reply)
    if refused is not None and refused.word is Refusal.OUTSIDE_GUARD:
        raise refusal_error(refused, path=remote_path, state=state)
    word, _, encoded = reply.partition(" ")
    if result.exited != 0 or word != "ok":
        raise ToolError(f"Cannot check {remote_path} against allowed_paths: {reply[:200]!r}")
    return base64.b64decode(encoded).decode("utf-8", "surrogateescape")


def _remote_attrs(sftp: Any, path: str) -> Any:
    """The remote file's SFTP attributes (mode, size), or None when absent."""
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"Cannot inspect remote path {path}: {reason(exc)}") from exc


def _remove_quietly(sftp: Any, path: str) -> None:
    try:
        sftp.remove(path)
    except Exception:  # best effort after a failure (the link may be gone)
        pass
