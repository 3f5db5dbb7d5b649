"""Read, Write, MultiRead and FileStat.

Read and Write speak Claude Code's exact wording (v2.0.77). Each call is one
remote command; Read slices on the remote, so the bytes moved follow the lines
asked for, not the file's size.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..errors import ToolError
from .base import (
    NOT_READ,
    STALE,
    FileRecord,
    ImageBlock,
    Runner,
    ToolOutput,
    ToolState,
    decode_text,
    format_size,
    number_lines,
    require_command,
    run_template,
    split_lines,
)
from .guard import check_writable, guard_values, refusal
from .write_errors import backup_path, commit_failure

__all__ = ["file_stat", "multi_read", "read", "write"]

DEFAULT_LIMIT = 2000  # lines (Claude Code ZOA)
MAX_LINE_CHARS = 2000  # longer lines are cut (S68)
MAX_UNSLICED_BYTES = 262144  # whole-file read cap without offset/limit (eTA)
MAX_OUTPUT_TOKENS = 25000  # Wn8
MAX_IMAGE_BYTES = 3_932_160  # 3.75 MiB raw = 5 MiB base64, the API's image limit
# Files up to this size are hashed by Read: the hash is the precondition of a
# later Write/Edit. Bigger ones use size + nanosecond mtime (as Claude Code
# does), so a Read of a huge log does not cost a full hash on the remote.
HASH_MAX_BYTES = 4 << 20
WRITE_SNIPPET_LINES = 16000  # Ek2
# The most bytes of a slice the remote sends. Each line is cut to
# MAX_LINE_CHARS * 4 bytes there, which is at least MAX_LINE_CHARS characters
# here, so a slice this long holds over MAX_OUTPUT_TOKENS tokens of text and
# is refused whatever its content: nothing beyond it needs to travel.
MAX_SLICE_BYTES = 16 * MAX_OUTPUT_TOKENS + 64
# The largest integer a JSON client sends exactly (2^53 - 1); far beyond any
# file's line count, and safe for the remote's sed and shell arithmetic.
MAX_LINE_NUMBER = 9_007_199_254_740_991

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}  # fmt: skip
BINARY_EXTENSIONS = frozenset(
    """.mp3 .wav .flac .ogg .aac .m4a .wma .aiff .opus .mp4 .avi .mov .wmv .flv .mkv
    .webm .m4v .mpeg .mpg .zip .rar .tar .gz .bz2 .7z .xz .z .tgz .iso .exe .dll .so
    .dylib .app .msi .deb .rpm .bin .dat .db .sqlite .sqlite3 .mdb .idx .doc .docx .xls
    .xlsx .ppt .pptx .odt .ods .odp .ttf .otf .woff .woff2 .eot .psd .ai .eps .sketch
    .fig .xd .blend .obj .3ds .max .class .jar .war .pyc .pyo .rlib .swf .fla .o .a
    .lib .bmp .ico .tiff .tif .heic .avif .pdf""".split()
)
_CLIPPED = (
    "<response clipped><NOTE>To save on context only part of this file has been shown "
    "to you. You should retry this tool after you have searched inside the file with Grep "
    "in order to find the line numbers of what you are looking for.</NOTE>"
)


@dataclass(frozen=True)
class _Request:
    shown: str  # the path as the agent gave it (error messages)
    path: str  # resolved absolute remote path
    start: int
    end: int
    mode: str  # text | image | exists
    check_size: bool


def _request(state: ToolState, runner: Runner, file_path: str,
             offset: int | None, limit: int | None) -> _Request:  # fmt: skip
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
    }


def _missing(req: _Request, state: ToolState) -> str:
    msg = "File does not exist."
    if state.cwd and state.info and state.cwd != state.info.home:
        msg += f" Current working directory: {state.cwd}"
    return msg


def _interpret(req: _Request, raw: bytes, state: ToolState) -> ToolOutput:
    """Turn one rmcp_read part (header line + body) into Claude Code's output."""
    header, _, body = raw.partition(b"\n")
    word, _, rest = header.decode("utf-8", "replace").partition(" ")
    fields = rest.split(" ")
    ext = posixpath.splitext(req.path)[1].lower()
    if word == "refused":
        raise refusal(state, req.shown, rest)
    if word == "missing":
        raise ToolError(_missing(req, state))
    if word == "directory":
        raise ToolError(
            f"EISDIR: illegal operation on a directory, read '{req.shown}'. "
            "Read cannot read directories: use Glob, or Bash with ls."
        )
    if word == "unreadable":
        raise ToolError(f"EACCES: permission denied, open '{req.shown}'")
    if word == "special":
        raise ToolError(_special_message(req.shown, rest))
    if word == "exists":
        raise ToolError(_binary_message(ext))
    if word == "toolarge":
        size = int(fields[0])
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
    if word == "image":
        if int(fields[0]) == 0:
            raise ToolError("Empty image files cannot be processed.")
        data = body.decode("ascii").strip()
        return ToolOutput(
            text="",
            images=[ImageBlock(data, IMAGE_TYPES[ext])],
            structured={"path": req.path, "size": int(fields[0]), "type": "image"},
        )
    if word == "short":
        total_text, size_text, digest, mtime = rest.split(" ", 3)  # mtime has spaces: last
        total, size = int(total_text), int(size_text)
        _remember(state, req, size, digest, mtime)
        if size == 0:
            text = "<system-reminder>Warning: the file exists but the contents are empty.</system-reminder>"  # noqa: E501
        else:
            text = (
                "<system-reminder>Warning: the file exists but is shorter than the provided "
                f"offset ({req.start}). The file has {total} lines.</system-reminder>"
            )
        return ToolOutput(text, structured={"path": req.path, "lines": [], "total_lines": total})
    if word != "ok":
        raise ToolError(f"Unexpected reply from the remote while reading {req.shown}: {header!r}")
    size_text, digest, final_newline, mtime = rest.split(" ", 3)
    size = int(size_text)
    if b"\0" in body:  # text files have no NUL bytes
        raise ToolError(_binary_message(ext))
    if len(body) > MAX_SLICE_BYTES:
        raise ToolError(
            f"File content (over {MAX_OUTPUT_TOKENS} tokens) exceeds maximum allowed tokens "
            f"({MAX_OUTPUT_TOKENS}). Please use offset and limit parameters to read specific "
            "portions of the file, or use the GrepTool to search for specific content."
        )
    _remember(state, req, size, digest, mtime)
    if final_newline == "0" and body.count(b"\n") < req.end - req.start + 1:
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


def _remember(state: ToolState, req: _Request, size: int, digest: str, mtime: str) -> None:
    state.files[req.path] = FileRecord(
        sha256=None if digest == "-" else digest, mtime=mtime, size=size
    )


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
    result = run_template(runner, "read.sh.j2", **_template_args(req), hash_max=HASH_MAX_BYTES,
                          line_bytes=MAX_LINE_CHARS * 4, slice_bytes=MAX_SLICE_BYTES + 1,
                          **guard_values(state))  # fmt: skip
    _check_exit(result.exited, result.stderr, file_path)
    raw = result.stdout.encode("utf-8", "surrogateescape")
    if raw.startswith(b"notimage"):
        return _read_as_text(runner, req, state)
    return _interpret(req, raw, state)


def _read_as_text(runner: Runner, req: _Request, state: ToolState) -> ToolOutput:
    """A file named like an image whose bytes are not one: sending it as an
    image would make the API reject the conversation, so read it as text
    (a second command, only for such misnamed files) and say why."""
    why = "It has an image file extension but is not a PNG, JPEG, GIF or WEBP image."
    req = replace(req, mode="text")
    result = run_template(runner, "read.sh.j2", **_template_args(req), hash_max=HASH_MAX_BYTES,
                          line_bytes=MAX_LINE_CHARS * 4, slice_bytes=MAX_SLICE_BYTES + 1,
                          **guard_values(state))  # fmt: skip
    _check_exit(result.exited, result.stderr, req.shown)
    try:
        out = _interpret(req, result.stdout.encode("utf-8", "surrogateescape"), state)
    except ToolError as err:
        raise ToolError(f"{err} {why}") from None
    return replace(
        out, text=f"{out.text}\n\n<system-reminder>{why} It was read as text.</system-reminder>"
    )


def _check_exit(code: int, stderr: str, what: str) -> None:
    if code != 0:
        raise ToolError(f"Remote command for {what} failed (exit {code}): {stderr.strip()[-500:]}")


def multi_read(
    runner: Runner, files: list[dict[str, object]], *, state: ToolState | None = None
) -> ToolOutput:
    """N files, each with optional offset/limit, in ONE remote command.

    A missing or unreadable file is reported in its place; the others are
    still returned. Each part is headed ``==> path <==`` as ``head`` does.
    """
    state = state if state is not None else ToolState()
    if not files:
        raise ToolError("files is empty: give at least one {file_path, offset?, limit?}.")
    reqs = []
    for spec in files:
        reqs.append(
            _request(
                state,
                runner,
                str(spec["file_path"]),
                _opt_int(spec.get("offset")),
                _opt_int(spec.get("limit")),
            )  # fmt: skip
        )
    boundary = "RMCP_PART_" + secrets.token_hex(12)
    result = run_template(
        runner, "multiread.sh.j2", files=[_template_args(r) for r in reqs], boundary=boundary,
        hash_max=HASH_MAX_BYTES, line_bytes=MAX_LINE_CHARS * 4, slice_bytes=MAX_SLICE_BYTES + 1,
        **guard_values(state),
    )  # fmt: skip
    _check_exit(result.exited, result.stderr, "MultiRead")
    parts = _split_parts(result.stdout.encode("utf-8", "surrogateescape"), boundary, len(reqs))
    sections, images, structured = [], [], []
    for req, raw in zip(reqs, parts, strict=True):
        try:
            if raw.startswith(b"notimage"):
                out = _read_as_text(runner, req, state)
            else:
                out = _interpret(req, raw, state)
        except ToolError as err:
            sections.append(f"==> {req.shown} <==\nError: {err}")
            structured.append({"path": req.path, "error": str(err)})
            continue
        images.extend(out.images)
        body = out.text if not out.images else f"[image {out.images[0].mime_type} attached]"
        sections.append(f"==> {req.shown} <==\n{body}")
        structured.append(out.structured)
    return ToolOutput("\n\n".join(sections), images=images, structured={"files": structured})


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _split_parts(data: bytes, boundary: str, count: int) -> list[bytes]:
    marker = re.compile(re.escape(boundary.encode()) + rb" (\d+)\n")
    found = list(marker.finditer(data))
    if [int(m.group(1)) for m in found] != list(range(count)):
        raise ToolError("MultiRead: the remote reply was cut short; try again.")
    parts = []
    for i, m in enumerate(found):
        stop = found[i + 1].start() if i + 1 < len(found) else len(data)
        part = data[m.end() : stop]
        parts.append(part[:-1] if part.endswith(b"\n") else part)
    return parts


IMAGE_WITHOUT_BASE64 = "Text files can still be read, and Download copies the image here."
# What still works on a host without base64 (Write sends content base64-encoded).
WITHOUT_BASE64 = (
    "Read, Grep, Glob, Bash, Upload (which can replace a whole file) and Edit (when python3 or "
    "perl is on the host) still work."
)


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
    result = run_template(runner, "write.sh.j2", path=path, content=data, expect=expect,
                          token=token, **guard_values(state))  # fmt: skip
    _check_exit(result.exited, result.stderr, file_path)
    reply = result.stdout.strip()
    status, _, mtime = reply.partition(" ")
    if status == "refused":
        raise refusal(state, file_path, mtime)
    failure = commit_failure(reply, file_path, backup_path(path, token))
    if failure is not None:
        raise ToolError(failure)
    if status == "notread":
        raise ToolError(NOT_READ)
    if status == "stale":
        raise ToolError(STALE)
    if status == "isdir":
        raise ToolError(f"EISDIR: illegal operation on a directory, open '{file_path}'")
    if status == "mkdir":
        raise ToolError(f"Cannot create the parent directory of {file_path} on the remote.")
    if status == "badlink":
        raise ToolError(f"Cannot resolve the symbolic link {file_path} on the remote.")
    if status not in ("created", "updated"):
        raise ToolError(f"Unexpected reply from the remote while writing {file_path}: {status!r}")
    state.files[path] = FileRecord(hashlib.sha256(data).hexdigest(), mtime, len(data))
    info = {"path": path, "status": status, "bytes": len(data)}
    if status == "created":
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


def file_stat(runner: Runner, paths: list[str], *, state: ToolState | None = None) -> ToolOutput:
    """Metadata of one or many paths in one command (a few bytes each)."""
    state = state if state is not None else ToolState()
    if not paths:
        raise ToolError("paths is empty: give at least one path.")
    resolved = [state.resolve(p, runner) for p in paths]
    result = run_template(runner, "stat.sh.j2", paths=resolved, **guard_values(state))
    _check_exit(result.exited, result.stderr, "FileStat")
    rows: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        idx, _, rest = line.partition(" ")
        if idx.isdigit():
            rows[int(idx)] = rest.split(" ")
    lines: list[str] = []
    entries: list[dict[str, object]] = []
    for i, (shown, path) in enumerate(zip(paths, resolved, strict=True)):
        row = rows.get(i)
        if row and row[0] == "refused":
            message = str(refusal(state, shown, row[1] if len(row) > 1 else "-"))
            entries.append({"path": path, "error": message})
            lines.append(f"{shown}: {message}")
            continue
        entry = _stat_entry(path, row)
        entries.append(entry)
        lines.append(f"{shown}: {_describe(entry)}")
    return ToolOutput("\n".join(lines), structured={"entries": entries})


def _stat_entry(path: str, row: list[str] | None) -> dict[str, object]:
    if row is None or row[0] == "missing":
        return {"path": path, "exists": False}
    kind, size, mode, user, group, mtime = row[:6]
    entry: dict[str, object] = {
        "path": path,
        "exists": True,
        "type": kind,
        "size": int(size),
        "mode": "0" + mode.zfill(3),
        "owner": user,
        "group": group,
        "mtime": datetime.fromtimestamp(int(mtime), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if kind == "symlink" and len(row) >= 8:
        target = base64.b64decode(row[6]).decode("utf-8", "surrogateescape")
        entry["target"] = target[:-1] if target.endswith("\n") else target
        entry["target_type"] = row[7]
    return entry


def _describe(entry: dict[str, object]) -> str:
    if not entry["exists"]:
        return "does not exist"
    text = (
        f"{entry['type']}, {entry['size']} bytes, mode {entry['mode']}, "
        f"owner {entry['owner']}:{entry['group']}, modified {entry['mtime']}"
    )
    if entry["type"] == "symlink":
        text += f", -> {entry['target']!r} ({entry['target_type']})"
    return text
