"""What every tool routine shares: the runner protocol, per-session state,
path resolution, and Claude Code's text formatting helpers.

A tool routine is a plain function ``tool(runner, *, args..., state=None)``
returning a :class:`ToolOutput` or raising :class:`~remote_mcp.errors.ToolError`.
``runner`` is anything with ``run(command, **kw) -> invoke.Result``: the
server's pooled ``Session`` or a plain ``fabric.Connection`` in a script.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, TypeVar

from invoke.runners import Result
from pydantic import BaseModel

from ..errors import ToolError
from ..host_settings import BashPolicy, EditBackend, FindBackend, GrepBackend
from ..session import RemoteInfo
from ..templates import render
from .names import unescape_name

__all__ = [
    "FileRecord",
    "ImageBlock",
    "Runner",
    "ToolOutput",
    "ToolState",
    "as_models",
    "check_exit",
    "format_size",
    "number_lines",
    "require_command",
    "run_template",
]


# Claude Code's wording for the read-before-write rule, shared by Write and Edit.
NOT_READ = "File has not been read yet. Read it first before writing to it."
STALE = (
    "File has been modified since read, either by the user or by a linter. "
    "Read it again before attempting to write it."
)


class Runner(Protocol):
    def run(self, command: str, **kwargs: Any) -> Result: ...


@dataclass(frozen=True)
class ImageBlock:
    data_b64: str
    mime_type: str


@dataclass
class ToolOutput:
    """What a tool returns: text for the agent, optional images, and
    ``structured`` data for Python callers (scripts, tests, benchmarks)."""

    text: str
    images: list[ImageBlock] = field(default_factory=list)
    structured: dict[str, Any] = field(default_factory=dict)


# Files up to this size are hashed: the hash is the precondition of a later
# Write/Edit. Bigger ones are known by size + nanosecond mtime (as Claude Code
# does), so neither a Read of a huge log nor an Edit of it hashes the file.
HASH_MAX_BYTES = 4 << 20


@dataclass(frozen=True)
class FileRecord:
    """What this session last saw of a file (after Read, Write or Edit).

    ``sha256`` is the precondition for later writes; for files too big to
    hash cheaply it is None and ``mtime``/``size`` are compared instead.
    """

    sha256: str | None
    mtime: str
    size: int

    @classmethod
    def kept(cls, sha256: str | None, mtime: str, size: int) -> FileRecord:
        """The record to keep: a hash only for a file of at most
        HASH_MAX_BYTES, so the next change's check costs no hash of a big one."""
        return cls(sha256 if size <= HASH_MAX_BYTES else None, mtime, size)

    @classmethod
    def of_content(cls, data: bytes, mtime: str) -> FileRecord:
        """The record of a content this session wrote, hashed here only when
        the hash is kept (a big Write is not hashed for nothing)."""
        digest = hashlib.sha256(data).hexdigest() if len(data) <= HASH_MAX_BYTES else None
        return cls(digest, mtime, len(data))


class Backends(TypedDict, total=False):
    """The config's ``*_backend`` choices (a missing key means "auto")."""

    edit: EditBackend
    grep: GrepBackend
    find: FindBackend


@dataclass
class ToolState:
    """Per-server-session memory that tools share (Claude Code's readFileState,
    the Bash shell's cwd for relative paths, the remote's capabilities)."""

    host_name: str = "remote"
    info: RemoteInfo | None = None
    cwd: str | None = None
    files: dict[str, FileRecord] = field(default_factory=dict)
    backends: Backends = field(default_factory=Backends)
    # The host's guards (tools/guard.py enforces them; config.py documents them).
    read_only: bool = False
    allowed_paths: tuple[str, ...] = ()
    bash: BashPolicy = "auto"
    local_paths: tuple[str, ...] = ()
    # Local places Download never writes, whatever local_paths says (~/.ssh,
    # remote-mcp's config); the server adds the active config file.
    private_local: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def adopt(self, info: RemoteInfo) -> None:
        """Take a connection's probe; relative paths start at its home."""
        self.info = info
        if self.cwd is None:
            self.cwd = info.home

    def remote_info(self, runner: Runner) -> RemoteInfo:
        """Probe the remote once if nobody has (ad-hoc script use)."""
        if self.info is None:
            result = runner.run(render("probe.sh.j2"), hide=True, warn=True)
            self.info = RemoteInfo.parse(result.stdout)
        return self.info

    def resolve(self, path: str, runner: Runner | None = None) -> str:
        """Absolute, normalised remote path: ``~`` is the remote home, a
        relative path is taken from the Bash shell's current directory."""
        if not path:
            raise ToolError("The path is empty. Give an absolute path on the remote host.")
        if "\0" in path:
            raise ToolError("The path contains a NUL byte, which no file name can contain.")
        if path == "~" or path.startswith("~/"):
            home = self._home(runner)
            path = home + path[1:]
        elif not path.startswith("/"):
            path = posixpath.join(self.cwd or self._home(runner), path)
        resolved = posixpath.normpath(path)
        # normpath keeps a leading "//" (POSIX allows it to be special); we don't.
        return self._unescape("/" + resolved.lstrip("/"), runner)

    def _unescape(self, path: str, runner: Runner | None) -> str:
        """A name shown with ``\\xNN`` escapes (names.py) addresses its bytes,
        unless a file with the literal name exists (one more command, only then)."""
        named = unescape_name(path)
        if named is None or runner is None:
            return path if named is None else named
        found = run_template(runner, "stat.sh.j2", paths=[path], allowed=list(self.allowed_paths))
        literal = found.stdout.split()[1:2]
        return path if literal not in ([], ["missing"], ["refused"]) else named

    def _home(self, runner: Runner | None) -> str:
        if self.info is None and runner is not None:
            self.remote_info(runner)
        return self.info.home if self.info else "/"


def require_command(state: ToolState, runner: Runner, tool: str, command: str, still: str) -> None:
    """Refuse, before touching anything, a call that needs a command the probe
    did not find on the remote (a minimal image without coreutils' base64):
    otherwise the template's failure would read as "permission denied".
    ``still`` says what works without it. An empty probe (ad-hoc runner that
    could not probe) decides nothing."""
    has = state.remote_info(runner).has
    if has and command not in has:
        raise ToolError(
            f"{tool} needs the {command} command on {state.host_name}, and the remote has none "
            f"on its PATH, so nothing was changed. {still} Install {command} there (coreutils, "
            f"or a BusyBox with the {command} applet) to use {tool}."
        )


Item = TypeVar("Item", bound=BaseModel)


def as_models(model: type[Item], items: Sequence[Item | Mapping[str, Any]]) -> list[Item]:
    """A list argument's items as their model (schemas.py): the server passes
    models already checked; a script may pass plain dicts, checked here by the
    same model."""
    return [item if isinstance(item, model) else model.model_validate(item) for item in items]


def run_template(runner: Runner, name: str, /, **values: Any) -> Result:
    """Render a template and run it; a non-zero exit is a remote failure."""
    return runner.run(render(name, **values), hide=True, warn=True)


def check_exit(code: int, stderr: str, what: str) -> None:
    """A template that exits non-zero failed as a command (its replies exit 0)."""
    if code != 0:
        raise ToolError(f"Remote command for {what} failed (exit {code}): {stderr.strip()[-500:]}")


def number_lines(lines: list[str], start: int) -> str:
    """Claude Code's ``cat -n`` format: number right-aligned to 6, then U+2192."""
    end = start + len(lines)
    if end <= len(_LINE_PREFIXES):  # a Read's lines (at most 2000) from near the top
        return "\n".join(map("".join, zip(_LINE_PREFIXES[start:end], lines, strict=True)))
    return "\n".join(f"{n:>6}\u2192{line}" for n, line in enumerate(lines, start))


_LINE_PREFIXES = [f"{n:>6}\u2192" for n in range(4097)]
"""number_lines' prefixes for lines 0-4096, made once (0.7 ms): joining them to
the lines is five times faster than formatting each number (MultiRead of 10
files of 200 lines: 0.5 ms less)."""


def split_lines(text: str) -> list[str]:
    """Split like Claude Code (``/\\r?\\n/``), without a phantom last line for a
    final newline (pinned by test: cat -n shows none either)."""
    if text == "":
        return []
    # str.split is ~15x faster than the regex; without a CR they agree.
    lines = re.split(r"\r?\n", text) if "\r" in text else text.split("\n")
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()
    return lines


def format_size(size: int) -> str:
    """Claude Code's human-readable size: ``512 bytes``, ``256KB``, ``1.5MB``."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            text = f"{value:.1f}"
            return (text[:-2] if text.endswith(".0") else text) + unit
        value /= 1024
    raise AssertionError("unreachable")


def decode_text(data: bytes) -> str:
    """Bytes to text the agent can read; invalid UTF-8 stays recoverable as
    surrogate escapes (the server replaces them only on the wire)."""
    return data.decode("utf-8", "surrogateescape")
