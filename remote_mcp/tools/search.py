"""Glob and Grep: Claude Code's search tools, run on the remote in one command.

Claude Code (v2.0.77) answers both
with ripgrep. remote-mcp uses the remote's ``rg`` when it has one, with the
same arguments, so results match; otherwise it falls back to ``find`` (Glob)
or ``find`` + GNU ``grep`` (Grep) and makes them behave like ripgrep:

* ripgrep's glob language (gitignore-style globs over the path relative to
  the search root, ``globset`` 0.4 syntax: ``**``, ``{a,b}``, classes) is
  parsed in Python (``rg_globs``). The parsed glob becomes ``find`` tests
  (``glob_to_find``: ``-name`` where exact, ``-regex`` on GNU find, a
  ``-path`` superset on POSIX find), and, for Glob, an exact matcher applied
  to what comes back. Grep's ``type`` uses ripgrep's table (``rg_types``).
* ripgrep's regex syntax is translated to POSIX ERE for ``grep -E`` where a
  translation is faithful (``regex_translate``); anything else is refused
  with a message naming the construct (never a silently different search).

This module checks the arguments, picks the backend, runs the template and
reads its status word. Output text is formatted in Python from NUL-separated
records, the same for every backend (``search_output``). Differences that
remain are listed in docs/reference/search-backends.md.
"""

from __future__ import annotations

import posixpath
import re
import secrets

from ..errors import ToolError
from ..host_settings import GlobEngine, GrepEngine
from .base import Runner, ToolOutput, ToolState, decode_text, run_template
from .glob_to_find import find_filter
from .guard import guard_values
from .names import show_name
from .refusals import Refused, refusal_error
from .regex_translate import refuse, translate_regex
from .rg_globs import GlobSyntaxError, RipgrepGlob
from .rg_types import RG_TYPES
from .search_output import MAX_COLUMNS, GrepRequest, GrepView, join_path, oldest_first
from .search_replies import SearchStatus, parse_search_reply, unexpected_reply

__all__ = ["GlobSyntaxError", "RipgrepGlob", "glob", "grep", "translate_regex"]

GLOB_LIMIT = 100  # Claude Code's Glob cap (limit:100)
VCS_DIRS = (".git", ".svn", ".hg", ".bzr")  # Claude Code's nr5 (--glob '!.git' ...)
_TRUNCATED = "(Results are truncated. Consider using a more specific path or pattern.)"
# The fallback's content lines are cut to this many bytes on the remote: a
# path (PATH_MAX) plus more than MAX_COLUMNS characters, so a long line is
# still recognised as one and shown as "[Omitted long ... line]".
LINE_BYTES = 4096 + 4 * MAX_COLUMNS + 64


# =============================================================================
# the templates' replies
# =============================================================================
def _exit_code(stderr: str) -> int | None:
    m = re.search(r"(?:^|\n)rc=(\d+)\n?$", stderr)
    return int(m.group(1)) if m else None


def _stderr_text(stderr: str) -> str:
    return re.sub(r"(?:^|\n)rc=\d+\n?$", "", stderr).strip()


def _raise_rg_error(stderr: str, body: bytes) -> None:
    """ripgrep exits 2 for a bad glob, regex or type (and for unreadable
    files, with results). Claude Code then shows "No files found"; an error
    naming the problem serves the agent better."""
    if _exit_code(stderr) == 2 and not body.strip(b"\0\n"):
        message = _stderr_text(stderr)
        if message:
            raise ToolError(message)


def _cwd(state: ToolState, runner: Runner) -> str:
    return state.cwd or state.resolve("~", runner)


# =============================================================================
# Glob
# =============================================================================
def _split_absolute(pattern: str) -> tuple[str, str]:
    """Claude Code's hF7: an absolute pattern searches from its literal
    directory part, with the rest as the glob."""
    m = re.search(r"[*?[{]", pattern)
    if m is None:
        return posixpath.dirname(pattern) or "/", posixpath.basename(pattern)
    head = pattern[: m.start()]
    cut = head.rfind("/")
    return (pattern[:cut] or "/"), pattern[cut + 1 :]


def _glob_backend(state: ToolState, runner: Runner) -> GlobEngine:
    """GNU find first: its -printf gives each file's mtime in the walk, where
    rg 13 (no global sort) needs xargs and a find per batch after it -- three
    processes more for the same list (Glob's semantics are ripgrep's on every
    backend, applied here to what comes back)."""
    want = state.backends.get("find", "auto")
    if want != "auto":
        return want
    has = state.remote_info(runner).has
    return "gnu" if "gnu_find" in has else "rg" if "rg" in has else "posix"


def _mtime_tool(has: frozenset[str] | set[str], gnu_find: bool) -> str:
    """How a template reads the mtimes of a file list: on a GNU userland
    (GNU find, and the coreutils ``head -z`` the probe's zsort found) xargs
    runs ``stat --printf`` directly; otherwise a small ``sh -c`` around find
    or stat does it."""
    if gnu_find:
        return "gstat" if "zsort" in has else "find"
    return "stat"


def _refuse_nul(**values: str | None) -> None:
    """A NUL can reach neither a file name nor a command argument: say so."""
    for name, value in values.items():
        if value and "\0" in value:
            raise ToolError(
                f"{name} contains a NUL character (\\0), which no file name or search "
                f"pattern on the remote can contain. Remove it and try again."
            )


def glob(
    runner: Runner,
    pattern: str,
    path: str | None = None,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    """Claude Code's Glob: absolute paths of the files an ``rg --glob``
    pattern selects, oldest first (as its rg 14 ``--sort=modified`` orders
    them), at most 100, hidden and git-ignored files included. A pattern
    starting with ``/`` searches from its literal directory part, as Claude
    Code does. One remote command."""
    state = state if state is not None else ToolState()
    _refuse_nul(pattern=pattern)
    root = state.resolve(path, runner) if path else _cwd(state, runner)
    from_pattern = False
    if pattern.startswith("/"):
        root, pattern = _split_absolute(pattern)
        root, from_pattern = posixpath.normpath(root), True
    backend = _glob_backend(state, runner)
    has = state.remote_info(runner).has
    values: dict[str, object] = {
        "root": root,
        "backend": backend,
        "pattern": pattern,
        "cap": GLOB_LIMIT + 1,
        "find_args": [],
        "mtime_tool": _mtime_tool(has, "gnu_find" in has),
        "zsort": "zsort" in has,
        **guard_values(state),
    }
    matcher: RipgrepGlob | None = None
    if backend != "rg":
        try:
            matcher = RipgrepGlob([pattern])
        except GlobSyntaxError as err:
            raise ToolError(str(err)) from None
        words = find_filter(matcher, gnu=backend == "gnu", exact=False)
        assert words is not None  # a superset is always expressible
        values["find_args"] = words
    result = run_template(runner, "glob.sh.j2", **values)
    reply = parse_search_reply(result.stdout)
    body, refused = reply.body, reply.status
    shown = path if path else root
    if isinstance(refused, Refused):
        if refused.word in ("missing", "notdir") and from_pattern:
            return ToolOutput("No files found", structured={"files": [], "truncated": False})
        raise refusal_error(refused, path=shown, state=state, access="glob")
    if reply.status is not SearchStatus.OK:
        raise unexpected_reply("Glob", result)
    if matcher is None:
        _raise_rg_error(result.stderr, body)
    rels = oldest_first(body, matcher)
    files = [join_path(root, r) for r in rels[:GLOB_LIMIT]]
    truncated = len(rels) > GLOB_LIMIT
    if not files:
        return ToolOutput("No files found", structured={"files": [], "truncated": False})
    text = "\n".join([*map(show_name, files), *([_TRUNCATED] if truncated else [])])
    return ToolOutput(text, structured={"files": files, "truncated": truncated, "backend": backend})


# =============================================================================
# Grep
# =============================================================================
def _split_globs(value: str | None) -> list[str]:
    """Claude Code splits ``glob`` on whitespace, then on commas unless the
    piece has a ``{...}`` set."""
    if not value:
        return []
    out: list[str] = []
    for piece in re.split(r"\s+", value):
        out.extend([piece] if "{" in piece and "}" in piece else [p for p in piece.split(",") if p])
    return [g for g in out if g]


def _context_args(req: GrepRequest) -> list[str]:
    out = []
    for flag, value in (("-B", req.before), ("-A", req.after)):
        if value:  # -C 0 would only add group separators (grep prints them)
            out += [flag, str(value)]
    return out


def _rg_args(req: GrepRequest, sep: str) -> list[str]:
    """Claude Code's argument list (v2.0.77's Grep call), plus --null and a random
    context separator so that any file name and line text parse back."""
    args = ["--hidden"]
    for vcs in VCS_DIRS:
        args += ["--glob", f"!{vcs}"]
    args += ["--max-columns", str(MAX_COLUMNS)]
    if req.multiline:
        args += ["-U", "--multiline-dotall"]
    if req.mode == "content":
        args += ["--sort", "path"]  # paged on the remote: the order must be fixed
    if req.case_insensitive:
        args.append("-i")
    args.append({"files_with_matches": "-l", "count": "-c", "content": "-n"}[req.mode])
    if req.mode == "content":
        args += _context_args(req)
    args += ["--null", "--context-separator", sep, "-e", req.pattern]
    if req.type:
        args += ["--type", req.type]
    for g in req.globs:
        args += ["--glob", g]
    return args


def _grep_args(req: GrepRequest, sep: str) -> tuple[list[str], list[str]]:
    """(search arguments, match-only arguments) for GNU grep."""
    if req.multiline:
        raise refuse("multiline mode (-U), which GNU grep cannot do line by line")
    ere, icase = translate_regex(req.pattern)
    match = ["-E", *(["-i"] if icase or req.case_insensitive else []), "-e", ere]
    mode = {
        "files_with_matches": ["-l", "-Z"],
        "count": ["-c"],
        "content": ["-n", f"--group-separator={sep}", *_context_args(req)],
    }
    return [*mode[req.mode], *match], match


def _busybox_values(req: GrepRequest, sep: str) -> dict[str, object]:
    """Template values for BusyBox grep: option words and the ERE apart,
    because the template hands them to per-file shells in the environment."""
    if req.multiline:
        raise refuse("multiline mode (-U), which BusyBox grep cannot do line by line")
    ere, icase = translate_regex(req.pattern)
    flags = ["-E", *(["-i"] if icase or req.case_insensitive else [])]
    if req.mode == "content":
        flags += _context_args(req)
    return {
        "bb_flags": flags,
        "pattern": ere,
        "sep": sep,
        "bb_context": req.mode == "content" and bool(_context_args(req)),
    }


_HEX_RECORD = re.compile(rb"((?:[0-9a-f]{2})+)/(\d+[:-].*)", re.S)


def _busybox_records(body: bytes) -> bytes:
    """BusyBox content lines (HEXPATH/LINE:TEXT, NUL-free for BusyBox sed)
    as the PATH\\0LINE:TEXT records every backend gives."""
    lines = body.split(b"\n")
    for i, line in enumerate(lines):
        m = _HEX_RECORD.fullmatch(line)
        if m:
            lines[i] = bytes.fromhex(m.group(1).decode()) + b"\0" + m.group(2)
    return b"\n".join(lines)


def _grep_backend(state: ToolState, runner: Runner) -> GrepEngine:
    want = state.backends.get("grep", "auto")
    has = state.remote_info(runner).has
    if want == "auto":
        want = "rg" if "rg" in has else "grep" if "gnu_grep" in has else "busybox"
    if want == "grep" and "gnu_grep" not in has:
        raise ToolError(
            f"grep_backend is grep, but {state.host_name} has no GNU grep. Set grep_backend "
            "to auto or busybox in the remote-mcp config."
        )
    return want


def grep(  # Claude Code's schema, one keyword per field
    runner: Runner,
    pattern: str,
    path: str | None = None,
    *,
    glob: str | None = None,
    type: str | None = None,  # the schema's name
    output_mode: str | None = None,
    before: int | None = None,
    after: int | None = None,
    context: int | None = None,
    line_numbers: bool | None = None,
    case_insensitive: bool | None = None,
    head_limit: int | None = None,
    offset: int | None = None,
    multiline: bool | None = None,
    state: ToolState | None = None,
) -> ToolOutput:
    """Claude Code's Grep (ripgrep semantics and output), in one command."""
    state = state if state is not None else ToolState()
    _refuse_nul(pattern=pattern, glob=glob, type=type)
    mode = output_mode or "files_with_matches"
    if mode not in ("content", "files_with_matches", "count"):
        raise ToolError(f"output_mode must be content, files_with_matches or count, not {mode!r}.")
    for name, value in (
        ("-A", after),
        ("-B", before),
        ("-C", context),
        ("head_limit", head_limit),
        ("offset", offset),
    ):
        if value is not None and value < 0:
            raise ToolError(f"{name} must be zero or a positive number.")
    if context is not None:
        before = after = context
    req = GrepRequest(
        pattern,
        mode,
        before if mode == "content" else None,
        after if mode == "content" else None,
        line_numbers is not False,
        bool(case_insensitive),
        bool(multiline),
        _split_globs(glob),
        type or None,
        head_limit,
        offset or 0,
    )
    cwd = _cwd(state, runner)
    target = state.resolve(path, runner) if path else cwd
    backend = _grep_backend(state, runner)
    sep = "RMCP_SEP_" + secrets.token_hex(8)
    parent = posixpath.dirname(target)
    first, last = req.remote_page()
    values: dict[str, object] = {
        "path": target,
        "backend": backend,
        "mode": mode,
        "rg_args": [],
        "grep_args": [],
        "match_args": [],
        "find_args": [],
        "mtime_tool": "stat",
        "bb_flags": [],
        "bb_context": False,
        **guard_values(state),
        "first": first,
        "last": last,
        "line_bytes": LINE_BYTES,
    }
    has = state.remote_info(runner).has
    gnu_find = "gnu_find" in has and state.backends.get("find", "auto") != "posix"
    if mode == "files_with_matches":
        values["mtime_tool"] = _mtime_tool(has, gnu_find)
    if backend == "rg":
        values["rg_args"] = _rg_args(req, sep)
    elif backend == "busybox":
        values.update(_busybox_values(req, sep))
        values["find_args"] = _fallback_find_args(req, gnu=gnu_find)
    else:
        values["grep_args"], values["match_args"] = _grep_args(req, sep)
        values["find_args"] = _fallback_find_args(req, gnu=gnu_find)
    result = run_template(runner, "grep.sh.j2", **values)
    reply = parse_search_reply(result.stdout)
    body, status = reply.body, reply.status
    if status is SearchStatus.BADREGEX:  # only this message decodes the (maybe large) body
        raise ToolError(f"regex parse error: {decode_text(body).strip()}")
    shown = path if path else target
    if isinstance(status, Refused):
        raise refusal_error(status, path=shown, state=state, access="grep")
    if status is SearchStatus.SPECIAL:
        raise ToolError(
            f"Cannot search '{shown}': it is a FIFO, socket or device, not a regular "
            "file or directory; reading it could block or never end."
        )
    if status not in (SearchStatus.DIR, SearchStatus.FILE):
        raise unexpected_reply("Grep", result)
    if backend == "rg":
        _raise_rg_error(result.stderr, body)
    if backend == "busybox" and mode == "content" and status is SearchStatus.DIR:
        body = _busybox_records(body)
    view = GrepView(
        root=target if status is SearchStatus.DIR else (parent or "/"),
        cwd=cwd,
        single=status is SearchStatus.FILE,
        req=req,
        sep=sep.encode(),
        fix_columns=backend != "rg",
        dropped=getattr(result, "dropped_bytes", 0),
    )
    return view.render(body, backend)


def _fallback_find_args(req: GrepRequest, *, gnu: bool) -> list[str]:
    """find arguments doing what ripgrep's overrides and ``--type`` do."""
    globs = [f"!{vcs}" for vcs in VCS_DIRS] + req.globs
    try:
        matcher = RipgrepGlob(globs)
    except GlobSyntaxError as err:
        raise ToolError(str(err)) from None
    types: tuple[str, ...] = ()
    if req.type:
        if req.type not in RG_TYPES:
            known = ", ".join(sorted(RG_TYPES))
            raise ToolError(
                f"unrecognized file type: {req.type} (the grep fallback knows: {known})"
            )
        types = RG_TYPES[req.type]
    words = find_filter(matcher, types, gnu=gnu, exact=True)
    if words is None:
        raise refuse(
            f"a glob with a directory part ({', '.join(req.globs)}) without GNU find",
            "give that directory as path and a file-name glob such as *.py",
        )
    return words
