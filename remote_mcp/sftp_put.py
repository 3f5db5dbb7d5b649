"""Send a whole file over SFTP in as few round trips as the protocol allows.

paramiko's own ``SFTPFile`` costs a round trip per step (open, chmod, close,
chmod, rename) and, pipelined, drops the replies to its writes: a write the
server refused (a full disk) goes unnoticed and a truncated file would be
renamed into place. Here every request is sent without waiting, every reply
is collected and checked, and only the steps that must see an answer first
wait for one: the open (its handle names the file in the writes) and the end
of the data (nothing may be renamed into place before every write succeeded).

A new file is private from its creation: the open asks for 0600 and an
fsetstat says 0600 again before the first byte (a server ignoring the open's
mode is covered too); the final mode is set after the last write.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_FSETSTAT,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_REMOVE,
    CMD_STAT,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    SFTP_NO_SUCH_FILE,
    SFTP_PERMISSION_DENIED,
    SFTPError,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes

__all__ = [
    "CHUNK",
    "NewFile",
    "abandon",
    "chunks_of",
    "create_private",
    "finish",
    "stat_and_create",
]

CHUNK = 32768  # the write size every SFTP server accepts
IN_FLIGHT = 64  # writes awaiting a reply: 2 MB, far above the bandwidth-delay product


def _attrs(mode: int) -> SFTPAttributes:
    attrs = SFTPAttributes()
    attrs.st_mode = mode
    return attrs


def _wire(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


class _Replies:
    """The replies to this module's requests on one SFTPClient, by number.

    paramiko hands a reply it was not waiting for to the ``_async_response``
    of the object the request was sent for: this one keeps them."""

    def __init__(self, sftp: Any) -> None:
        self.sftp = sftp
        self.answers: dict[int, tuple[int, Any]] = {}

    def send(self, kind: int, *args: Any) -> int:
        return int(self.sftp._async_request(self, kind, *args))

    def _async_response(self, kind: int, msg: Any, num: int) -> None:
        self.answers[num] = (kind, msg)

    def wait(self, num: int) -> tuple[int, Any]:
        while num not in self.answers:
            self.sftp._read_response()  # one reply (EOF raises SSHException)
        return self.answers.pop(num)

    def status(self, num: int) -> None:
        """Wait for a status reply; an error status raises OSError."""
        kind, msg = self.wait(num)
        if kind != CMD_STATUS:
            raise SFTPError(f"expected a status reply, got message type {kind}")
        self.sftp._convert_status(msg)


@dataclass
class NewFile:
    """An open handle on a freshly created private file."""

    replies: _Replies
    handle: bytes
    path: str


def _opened(replies: _Replies, num: int, path: str) -> NewFile:
    kind, msg = replies.wait(num)
    if kind == CMD_STATUS:
        replies.sftp._convert_status(msg)  # raises: exists, no such directory, denied
    if kind != CMD_HANDLE:
        raise SFTPError(f"expected a handle, got message type {kind}")
    return NewFile(replies, msg.get_binary(), path)


def _open_request(replies: _Replies, path: str, exclusive: bool) -> int:
    flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | (SFTP_FLAG_EXCL if exclusive else SFTP_FLAG_TRUNC)
    return replies.send(CMD_OPEN, _wire(path), flags, _attrs(0o600))


def create_private(sftp: Any, path: str) -> NewFile:
    """Create ``path`` (it must not exist), private: one round trip."""
    replies = _Replies(sftp)
    return _opened(replies, _open_request(replies, path, exclusive=True), path)


def stat_and_create(sftp: Any, existing: str, path: str) -> tuple[int | None, NewFile]:
    """Stat ``existing`` (its st_mode, or None when absent) and create the
    private file ``path``, both in one round trip. The caller removes
    ``path`` if what the stat found forbids the transfer."""
    replies = _Replies(sftp)
    stat_num = replies.send(CMD_STAT, _wire(existing))
    open_num = _open_request(replies, path, exclusive=True)
    mode: int | None = None
    error: BaseException | None = None
    kind, msg = replies.wait(stat_num)
    if kind == CMD_ATTRS:
        parser: Any = SFTPAttributes  # paramiko's own parser of an ATTRS reply
        mode = parser._from_msg(msg).st_mode
    elif kind == CMD_STATUS:
        code, text = msg.get_int(), msg.get_text()
        if code == SFTP_PERMISSION_DENIED:
            error = PermissionError(errno.EACCES, text)
        elif code != SFTP_NO_SUCH_FILE:
            error = OSError(text)
    new = _opened(replies, open_num, path)
    if error is not None:
        abandon(new)
        raise error
    return mode, new


def chunks_of(source: BinaryIO | bytes) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start : start + CHUNK])
        return
    while chunk := source.read(CHUNK):
        yield chunk


def finish(new: NewFile, chunks: Iterable[bytes], final_mode: int | None = None) -> int:
    """Send the content, give the final mode, close: success only when the
    server acknowledged every write. Returns the byte count.

    Waits for one round trip after the last byte; the data streams with at
    most IN_FLIGHT writes unanswered. Any refused step raises OSError (the
    handle is closed all the same)."""
    replies, handle = new.replies, new.handle
    pending = [replies.send(CMD_FSETSTAT, handle, _attrs(0o600))]
    offset = 0
    first_error: BaseException | None = None
    try:
        for chunk in chunks:
            pending.append(replies.send(CMD_WRITE, handle, int64(offset), chunk))
            offset += len(chunk)
            while len(pending) > IN_FLIGHT:
                replies.status(pending.pop(0))
        if final_mode is not None:
            pending.append(replies.send(CMD_FSETSTAT, handle, _attrs(final_mode)))
    except OSError as exc:
        first_error = exc
    pending.append(replies.send(CMD_CLOSE, handle))
    for num in pending:
        try:
            replies.status(num)
        except OSError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return offset


def abandon(new: NewFile) -> None:
    """Close and remove a file this module created: one round trip."""
    replies = new.replies
    for num in (replies.send(CMD_CLOSE, new.handle), replies.send(CMD_REMOVE, _wire(new.path))):
        replies.wait(num)
