"""Each tool declared once: a pydantic model (the JSON schema in tools/list AND
the argument check on tools/call, so they cannot drift), a description, MCP's
hints, and the routine that runs it (a ``module:function`` in ``tools/``).

The routine takes the model's fields as keyword parameters of the same names
(handlers.py unpacks them, generically), so adding a parameter touches the
model and the routine only; a fast test checks every routine against its
model. The routine is named, not imported: this module loads at the server's
cold start, the tools only in the connect thread.

Field names, types and defaults follow Claude Code's built-in tools
(v2.0.77). Descriptions name the remote host, so the
agent never confuses these tools with its local ones; ``{host}`` is filled in
by :func:`remote_mcp.tool_list.tool_definitions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["TOOLS", "EditOperation", "MultiReadFile", "ToolSpec", "format_validation_error"]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# -- file tools ------------------------------------------------------------------
class ReadArgs(_Args):
    file_path: Annotated[str, Field(description="The absolute path to the file to read")]
    offset: Annotated[
        int | None,
        Field(
            description="The line number to start reading from. Only provide if the file is "
            "too large to read at once"
        ),
    ] = None
    limit: Annotated[
        int | None,
        Field(
            description="The number of lines to read. Only provide if the file is too large "
            "to read at once."
        ),
    ] = None


class WriteArgs(_Args):
    file_path: Annotated[
        str,
        Field(
            description="The absolute path to the file to write (must be absolute, not relative)"
        ),
    ]
    content: Annotated[str, Field(description="The content to write to the file")]


class EditArgs(_Args):
    file_path: Annotated[str, Field(description="The absolute path to the file to modify")]
    old_string: Annotated[str, Field(description="The text to replace")]
    new_string: Annotated[
        str,
        Field(description="The text to replace it with (must be different from old_string)"),
    ]
    replace_all: Annotated[
        bool, Field(description="Replace all occurences of old_string (default false)")
    ] = False


class EditOperation(_Args):
    old_string: Annotated[str, Field(description="The text to replace")]
    new_string: Annotated[str, Field(description="The text to replace it with")]
    replace_all: Annotated[
        bool, Field(description="Replace all occurences of old_string (default false).")
    ] = False


class MultiEditArgs(_Args):
    file_path: Annotated[str, Field(description="The absolute path to the file to modify")]
    edits: Annotated[
        list[EditOperation],
        Field(
            min_length=1,
            description="Array of edit operations to perform sequentially on the file",
        ),
    ]


class MultiReadFile(_Args):
    file_path: Annotated[str, Field(description="The absolute path to the file to read")]
    offset: Annotated[int | None, Field(description="Line number to start from (1-based)")] = None
    limit: Annotated[int | None, Field(description="Number of lines to read")] = None


class MultiReadArgs(_Args):
    files: Annotated[
        list[MultiReadFile],
        Field(min_length=1, max_length=100, description="The files to read, in order"),
    ]


class FileStatArgs(_Args):
    paths: Annotated[
        list[str],
        Field(min_length=1, max_length=1000, description="Absolute paths to inspect"),
    ]


# -- search ------------------------------------------------------------------------
class GlobArgs(_Args):
    pattern: Annotated[str, Field(description="The glob pattern to match files against")]
    path: Annotated[
        str | None,
        Field(
            description="The directory to search in. Omit it to use the current working "
            'directory (never pass "undefined" or "null")'
        ),
    ] = None


class GrepArgs(_Args):
    pattern: Annotated[
        str,
        Field(description="The regular expression pattern to search for in file contents"),
    ]
    path: Annotated[
        str | None,
        Field(description="File or directory to search in (rg PATH). Default: the cwd."),
    ] = None
    glob: Annotated[
        str | None,
        Field(
            description='Glob pattern to filter files (e.g. "*.js", "*.{ts,tsx}") - maps to '
            "rg --glob"
        ),
    ] = None
    output_mode: Annotated[
        Literal["content", "files_with_matches", "count"] | None,
        Field(
            description='"content": matching lines (with -A/-B/-C, -n); "files_with_matches" '
            '(default): file paths; "count": match counts'
        ),
    ] = None
    before: Annotated[
        int | None,
        Field(alias="-B", description="Lines to show before each match (rg -B); content mode only"),
    ] = None
    after: Annotated[
        int | None,
        Field(alias="-A", description="Lines to show after each match (rg -A); content mode only"),
    ] = None
    context: Annotated[
        int | None,
        Field(
            alias="-C",
            description="Lines to show before and after each match (rg -C); content mode only",
        ),
    ] = None
    line_numbers: Annotated[
        bool | None,
        Field(alias="-n", description="Show line numbers (rg -n); content mode only. Default true"),
    ] = None
    case_insensitive: Annotated[
        bool | None, Field(alias="-i", description="Case insensitive search (rg -i)")
    ] = None
    type: Annotated[
        str | None,
        Field(description="File type to search (rg --type), e.g. js, py, rust, go, java"),
    ] = None
    head_limit: Annotated[
        int | None,
        Field(
            description='First N lines/entries only, like "| head -N" (every output mode). '
            "Default 0: unlimited, output capped at 20000 characters."
        ),
    ] = None
    offset: Annotated[
        int | None,
        Field(
            description='Skip the first N lines/entries before head_limit, like "| tail -n +N". '
            "Default 0."
        ),
    ] = None
    multiline: Annotated[
        bool | None,
        Field(
            description=". matches newlines and patterns can span lines "
            "(rg -U --multiline-dotall). Default false."
        ),
    ] = None


# -- shell -------------------------------------------------------------------------
class BashArgs(_Args):
    command: Annotated[str, Field(description="The command to execute")]
    timeout: Annotated[
        float | None,
        # NaN would disable the time limit: non-finite numbers are refused.
        Field(description="Optional timeout in milliseconds (max 600000)", allow_inf_nan=False),
    ] = None
    description: Annotated[
        str | None,
        Field(
            description="Clear, concise description of what this command does in 5-10 words, "
            "in active voice."
        ),
    ] = None
    run_in_background: Annotated[
        bool | None,
        Field(
            description="Set to true to run this command in the background. Use BashOutput "
            "to read the output later."
        ),
    ] = None


class BashOutputArgs(_Args):
    bash_id: Annotated[
        str, Field(description="The ID of the background shell to retrieve output from")
    ]
    filter: Annotated[
        str | None,
        Field(description="Optional regex: keep only matching lines (the others are discarded)"),
    ] = None
    block: Annotated[
        bool | None,
        Field(description="Wait (up to timeout) for the command to finish"),
    ] = None
    timeout: Annotated[
        float | None,
        Field(
            description="With block: ms to wait (default 30000)",
            allow_inf_nan=False,
        ),
    ] = None
    all_sessions: Annotated[
        bool | None,
        Field(description="Also other remote-mcp sessions' jobs (normally refused)"),
    ] = None


class KillShellArgs(_Args):
    shell_id: Annotated[str, Field(description="The ID of the background shell to kill")]
    all_sessions: Annotated[
        bool | None,
        Field(description="Also a job of another remote-mcp session (normally refused)"),
    ] = None


# -- remote-mcp's own ----------------------------------------------------------------
class FeedbackArgs(_Args):
    message: Annotated[
        str,
        Field(
            min_length=1,
            description="What went wrong or would have helped",
        ),
    ]
    tool: Annotated[str | None, Field(description="The tool it is about, if any")] = None


class UploadArgs(_Args):
    local_path: Annotated[str, Field(description="Absolute local path")]
    remote_path: Annotated[str, Field(description="Absolute remote destination path")]
    overwrite: Annotated[bool, Field(description="Replace an existing remote file")] = False


class DownloadArgs(_Args):
    remote_path: Annotated[str, Field(description="Absolute remote path")]
    local_path: Annotated[str, Field(description="Absolute local destination path")]
    overwrite: Annotated[bool, Field(description="Replace an existing local file")] = False


@dataclass(frozen=True)
class ToolSpec:
    """One tool's whole declaration. ``routine`` is ``"module:function"`` in
    ``remote_mcp.tools``, resolved by ``handlers.routine_for``."""

    name: str
    routine: str
    model: type[_Args]
    description: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True


_READ = (
    "Reads a file on the remote host {host}. By default up to 2000 lines from the start; use "
    "offset and limit for long files. Lines over 2000 characters are truncated. "
    "Output is in cat -n format, numbered from 1. Images (PNG, JPG, GIF, WEBP) "
    "are shown visually. Not for directories: use Glob or Bash ls. For several "
    "files prefer one MultiRead call."
)
_WRITE = (
    "Writes a file on the remote host {host}, replacing it if it exists (owner, mode, links "
    "and xattrs kept); an existing file MUST have been Read first in this session. Parent "
    "directories are created. Prefer Edit for changes to existing files."
)
_EDIT = (
    "Performs exact string replacement in a file on the remote host {host}. You must Read "
    "the file first in this session. Keep the exact indentation shown after Read's "
    "line-number prefix; never include the prefix in old_string. Fails if old_string is "
    "not unique: give more context or set replace_all."
)
_MULTIEDIT = (
    "Several find-and-replace edits to ONE file on the remote host {host} in one call, "
    "applied in order, each to the previous result; all succeed or none is applied. Same "
    "rules as Edit."
)
_MULTIREAD = (
    "Reads several files (each with optional offset/limit) on the remote host {host} in ONE "
    "round trip, each in Read's format under a '==> path <==' header; a missing one is "
    "reported in its place."
)
_FILESTAT = (
    "Metadata of paths on the remote host {host} in one round trip: existence, type "
    "(symlink target too), size, mode, owner, mtime."
)
_GLOB = (
    "Fast file pattern matching on the remote host {host}. Supports glob patterns like "
    '"**/*.js" or "src/**/*.ts". Returns absolute paths of matching files sorted by '
    "modification time (at most 100)."
)
_GREP = (
    "Searches file contents on the remote host {host} (ripgrep syntax; rg when the host has "
    "it). Filter files with glob or type. Prefer Grep with -C context over grep-then-Read."
)
_BASH = (
    "Executes a command in a persistent shell on the remote host {host} (bash when "
    "available), started like an `ssh {host}` login (profile sourced once). cd, variables, "
    "functions, aliases and set -o options persist between calls. stdin is /dev/null and "
    "pagers/editors are disabled. Default timeout 120000 ms (max 600000); on timeout or "
    "cancel the command and its children are killed. For long jobs use "
    'run_in_background, then BashOutput (bash_id "list" lists jobs) and KillShell.'
)
_BASHOUTPUT = (
    "New output and status of a background command on the remote host {host} (Bash "
    'run_in_background). bash_id "list" lists this session\'s jobs.'
)
_KILLSHELL = "Kills a background command on the remote host {host} and all its child processes."
_FEEDBACK = (
    "Logs a note about remote-mcp itself (bug, missing feature, confusing message) for its "
    "maintainers; runs locally, not on the remote host {host}."
)
_UPLOAD = "Copies a local file to the remote host {host} over SFTP (atomic replace)."
_DOWNLOAD = "Copies a file from the remote host {host} to the local machine over SFTP."

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("Read", "files:read", ReadArgs, _READ, True, False, True),
        ToolSpec("Write", "write:write", WriteArgs, _WRITE, False, True, True),
        ToolSpec("Edit", "edit:edit", EditArgs, _EDIT, False, True, False),
        ToolSpec("MultiEdit", "edit:multi_edit", MultiEditArgs, _MULTIEDIT, False, True, False),
        ToolSpec("MultiRead", "files:multi_read", MultiReadArgs, _MULTIREAD, True, False, True),
        ToolSpec("FileStat", "file_stat:file_stat", FileStatArgs, _FILESTAT, True, False, True),
        ToolSpec("Glob", "search:glob", GlobArgs, _GLOB, True, False, True),
        ToolSpec("Grep", "search:grep", GrepArgs, _GREP, True, False, True),
        ToolSpec("Bash", "bash:bash", BashArgs, _BASH, False, True, False),
        ToolSpec(
            "BashOutput", "bash_jobs:bash_output", BashOutputArgs, _BASHOUTPUT, True, False, False
        ),
        ToolSpec("KillShell", "bash_jobs:kill_shell", KillShellArgs, _KILLSHELL, False, True, True),
        ToolSpec(
            "Feedback",
            "feedback:feedback",
            FeedbackArgs,
            _FEEDBACK,
            False,
            False,
            False,
            open_world=False,
        ),
        ToolSpec("Upload", "transfer:upload", UploadArgs, _UPLOAD, False, True, True),
        # Destructive: a local write that remote content can steer (local_paths guards it).
        ToolSpec("Download", "transfer:download", DownloadArgs, _DOWNLOAD, False, True, True),
    )
}


def format_validation_error(tool: str, exc: ValidationError) -> str:
    """Claude Code's InputValidationError wording for a bad argument."""
    issues = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "missing":
            issues.append(f"The required parameter `{loc}` is missing")
        elif kind == "extra_forbidden":
            issues.append(f"An unexpected parameter `{loc}` was provided")
        else:
            got = type(err.get("input")).__name__
            issues.append(f"The parameter `{loc}` is invalid ({err['msg']}; got {got})")
    plural = "s" if len(issues) > 1 else ""
    return f"InputValidationError: {tool} failed due to the following issue{plural}:\n" + "\n".join(
        issues
    )
