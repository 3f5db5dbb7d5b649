"""Read and MultiRead (Write is in write.py, FileStat in file_stat.py; both
are importable from here too, for scripts).

Read speaks Claude Code's exact wording (v2.0.77). Each call is one remote
command; Read slices on the remote, so the bytes moved follow the lines asked
for, not the file's size -- except for a file of at most 64 KB, which travels
whole and is sliced here (read_slice.py: one process on the remote instead of
three). An offset past the end of a big file costs a second command, which
counts its lines. The template's reply is read by :func:`parse_read_reply`.
"""

from __future__ import annotations

import posixpath
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ..errors import ToolError
from ..schemas import MultiReadFile
from .base import (
    HASH_MAX_BYTES,
    FileRecord,
    ImageBlock,
    Runner,
    ToolOutput,
    ToolState,
    as_models,
    check_exit,
    decode_text,
    format_size,
    number_lines,
    require_command,
    run_template,
    split_lines,
)
from .file_stat import file_stat
from .guard import guard_values
from .read_slice import WHOLE_MAX_BYTES, slice_whole, split_batch
from .refusals import Refused, parse_refusal, refusal_error
from .write import write

__all__ = ["file_stat", "multi_read", "read", "write"]

DEFAULT_LIMIT = 2000  # lines (Claude Code ZOA)
MAX_LINE_CHARS = 2000  # longer lines are cut (S68)
MAX_UNSLICED_BYTES = 262144  # whole-file read cap without offset/limit (eTA)
MAX_OUTPUT_TOKENS = 25000  # Wn8
MAX_IMAGE_BYTES = 3_932_160  # 3.75 MiB raw = 5 MiB base64, the API's image limit
# The most bytes of a slice the remote sends. Each line is cut to
# MAX_LINE_CHARS * 4 bytes there, which is at least MAX_LINE_CHARS characters
# here, so a slice this long holds over MAX_OUTPUT_TOKENS tokens of text and
# is refused whatever its content: nothing beyond it needs to travel.
MAX_SLICE_BYTES = 16 * MAX_OUTPUT_TOKENS + 64
LINE_BYTES = MAX_LINE_CHARS * 4  # the remote's cut: at least MAX_LINE_CHARS characters
SLICE_BYTES = MAX_SLICE_BYTES + 1  # a slice this long is refused, whatever it holds
# The largest integer a JSON client sends exactly (2^53 - 1); far beyond any
# file's line count, and safe for the remote's shell arithmetic (a tail(1)
# that cannot parse it prints nothing: the line count is asked for then).
MAX_LINE_NUMBER = 9_007_199_254_740_991

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
BINARY_EXTENSIONS = frozenset(
    """.mp3 .wav .flac .ogg .aac .m4a .wma .aiff .opus .mp4 .avi .mov .wmv .flv .mkv
    .webm .m4v .mpeg .mpg .zip .rar .tar .gz .bz2 .7z .xz .z .tgz .iso .exe .dll .so
    .dylib .app .msi .deb .rpm .bin .dat .db .sqlite .sqlite3 .mdb .idx .doc .docx .xls
    .xlsx .ppt .pptx .odt .ods .odp .ttf .otf .woff .woff2 .eot .psd .ai .eps .sketch
    .fig .xd .blend .obj .3ds .max .class .jar .war .pyc .pyo .rlib .swf .fla .o .a
    .lib .bmp .ico .tiff .tif .heic .avif .pdf""".split()
)


@dataclass(frozen=True)
class _Request:
    shown: str  # the path as the agent gave it (error messages)
    path: str  # resolved absolute remote path
    start: int
    end: int
    mode: str  # text | image | exists
    check_size: bool


def _request(
    state: ToolState, runner: Runner, file_path: str, offset: int | None, limit: int | None
) -> _Request:
    path = state.resolve(file_path, runner)
    if offset is not None and offset < 0:
        raise ToolError("offset must be a positive line number (1 is the first line).")
    if limit is not None and limit <= 0:
        raise ToolError("limit must be a positive number of lines.")
    for name, value in (("offset", offset), ("limit", limit)):
        if value is not None and value > MAX_LINE_NUMBER:
            raise ToolError(
                f"{name} {value} is too large: line numbers and counts go up to "
                f"{MAX_LINE_NUMBER} (2^53 - 1), far more lines than any file has."
            )
    start = max(1, offset or 1)
    end = min(start + (limit or DEFAULT_LIMIT) - 1, MAX_LINE_NUMBER)
    ext = posixpath.splitext(path)[1].lower()
    mode = "image" if ext in IMAGE_TYPES else "exists" if ext in BINARY_EXTENSIONS else "text"
    return _Request(file_path, path, start, end, mode, offset is None and limit is None)


def _template_args(req: _Request) -> dict[str, object]:
    return {
        "path": req.path,
        "start": req.start,
        "end": req.end,
        "mode": req.mode,
        "check_size": int(req.check_size),
        "max_size": MAX_IMAGE_BYTES if req.mode == "image" else MAX_UNSLICED_BYTES,
        "hash_max": HASH_MAX_BYTES,
        "line_bytes": LINE_BYTES,
        "slice_bytes": SLICE_BYTES,
        "whole_max": WHOLE_MAX_BYTES,
    }


class ReadStatus(StrEnum):
    """The words ``_read_fn.sh.j2`` answers with (besides the shared refusals)."""

    TEXT = "ok"  # then SIZE SHA256|- FINAL_NEWLINE(0|1|?) MTIME, and the slice
    SHORT = "short"  # the file has fewer lines than offset: TOTAL SIZE SHA256|- MTIME
    WHOLE = "whole"  # a small text file, sent whole: SIZE MTIME, and the file
    IMAGE = "image"  # SIZE, and the image in base64
    NOT_IMAGE = "notimage"  # named like an image, but its bytes are not one
    TOO_LARGE = "toolarge"  # SIZE
    BINARY = "exists"  # a binary extension: exists, and is not read
    SPECIAL = "special"  # KIND: fifo, socket, chardev, blockdev
    DIRECTORY = "directory"


@dataclass(frozen=True)
class ReadReply:
    status: ReadStatus
    size: int = 0
    total: int = 0  # lines, for SHORT
    sha256: str | None = None  # None: too big to hash (size and mtime are compared)
    mtime: str = ""
    final_newline: bool | None = True  # None: not measured (see _interpret)
    kind: str = ""  # for SPECIAL
    body: bytes = b""


def parse_read_reply(raw: bytes) -> ReadReply | Refused | None:
    """One ``rmcp_read`` part (status line + body); None if it is neither."""
    header, _, body = raw.partition(b"\n")
    line = header.decode("utf-8", "replace")
    refused = parse_refusal(line)
    if refused is not None:
        return refused
    word, _, rest = line.partition(" ")
    try:
        status = ReadStatus(word)
    except ValueError:
        return None
    if status is ReadStatus.TEXT:
        size, digest, final_newline, mtime = rest.split(" ", 3)  # mtime has spaces: last
        return ReadReply(
            status,
            int(size),
            sha256=_digest(digest),
            mtime=mtime,
            final_newline=None if final_newline == "?" else final_newline != "0",
            body=body,
        )
    if status is ReadStatus.SHORT:
        total, size, digest, mtime = rest.split(" ", 3)
        return ReadReply(status, int(size), int(total), _digest(digest), mtime)
    if status is ReadStatus.WHOLE:
        size, mtime = rest.split(" ", 1)
        return ReadReply(status, int(size), mtime=mtime, body=body)
    if status in (ReadStatus.IMAGE, ReadStatus.TOO_LARGE):
        return ReadReply(status, int(rest.split(" ")[0]), body=body)
    return ReadReply(status, kind=rest.strip())


def _digest(text: str) -> str | None:
    return None if text == "-" else text


def _from_whole(req: _Request, reply: ReadReply) -> ReadReply:
    """A whole small file as the ok/short reply a sliced read gives."""
    cut = slice_whole(reply.body, req.start, req.end, LINE_BYTES, SLICE_BYTES)
    digest = cut.sha256 if len(reply.body) <= HASH_MAX_BYTES else None
    if cut.total is not None:
        size = reply.size if reply.body else 0
        return ReadReply(ReadStatus.SHORT, size, cut.total, digest, reply.mtime)
    return ReadReply(ReadStatus.TEXT, reply.size, sha256=digest, mtime=reply.mtime, body=cut.body)


def _ends_on_cr(req: _Request, body: bytes) -> bool:
    """The slice reached the end of the file on a line ending in CR: only
    then does it matter whether the file ends in a newline (cut(1) adds
    one: a last line "x<CR>" would read as "x"), so only then is it measured."""
    return body.endswith(b"\r\n") and body.count(b"\n") < req.end - req.start + 1


def _interpret(req: _Request, raw: bytes, state: ToolState, runner: Runner) -> ToolOutput:
    """Turn one rmcp_read part (header line + body) into Claude Code's output."""
    reply = parse_read_reply(raw)
    if isinstance(reply, ReadReply) and reply.status is ReadStatus.WHOLE:
        reply = _from_whole(req, reply)
    elif isinstance(reply, ReadReply) and reply.status is ReadStatus.TEXT:
        if not reply.body and req.start > 1:  # past the end: how many lines are there?
            reply = parse_read_reply(_run_read(runner, replace(req, mode="count"), state))
        elif reply.final_newline is None and _ends_on_cr(req, reply.body):
            reply = parse_read_reply(_run_read(runner, replace(req, mode="textnl"), state))
    ext = posixpath.splitext(req.path)[1].lower()
    if isinstance(reply, Refused):
        raise refusal_error(reply, path=req.shown, state=state)
    if reply is None:
        header = raw.partition(b"\n")[0].decode("utf-8", "replace")
        raise ToolError(f"Unexpected reply from the remote while reading {req.shown}: {header!r}")
    status, size = reply.status, reply.size
    if status is ReadStatus.DIRECTORY:
        raise ToolError(
            f"EISDIR: illegal operation on a directory, read '{req.shown}'. "
            "Read cannot read directories: use Glob, or Bash with ls."
        )
    if status is ReadStatus.SPECIAL:
        raise ToolError(_special_message(req.shown, reply.kind))
    if status is ReadStatus.BINARY:
        raise ToolError(_binary_message(ext))
    if status is ReadStatus.TOO_LARGE:
        if req.mode == "image":
            raise ToolError(
                f"Image file ({format_size(size)}) exceeds maximum allowed size "
                f"({format_size(MAX_IMAGE_BYTES)}). Use Download to copy it locally instead."
            )
        raise ToolError(
            f"File content ({format_size(size)}) exceeds maximum allowed size "
            f"({format_size(MAX_UNSLICED_BYTES)}). Please use offset and limit parameters to "
            "read specific portions of the file, or use the GrepTool to search for specific "
            "content."
        )
    if status is ReadStatus.IMAGE:
        if size == 0:
            raise ToolError("Empty image files cannot be processed.")
        data = reply.body.decode("ascii").strip()
        return ToolOutput(
            text="",
            images=[ImageBlock(data, IMAGE_TYPES[ext])],
            structured={"path": req.path, "size": size, "type": "image"},
        )
    if status is ReadStatus.SHORT:
        _remember(state, req, reply)
        if size == 0:
            text = "<system-reminder>Warning: the file exists but the contents are empty.</system-reminder>"  # noqa: E501
        else:
            text = (
                "<system-reminder>Warning: the file exists but is shorter than the provided "
                f"offset ({req.start}). The file has {reply.total} lines.</system-reminder>"
            )
        return ToolOutput(
            text, structured={"path": req.path, "lines": [], "total_lines": reply.total}
        )
    if status is not ReadStatus.TEXT:  # NOT_IMAGE: the caller reads it again as text
        raise ToolError(f"Unexpected reply from the remote while reading {req.shown}: {status}")
    body = reply.body
    if b"\0" in body:  # text files have no NUL bytes
        raise ToolError(_binary_message(ext))
    if len(body) > MAX_SLICE_BYTES:
        raise ToolError(
            f"File content (over {MAX_OUTPUT_TOKENS} tokens) exceeds maximum allowed tokens "
            f"({MAX_OUTPUT_TOKENS}). Please use offset and limit parameters to read specific "
            "portions of the file, or use the GrepTool to search for specific content."
        )
    _remember(state, req, reply)
    if reply.final_newline is False and body.count(b"\n") < req.end - req.start + 1:
        # The slice reached the end of a file without a final newline, which
        # cut(1) added. (With exactly `limit` lines the end is unknown; only a
        # final CR could show the difference.)
        body = body[:-1]
    lines = [line[:MAX_LINE_CHARS] for line in split_lines(decode_text(body))]
    text = number_lines(lines, req.start)
    tokens = (len(text) + 3) // 4
    if tokens > MAX_OUTPUT_TOKENS:
        raise ToolError(
            f"File content ({tokens} tokens) exceeds maximum allowed tokens "
            f"({MAX_OUTPUT_TOKENS}). Please use offset and limit parameters to read specific "
            "portions of the file, or use the GrepTool to search for specific content."
        )
    return ToolOutput(text, structured={"path": req.path, "lines": lines, "start": req.start})


_SPECIAL_KINDS = {
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "chardev": "a character device",
    "blockdev": "a block device",
}


def _special_message(shown: str, kind: str) -> str:
    """Special files are refused before they are opened: a FIFO blocks until
    a writer comes, /dev/zero never ends, and neither is a file to read."""
    what = _SPECIAL_KINDS.get(kind.strip(), "not a regular file")
    return (
        f"Cannot read '{shown}': it is {what}, not a regular file; reading it could block "
        "or never end. Use Bash with a bound (for example `timeout 5 head -c 1000 FILE`) "
        "if you really mean to read from it."
    )


def _binary_message(ext: str) -> str:
    kind = f"binary {ext} file" if ext else "binary file"
    return (
        f"This tool cannot read binary files. The file appears to be a {kind}. "
        "Please use appropriate tools for binary file analysis."
    )


def _remember(state: ToolState, req: _Request, reply: ReadReply) -> None:
    state.files[req.path] = FileRecord(sha256=reply.sha256, mtime=reply.mtime, size=reply.size)


def _run_read(runner: Runner, req: _Request, state: ToolState) -> bytes:
    result = run_template(runner, "read.sh.j2", **_template_args(req), **guard_values(state))
    check_exit(result.exited, result.stderr, req.shown)
    return result.stdout.encode("utf-8", "surrogateescape")


def read(
    runner: Runner,
    file_path: str,
    offset: int | None = None,
    limit: int | None = None,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    """Claude Code's Read: ``cat -n``-style lines ``offset..offset+limit-1``."""
    state = state if state is not None else ToolState()
    req = _request(state, runner, file_path, offset, limit)
    if req.mode == "image":
        require_command(state, runner, "Reading an image", "base64", IMAGE_WITHOUT_BASE64)
    raw = _run_read(runner, req, state)
    if raw.startswith(b"notimage"):
        return _read_as_text(runner, req, state)
    return _interpret(req, raw, state, runner)


def _read_as_text(runner: Runner, req: _Request, state: ToolState) -> ToolOutput:
    """A file named like an image whose bytes are not one: sending it as an
    image would make the API reject the conversation, so read it as text
    (a second command, only for such misnamed files) and say why."""
    why = "It has an image file extension but is not a PNG, JPEG, GIF or WEBP image."
    req = replace(req, mode="text")
    try:
        out = _interpret(req, _run_read(runner, req, state), state, runner)
    except ToolError as err:
        raise ToolError(f"{err} {why}") from None
    return replace(
        out, text=f"{out.text}\n\n<system-reminder>{why} It was read as text.</system-reminder>"
    )


def multi_read(
    runner: Runner,
    files: Sequence[MultiReadFile | Mapping[str, Any]],
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    """N files, each with optional offset/limit, in ONE remote command.

    A missing or unreadable file is reported in its place; the others are
    still returned. Each part is headed ``==> path <==`` as ``head`` does.
    """
    state = state if state is not None else ToolState()
    if not files:
        raise ToolError("files is empty: give at least one {file_path, offset?, limit?}.")
    wanted = as_models(MultiReadFile, files)
    reqs = [_request(state, runner, f.file_path, f.offset, f.limit) for f in wanted]
    parts = _multi_read_parts(runner, reqs, state, batch=True)
    sections, images, structured = [], [], []
    for req, raw in zip(reqs, parts, strict=True):
        try:
            if raw.startswith(b"notimage"):
                out = _read_as_text(runner, req, state)
            else:
                out = _interpret(req, raw, state, runner)
        except ToolError as err:
            sections.append(f"==> {req.shown} <==\nError: {err}")
            structured.append({"path": req.path, "error": str(err)})
            continue
        images.extend(out.images)
        body = out.text if not out.images else f"[image {out.images[0].mime_type} attached]"
        sections.append(f"==> {req.shown} <==\n{body}")
        structured.append(out.structured)
    return ToolOutput("\n\n".join(sections), images=images, structured={"files": structured})


def _multi_read_parts(
    runner: Runner, reqs: list[_Request], state: ToolState, *, batch: bool
) -> list[bytes]:
    """One rmcp_read reply per file, the batched small files' made whole
    again. If a batched file changed while it was read (its bytes cannot be
    told from its neighbours' then), the files are read again without a
    batch: a second command, only then."""
    boundary = "RMCP_PART_" + secrets.token_hex(12)
    result = run_template(
        runner,
        "multiread.sh.j2",
        files=[_template_args(r) for r in reqs],
        boundary=boundary,
        hash_max=HASH_MAX_BYTES,
        line_bytes=LINE_BYTES,
        slice_bytes=SLICE_BYTES,
        whole_max=WHOLE_MAX_BYTES,
        batch=batch,
        **guard_values(state),
    )
    check_exit(result.exited, result.stderr, "MultiRead")
    data = result.stdout.encode("utf-8", "surrogateescape")
    section, parts = _split_parts(data, boundary, len(reqs))
    if b"batch" not in parts:
        return parts
    entries = split_batch(section, boundary.encode())
    if entries is None or len(entries) != parts.count(b"batch"):
        if not batch:
            raise ToolError("MultiRead: the remote reply was cut short; try again.")
        return _multi_read_parts(runner, reqs, state, batch=False)
    whole = iter(entries)
    out = []
    for part in parts:
        if part == b"batch":
            stat, content = next(whole)
            part = b"whole " + stat.encode("utf-8", "surrogateescape") + b"\n" + content
        out.append(part)
    return out


def _split_parts(data: bytes, boundary: str, count: int) -> tuple[bytes, list[bytes]]:
    """(the batch section before the first part, the parts)."""
    # The boundary is random per call: no file's bytes hold it, so a plain
    # split finds the parts (a regex compiled per call costs more). The batch
    # section's own boundary lines come before part 0.
    marker = boundary.encode() + b" "
    first = data.find(marker + b"0\n")
    section, pieces = data, []
    if first >= 0:
        section, pieces = data[:first], data[first + len(marker) :].split(marker)
    parts = []
    for i, piece in enumerate(pieces):
        number, newline, part = piece.partition(b"\n")
        if number != str(i).encode() or not newline:
            break
        parts.append(part[:-1] if part.endswith(b"\n") else part)
    if len(parts) != count or len(pieces) != count:
        raise ToolError("MultiRead: the remote reply was cut short; try again.")
    return section, parts


IMAGE_WITHOUT_BASE64 = "Text files can still be read, and Download copies the image here."
