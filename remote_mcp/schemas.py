"""One pydantic model per tool: the JSON schema in tools/list AND the argument
check on tools/call come from the same definition, so they cannot drift.

Field names, types and defaults follow Claude Code's built-ins
(reference/claude-code-tools.md). Descriptions name the remote host, so the
agent never confuses these tools with its local ones; ``{host}`` is filled in
by :func:`tool_definitions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["TOOLS", "ToolSpec", "format_validation_error", "tool_definitions"]


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
            description="The directory to search in. If not specified, the current working "
            "directory will be used. IMPORTANT: Omit this field to use the default directory. "
            'DO NOT enter "undefined" or "null" - simply omit it for the default behavior. '
            "Must be a valid directory path if provided."
        ),
    ] = None


class GrepArgs(_Args):
    pattern: Annotated[
        str,
        Field(description="The regular expression pattern to search for in file contents"),
    ]
    path: Annotated[
        str | None,
        Field(
            description="File or directory to search in (rg PATH). Defaults to current "
            "working directory."
        ),
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
            description='Output mode: "content" shows matching lines (supports -A/-B/-C '
            'context, -n line numbers, head_limit), "files_with_matches" shows file paths '
            '(supports head_limit), "count" shows match counts (supports head_limit). '
            'Defaults to "files_with_matches".'
        ),
    ] = None
    before: Annotated[
        int | None,
        Field(
            alias="-B",
            description="Number of lines to show before each match (rg -B). Requires "
            'output_mode: "content", ignored otherwise.',
        ),
    ] = None
    after: Annotated[
        int | None,
        Field(
            alias="-A",
            description="Number of lines to show after each match (rg -A). Requires "
            'output_mode: "content", ignored otherwise.',
        ),
    ] = None
    context: Annotated[
        int | None,
        Field(
            alias="-C",
            description="Number of lines to show before and after each match (rg -C). "
            'Requires output_mode: "content", ignored otherwise.',
        ),
    ] = None
    line_numbers: Annotated[
        bool | None,
        Field(
            alias="-n",
            description="Show line numbers in output (rg -n). Requires output_mode: "
            '"content", ignored otherwise. Defaults to true.',
        ),
    ] = None
    case_insensitive: Annotated[
        bool | None, Field(alias="-i", description="Case insensitive search (rg -i)")
    ] = None
    type: Annotated[
        str | None,
        Field(
            description="File type to search (rg --type). Common types: js, py, rust, go, "
            "java, etc. More efficient than include for standard file types."
        ),
    ] = None
    head_limit: Annotated[
        int | None,
        Field(
            description='Limit output to first N lines/entries, equivalent to "| head -N". '
            "Works across all output modes: content (limits output lines), "
            "files_with_matches (limits file paths), count (limits count entries). Defaults "
            "to 0 (unlimited; the output is still capped at 20000 characters)."
        ),
    ] = None
    offset: Annotated[
        int | None,
        Field(
            description="Skip first N lines/entries before applying head_limit, equivalent "
            'to "| tail -n +N | head -N". Works across all output modes. Defaults to 0.'
        ),
    ] = None
    multiline: Annotated[
        bool | None,
        Field(
            description="Enable multiline mode where . matches newlines and patterns can span "
            "lines (rg -U --multiline-dotall). Default: false."
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
        Field(
            description="Optional regular expression to filter the output lines. Only lines "
            "matching this regex will be included in the result. Any lines that do not match "
            "will no longer be available to read."
        ),
    ] = None
    block: Annotated[
        bool | None,
        Field(description="Wait for the command to finish (up to timeout) before answering."),
    ] = None
    timeout: Annotated[
        float | None,
        Field(
            description="With block: how long to wait, in milliseconds (default 30000).",
            allow_inf_nan=False,
        ),
    ] = None
    all_sessions: Annotated[
        bool | None,
        Field(
            description="Also read jobs started by other remote-mcp sessions (normally "
            'refused); with bash_id "list", list every session\'s jobs. Default: false.'
        ),
    ] = None


class KillShellArgs(_Args):
    shell_id: Annotated[str, Field(description="The ID of the background shell to kill")]
    all_sessions: Annotated[
        bool | None,
        Field(
            description="Also kill a job started by another remote-mcp session (normally "
            "refused). Default: false."
        ),
    ] = None


# -- remote-mcp's own ----------------------------------------------------------------
class FeedbackArgs(_Args):
    message: Annotated[
        str,
        Field(
            min_length=1,
            description="What went wrong or what would have helped, about remote-mcp itself",
        ),
    ]
    tool: Annotated[
        str | None, Field(description="The remote-mcp tool the note is about, if any")
    ] = None


class UploadArgs(_Args):
    local_path: Annotated[str, Field(description="Absolute path of the local file to send")]
    remote_path: Annotated[str, Field(description="Absolute destination path on the remote")]
    overwrite: Annotated[
        bool, Field(description="Replace the remote file if it exists (default false)")
    ] = False


class DownloadArgs(_Args):
    remote_path: Annotated[str, Field(description="Absolute path of the remote file to fetch")]
    local_path: Annotated[str, Field(description="Absolute local destination path")]
    overwrite: Annotated[
        bool, Field(description="Replace the local file if it exists (default false)")
    ] = False


@dataclass(frozen=True)
class ToolSpec:
    name: str
    model: type[_Args]
    description: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True


_READ = (
    "Reads a file on the remote host {host} over SSH. The file_path parameter must be an "
    "absolute path on {host}. By default it reads up to 2000 lines from the beginning; use "
    "offset and limit for long files. Any lines longer than 2000 characters are truncated. "
    "Results are returned using cat -n format, with line numbers starting at 1. It can read "
    "images (PNG, JPG, GIF, WEBP), which are shown visually. It cannot read directories: use "
    "Glob or Bash ls. To read several files, prefer one MultiRead call over several Reads."
)
_WRITE = (
    "Writes a file on the remote host {host}, replacing it if it exists (owner, mode, links "
    "and extended attributes kept). If the file exists you MUST Read it first in this "
    "session, or the write fails. Parent directories are created. Prefer Edit for changes "
    "to existing files."
)
_EDIT = (
    "Performs exact string replacement in a file on the remote host {host}. You must Read "
    "the file first in this session. Keep the exact indentation shown after the line-number "
    "prefix of Read's output, and never include the prefix in old_string. The edit fails if "
    "old_string is not unique; give more context or set replace_all. The replacement is "
    "applied on the remote, so a small edit of a big file moves few bytes."
)
_MULTIEDIT = (
    "Makes several find-and-replace edits to ONE file on the remote host {host} in one call. "
    "Edits apply in order, each to the result of the previous one; either all succeed or "
    "none is applied. Same rules as Edit (Read first, unique old_string or replace_all)."
)
_MULTIREAD = (
    "Reads several files on the remote host {host} in ONE round trip, each with optional "
    "offset/limit; output is each file in Read's cat -n format under a '==> path <==' "
    "header. A missing file is reported in its place without failing the others. Prefer "
    "this over consecutive Read calls."
)
_FILESTAT = (
    "Metadata of one or many paths on the remote host {host} in one round trip: whether it "
    "exists, type (file, directory, symlink and its target), size, mode, owner, mtime. "
    "Cheaper than Read or Bash for checking files."
)
_GLOB = (
    "Fast file pattern matching on the remote host {host}. Supports glob patterns like "
    '"**/*.js" or "src/**/*.ts". Returns absolute paths of matching files sorted by '
    "modification time (at most 100)."
)
_GREP = (
    "Searches file contents on the remote host {host} (ripgrep syntax, ripgrep when the "
    "host has it). Filter files with glob or type; output_mode content shows matching lines "
    "(with -A/-B/-C context), files_with_matches (default) shows file paths, count shows "
    "match counts. Prefer Grep with context over grep-then-Read."
)
_BASH = (
    "Executes a command in a persistent shell on the remote host {host} (bash when "
    "available), started like an `ssh {host}` login (/etc/profile and ~/.bash_profile or "
    "~/.profile sourced once). cd, exported and plain variables, functions, aliases and "
    "set -o options persist between calls. stdin is /dev/null and pagers/editors are "
    "disabled, so nothing waits for input. Default timeout 120000 ms (max 600000); a "
    "timed-out or cancelled command is killed with all its child processes. Use "
    "run_in_background for long jobs, then BashOutput to read their output and KillShell "
    'to stop them; BashOutput with bash_id "list" lists the background jobs.'
)
_BASHOUTPUT = (
    "Returns the new output of a background command on the remote host {host} (started "
    'by Bash with run_in_background), with its status. bash_id "list" lists this '
    "session's jobs and counts those of other sessions."
)
_KILLSHELL = "Kills a background command on the remote host {host} and all its child processes."
_FEEDBACK = (
    "Files a note about remote-mcp itself (a tool that misbehaved, a missing feature, a "
    "confusing message) into a local log for its maintainers. Runs locally: it does not "
    "touch the remote host {host}."
)
_UPLOAD = "Copies a local file to the remote host {host} over SFTP (atomic replace)."
_DOWNLOAD = "Copies a file from the remote host {host} to the local machine over SFTP."

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("Read", ReadArgs, _READ, True, False, True),
        ToolSpec("Write", WriteArgs, _WRITE, False, True, True),
        ToolSpec("Edit", EditArgs, _EDIT, False, True, False),
        ToolSpec("MultiEdit", MultiEditArgs, _MULTIEDIT, False, True, False),
        ToolSpec("MultiRead", MultiReadArgs, _MULTIREAD, True, False, True),
        ToolSpec("FileStat", FileStatArgs, _FILESTAT, True, False, True),
        ToolSpec("Glob", GlobArgs, _GLOB, True, False, True),
        ToolSpec("Grep", GrepArgs, _GREP, True, False, True),
        ToolSpec("Bash", BashArgs, _BASH, False, True, False),
        ToolSpec("BashOutput", BashOutputArgs, _BASHOUTPUT, True, False, False),
        ToolSpec("KillShell", KillShellArgs, _KILLSHELL, False, True, True),
        ToolSpec("Feedback", FeedbackArgs, _FEEDBACK, False, False, False, open_world=False),
        ToolSpec("Upload", UploadArgs, _UPLOAD, False, True, True),
        # Destructive: a local write that remote content can steer (local_paths guards it).
        ToolSpec("Download", DownloadArgs, _DOWNLOAD, False, True, True),
    )
}


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The JSON schema sent in tools/list (aliases such as ``-A`` as names)."""
    schema = spec.model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    return _tidy(_inline(schema, defs))


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace ``$ref`` by the definition: some MCP clients do not follow refs."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _tidy(node: Any) -> Any:
    """Drop pydantic's ``title`` noise and collapse ``anyOf [T, null]`` to T:
    an optional argument is simply one that may be omitted."""
    if isinstance(node, dict):
        node = {k: _tidy(v) for k, v in node.items() if k != "title"}
        any_of = node.get("anyOf")
        if isinstance(any_of, list):
            kept = [s for s in any_of if s != {"type": "null"}]
            if len(kept) == 1:
                del node["anyOf"]
                node = {**kept[0], **node}
        if node.get("default", 0) is None:
            del node["default"]
        return node
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def tool_definitions(
    host: str, *, hidden: frozenset[str] = frozenset(), note: str = ""
) -> list[dict[str, Any]]:
    """Name, description, schema and annotations of every tool, for ``host``.

    ``hidden`` tools are left out (a guard would refuse them) and ``note``,
    the host's guard mode, ends every description (tools/guard.py)."""
    return [
        {
            "name": spec.name,
            "description": spec.description.format(host=host) + (f" {note}" if note else ""),
            "input_schema": input_schema(spec),
            "annotations": {
                "read_only_hint": spec.read_only,
                "destructive_hint": spec.destructive,
                "idempotent_hint": spec.idempotent,
                "open_world_hint": spec.open_world,
            },
        }
        for spec in TOOLS.values()
        if spec.name not in hidden
    ]


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
