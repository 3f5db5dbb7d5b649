"""Edit and MultiEdit: Claude Code's exact-string replacement, applied on the remote.

Wording and validation order follow Claude Code (Edit: v2.0.77; MultiEdit,
which v2.0.77 no longer has: v1.0.128). Why the code has this shape:

* **Bytes follow the edit, not the file.** When the remote has python3 or perl,
  the replacement runs there: the command carries the old/new strings (base64)
  and a small program; the reply carries a status, the new hash and the snippet.
  A one-line edit of a 10 MB file moves a few KB.
* **One command per call.** Existence, the read-before-edit rule, the content
  hash precondition, the replacement and the commit (temp file in the same
  directory, renamed over the file or copied into it so the file keeps its
  identity: docs/explanation/file-identity.md) are one remote command
  (``edit.sh.j2``). Without python3/perl the file is fetched, edited locally
  and written back (two commands), under the same precondition.
* **One matching engine.** The functions in the "engine" section below are
  what runs: locally for the fallback, and shipped verbatim (annotations
  stripped, so any python3 >= 3.6 runs them) as the remote python3 program.
  ``edit_perl.sh.j2`` is a line-for-line port for hosts with perl only; the
  tests run the same cases through all three and require identical results.

Matching works on bytes, so every byte outside the replaced text stays as it
was (final newline, mixed line endings, BOM). Claude Code matches on text with
CRLF turned into LF; here each ``\\n`` of old_string matches ``\\r?\\n``, which
finds the same places without rewriting the rest of the file. New text gets
CRLF line endings when the file mostly uses CRLF.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import inspect
import re
import secrets
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..errors import ToolError
from .base import (
    NOT_READ,
    STALE,
    FileRecord,
    Runner,
    ToolOutput,
    ToolState,
    decode_text,
    format_size,
    number_lines,
    require_command,
    run_template,
)
from .guard import check_writable, guard_values, refusal
from .write_errors import backup_path, commit_failure, errno_message

# Edit's local engine sends the new content base64-encoded (edit_upload).
WITHOUT_BASE64_LOCAL = (
    "This host has neither python3 nor perl, so Edit would send the new content "
    "base64-encoded. Read, Grep, Glob, Bash and Upload (which can replace a whole file) still "
    "work."
)

__all__ = ["edit", "multi_edit", "python_program"]

EDIT_MAX_BYTES = 1 << 30  # Claude Code 2.1's cap; the remote engines hold the file in memory
LOCAL_MAX_BYTES = 32 << 20  # the fallback moves the file twice: keep that bounded
SNIPPET_LINE_CHARS = 2000  # snippet lines are cut like Read's (a minified file is one line)
SUMMARY_CHARS = 50  # MultiEdit's "Replaced ..." summary (v1.0.128)
BACKENDS = ("python3", "perl", "local")

SAME = "No changes to make: old_string and new_string are exactly the same."
EXISTS = "Cannot create new file - file already exists."
NOT_FOUND = "String to replace not found in file.\nString: {old}"
MULTIPLE = (
    "Found {count} matches of the string to replace, but replace_all is false. To replace "
    "all occurrences, set replace_all to true. To replace only one occurrence, please provide "
    "more context to uniquely identify the instance.\nString: {old}"
)
CLASH = "Cannot edit file: old_string is a substring of a new_string from a previous edit."
NO_CHANGE = "String not found in file. Failed to apply edit."
IDENTICAL = "Original and edited file match exactly. Failed to apply edit."
NOTEBOOK = "File is a Jupyter Notebook. Use the NotebookEdit to edit this file."


# ---------------------------------------------------------------------------
# Engine: pure functions over bytes. They are ALSO the remote python3 program
# (see _python_program), so they must stay Python 3.6 compatible once their
# annotations are stripped: no f-strings, no walrus, no 3.7+ library calls.
# edit_perl.sh.j2 mirrors them; change both together.
#
# Reply words: ok REPLACED (FIRST_LINE HEX | -) | notutf8 OFFSET | clash I |
# exists I | notfound I | multiple I COUNT LINE,LINE,... | nochange I | identical
# ---------------------------------------------------------------------------
_QUOTE_GROUPS = (
    (b"'", b"\xe2\x80\x98", b"\xe2\x80\x99"),  # ' and its curly forms
    (b'"', b"\xe2\x80\x9c", b"\xe2\x80\x9d"),  # " and its curly forms
)
_CONTEXT_LINES = 4  # Claude Code's snippet context (HN2, G=4)
_SNIPPET_LINE_BYTES = SNIPPET_LINE_CHARS * 4  # enough bytes for 2000 UTF-8 characters
_LINES_SHOWN = 20  # match line numbers reported for "multiple"
_BLANK = b" \t\n\r\x0b\x0c"  # what counts as a blank file (old_string "" may replace it)
_REFUSED_EXIT = 10  # the remote program's exit status for "refused, nothing written"


def _utf8_error(data: bytes) -> int:
    """Offset of the first byte that is not well-formed UTF-8, or -1."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return -1


def _literal(chunk: bytes) -> bytes:
    """Regex source matching ``chunk`` as Claude Code matches on LF-normalised
    text: LF also matches CRLF, and a lone CR never eats the LF of a CRLF.
    Only ASCII letters/digits stay bare; every other byte becomes ``\\xHH``, a
    form Python's ``re`` and Perl read identically."""
    out = []
    for byte in bytearray(chunk):
        if byte == 10:
            out.append(b"\\r?\\n")
        elif byte == 13:
            out.append(b"\\r(?!\\n)")
        elif 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122:
            out.append(bytes(bytearray([byte])))
        else:
            out.append(f"\\x{byte:02x}".encode("ascii"))
    return b"".join(out)


def _pattern(old: bytes, fold_quotes: bool) -> bytes:
    """Regex source for ``old``; with ``fold_quotes`` a straight or curly quote
    matches any quote of its kind (Claude Code's quote normalisation)."""
    out = []
    i = 0
    while i < len(old):
        group = None
        width = 1
        if fold_quotes:
            for quotes in _QUOTE_GROUPS:
                for quote in quotes:
                    if group is None and old.startswith(quote, i):
                        group = quotes
                        width = len(quote)
        if group is None:
            out.append(_literal(old[i : i + 1]))
        else:
            out.append(b"(?:" + b"|".join(_literal(q) for q in group) + b")")
        i += width
    return b"".join(out)


def _find(data: bytes, regex: Any) -> tuple[int, int, list[int]]:
    """(number of matches, offset of the first, line numbers of the first few)."""
    count = 0
    first = -1
    line = 1
    last = 0
    lines: list[int] = []
    for match in regex.finditer(data):
        count += 1
        if first < 0:
            first = match.start()
        if len(lines) < _LINES_SHOWN:
            line += data.count(b"\n", last, match.start())
            last = match.start()
            lines.append(line)
    return count, first, lines


def _snippet(content: bytes, start: int, new_lines: int) -> str:
    """``FIRST_LINE HEX``: the lines around an edit at byte ``start``, as Claude
    Code picks them (4 before, the new text, 4 after; split like JS
    ``split(/\\r?\\n/)``, so a final newline shows as an empty last line)."""
    line = content.count(b"\n", 0, start)
    first = max(0, line - _CONTEXT_LINES)
    wanted = line + _CONTEXT_LINES + new_lines - first
    cut = content.rfind(b"\n", 0, start)
    for _ in range(line - first):
        cut = content.rfind(b"\n", 0, cut)
    pos = cut + 1
    lines: list[bytes] = []
    while len(lines) < wanted:
        end = content.find(b"\n", pos)
        if end < 0:
            lines.append(content[pos:][:_SNIPPET_LINE_BYTES])
            break
        piece = content[pos:end]
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        lines.append(piece[:_SNIPPET_LINE_BYTES])
        pos = end + 1
    text = b"\n".join(lines).hex()
    return f"{first + 1} {text}"


def _apply_edits(
    data: bytes, edits: list[tuple[bytes, bytes, bool, bool]]
) -> tuple[bytes | None, str]:
    """Apply ``(old, new, replace_all, clash)`` edits in order, all or none.

    Returns (new content, reply) or (None, refusal reply). ``clash`` is
    precomputed by the caller: old_string occurs in an earlier new_string.
    """
    bad = _utf8_error(data)
    if bad >= 0:
        return None, f"notutf8 {bad}"
    crlf = data.count(b"\r\n") * 2 > data.count(b"\n")
    current = data
    replaced = 0
    first = 0
    for index, (old, new, replace_all, clash) in enumerate(edits):
        if clash:
            return None, f"clash {index}"
        old = old.replace(b"\r\n", b"\n")
        styled = new
        if crlf:
            styled = new.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        before = current
        if not old:
            if current.strip(_BLANK):
                return None, f"exists {index}"
            current = styled
            first = 0
            count = 1
        else:
            regex = re.compile(_pattern(old, False))
            count, first, lines = _find(current, regex)
            if count == 0:
                match = re.compile(_pattern(old, True)).search(current)
                if match is None:
                    return None, f"notfound {index}"
                actual = current[match.start() : match.end()].replace(b"\r\n", b"\n")
                regex = re.compile(_pattern(actual, False))
                count, first, lines = _find(current, regex)
            if count > 1 and not replace_all:
                return None, f"multiple {index} {count} {','.join(map(str, lines))}"
            if not new and not old.endswith(b"\n"):
                # Deleting text also deletes the line break right after it.
                regex = re.compile(regex.pattern + b"(?:\\r?\\n)?")
            if replace_all:
                # Only backslashes are special in a re replacement: escaped, it is literal.
                current = regex.sub(styled.replace(b"\\", b"\\\\"), current)
            else:
                match = regex.search(current, first)
                assert match is not None  # the same text matched a moment ago
                current = current[: match.start()] + styled + current[match.end() :]
                count = 1
        if current == before:
            return None, f"nochange {index}"
        replaced += count
    if current == data:
        return None, "identical"
    snippet = "-"
    if len(edits) == 1 and not edits[0][2]:
        snippet = _snippet(current, first, edits[0][1].replace(b"\r\n", b"\n").count(b"\n") + 1)
    return current, f"ok {replaced} {snippet}"


def _remote_main() -> None:
    """The remote program's entry: argv = file to read, temp file to write;
    stdin = the request (count, then old/new base64 and flags per edit)."""
    fields = sys.stdin.buffer.read().split(b"\n")
    edits = []
    for i in range(int(fields[0])):
        old, new, flags = fields[1 + 3 * i : 4 + 3 * i]
        edits.append(
            (base64.b64decode(old), base64.b64decode(new), flags[:1] == b"1", flags[1:2] == b"1")
        )
    with open(sys.argv[1], "rb") as source:
        data = source.read()
    result, reply = _apply_edits(data, edits)
    if result is not None:
        with open(sys.argv[2], "wb") as target:
            target.write(result)
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
    sys.exit(0 if result is not None else _REFUSED_EXIT)


_ENGINE_CONSTANTS = (
    "_QUOTE_GROUPS",
    "_CONTEXT_LINES",
    "_SNIPPET_LINE_BYTES",
    "_LINES_SHOWN",
    "_BLANK",
    "_REFUSED_EXIT",
)
_ENGINE_FUNCTIONS = (_utf8_error, _literal, _pattern, _find, _snippet, _apply_edits, _remote_main)
# --------------------------------------------------------------------------- end of engine


class _StripAnnotations(ast.NodeTransformer):
    """Drop annotations and docstrings: ``bytes | None`` is a TypeError before
    Python 3.10, and docstrings are bytes on the wire."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                arg.annotation = None
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            node.body = body[1:] or [ast.Pass()]
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


@cache
def python_program() -> str:
    """The remote python3 program: the engine above, verbatim minus annotations."""
    parts = ["import base64, re, sys"]
    parts += [f"{name} = {globals()[name]!r}" for name in _ENGINE_CONSTANTS]
    for function in _ENGINE_FUNCTIONS:
        tree = _StripAnnotations().visit(ast.parse(textwrap.dedent(inspect.getsource(function))))
        parts.append(ast.unparse(ast.fix_missing_locations(tree)))
    parts.append("_remote_main()")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------
# The tools
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Edit:
    old: str
    new: str
    replace_all: bool


def edit(
    runner: Runner,
    file_path: str,
    old_string: str,
    new_string: str,
    replace_all: bool = False,
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    """Claude Code's Edit: replace one exact occurrence (or all) of old_string."""
    state = state if state is not None else ToolState()
    check_writable(state, "Edit")
    change = _Edit(old_string, new_string, replace_all)
    done = _run(runner, state, file_path, [change], lambda _i: "")
    snippet = done.pop("snippet")
    if replace_all:
        text = (
            f"The file {file_path} has been updated. All occurrences of '{old_string}' were "
            f"successfully replaced with '{new_string}'."
        )
    else:
        text = (
            f"The file {file_path} has been updated. Here's the result of running `cat -n` on "
            f"a snippet of the edited file:\n{snippet}"
        )
    return ToolOutput(text, structured=done)


def multi_edit(
    runner: Runner,
    file_path: str,
    edits: Sequence[dict[str, Any]],
    *,
    state: ToolState | None = None,
) -> ToolOutput:
    """MultiEdit (v1.0.128): edits applied in order to one file, all or nothing.

    A failing edit is named ``"Edit I of N: "`` before Claude Code's message,
    so the agent knows which one to fix; the file is then unchanged.
    """
    state = state if state is not None else ToolState()
    check_writable(state, "MultiEdit")
    if not edits:
        raise ToolError("At least one edit is required")
    changes = [
        _Edit(str(e["old_string"]), str(e["new_string"]), bool(e.get("replace_all", False)))
        for e in edits
    ]
    done = _run(runner, state, file_path, changes, lambda i: f"Edit {i + 1} of {len(changes)}: ")
    done.pop("snippet", None)
    summary = "\n".join(
        f'{n}. Replaced "{_cut(c.old)}" with "{_cut(c.new)}"' for n, c in enumerate(changes, 1)
    )
    count = len(changes)
    text = f"Applied {count} edit{'' if count == 1 else 's'} to {file_path}:\n{summary}"
    return ToolOutput(text, structured=done)


def _cut(text: str) -> str:
    return text[:SUMMARY_CHARS] + ("..." if len(text) > SUMMARY_CHARS else "")


def _run(
    runner: Runner,
    state: ToolState,
    file_path: str,
    changes: list[_Edit],
    label: Callable[[int], str],
) -> dict[str, Any]:
    """Validate in Claude Code's order, run the edit remotely (or via the
    fallback), remember the new file state, return facts for the output."""
    for i, change in enumerate(changes):
        if change.old == change.new:
            raise ToolError(label(i) + SAME)
    path = state.resolve(file_path, runner)
    encoded = _encode(changes, label)
    backend = _backend(state, runner)
    record = state.files.get(path)
    create = changes[0].old == ""
    values: dict[str, Any] = {
        "path": path,
        # Creating needs no Read: the engine refuses unless the file is missing or blank.
        "expect": "any" if create else record if record is not None else "absent",
        "create": int(create),
        "notebook": int(path.lower().endswith(".ipynb")),
        "max_size": LOCAL_MAX_BYTES if backend == "local" else EDIT_MAX_BYTES,
        "token": "RMCP_EOF_" + secrets.token_hex(12),
        **guard_values(state),
    }
    if backend == "local":
        require_command(state, runner, "Edit", "base64", WITHOUT_BASE64_LOCAL)
        reply, done = _edit_locally(runner, values, encoded, file_path, state)
    else:
        result = run_template(
            runner, "edit.sh.j2", engine=backend, program=python_program(), edits=encoded,
            refused=_REFUSED_EXIT, **values,
        )  # fmt: skip
        if _too_old(result.stdout, result.stderr, backend, state):
            return _run(runner, state, file_path, changes, label)
        lines = _reply_lines(result.exited, result.stdout, result.stderr, file_path, state)
        reply, done = lines[0], lines[1] if len(lines) > 1 else ""
    facts = _interpret(reply, changes, label, file_path, state, backend)
    backup = backup_path(path, values["token"])
    sha256, size, mtime = _committed(done, file_path, state, backup)
    state.files[path] = FileRecord(sha256, mtime, size)
    facts.update(path=path, backend=backend, sha256=sha256, size=size)
    return facts


def _encode(changes: list[_Edit], label: Callable[[int], str]) -> list[dict[str, Any]]:
    """UTF-8 bytes per edit, plus v1.0.128's "old_string inside an earlier
    new_string" flag (pure string logic, so it is decided here once)."""
    encoded = []
    for i, change in enumerate(changes):
        try:
            old, new = change.old.encode("utf-8"), change.new.encode("utf-8")
        except UnicodeEncodeError:
            raise ToolError(
                label(i) + "old_string or new_string contains a lone surrogate, which is not "
                "text that can be written as UTF-8. Nothing was changed."
            ) from None
        trimmed = change.old.rstrip("\n")
        clash = bool(trimmed) and any(trimmed in prev.new for prev in changes[:i])
        encoded.append(
            {"old": old, "new": new, "replace_all": int(change.replace_all), "clash": int(clash)}
        )
    return encoded


def _backend(state: ToolState, runner: Runner) -> str:
    """python3, else perl, else the local fallback; ``edit_backend`` overrides."""
    chosen = state.backends.get("edit", "auto")
    if chosen in BACKENDS:
        return chosen
    has = state.remote_info(runner).has - state.extra.get("edit_unusable", frozenset())
    return "python3" if "python3" in has else "perl" if "perl" in has else "local"


def _too_old(stdout: str, stderr: str, backend: str, state: ToolState) -> bool:
    """A python3 older than 3.6 rejects the program at compile time, before it
    touches any file: in auto mode, stop using it (for this session) and let
    the caller retry with the next engine."""
    if backend != "python3" or state.backends.get("edit", "auto") in BACKENDS:
        return False
    if not stdout.startswith("crashed ") or "SyntaxError" not in stderr:
        return False
    state.extra["edit_unusable"] = frozenset({"python3"})
    return True


def _edit_locally(
    runner: Runner,
    values: dict[str, Any],
    encoded: list[dict[str, Any]],
    file_path: str,
    state: ToolState,
) -> tuple[str, str]:
    """Fallback: fetch the file (command 1), run the same engine here, write
    it back (command 2) only if its hash is still the one we edited."""
    fetched = run_template(runner, "edit.sh.j2", engine="fetch", **values)
    raw = fetched.stdout.encode("utf-8", "surrogateescape")
    header, _, body = raw.partition(b"\n")
    word, *fields = header.decode("ascii", "replace").split(" ")
    if fetched.exited != 0 or word != "content":
        _reply_lines(fetched.exited, fetched.stdout, fetched.stderr, file_path, state)
        raise ToolError(f"Unexpected reply from the remote while editing {file_path}: {header!r}")
    size, missing = int(fields[0]), fields[1] == "1"
    data = body[:size]
    if len(data) != size:
        raise ToolError(f"The copy of {file_path} arrived incomplete; nothing was changed.")
    edits = [(e["old"], e["new"], bool(e["replace_all"]), bool(e["clash"])) for e in encoded]
    content, reply = _apply_edits(data, edits)
    if content is None:
        return reply, ""
    # Write back only over exactly what was edited (or onto a still-missing path).
    expect = "absent" if missing else FileRecord(hashlib.sha256(data).hexdigest(), "", size)
    written = run_template(
        runner, "edit.sh.j2", **{**values, "engine": "upload", "expect": expect},
        content=content, refused=_REFUSED_EXIT,
    )  # fmt: skip
    backup = backup_path(values["path"], values["token"])
    lines = _reply_lines(written.exited, written.stdout, written.stderr, file_path, state, backup)
    return reply, lines[0]


def _reply_lines(
    exited: int, stdout: str, stderr: str, file_path: str, state: ToolState, backup: str = ""
) -> list[str]:
    """The template's reply lines; guard refusals become Claude Code's errors."""
    lines = stdout.splitlines()
    if exited != 0 or not lines:
        raise ToolError(
            f"Remote command for {file_path} failed (exit {exited}): {stderr.strip()[-500:]}"
        )
    _raise_for_guard(lines[0], file_path, state, stderr, backup)
    return lines


def _raise_for_guard(
    line: str, file_path: str, state: ToolState, stderr: str = "", backup: str = ""
) -> None:
    word, _, arg = line.partition(" ")
    if word == "refused":
        raise refusal(state, file_path, arg)
    if word == "missing":
        msg = "File does not exist."
        if state.cwd and state.info and state.cwd != state.info.home:
            msg += f" Current working directory: {state.cwd}"
        raise ToolError(msg)
    simple = {
        "notread": NOT_READ,
        "stale": STALE,
        "notebook": NOTEBOOK,
        "isdir": f"EISDIR: illegal operation on a directory, read '{file_path}'",
        "unreadable": f"EACCES: permission denied, open '{file_path}'",
        "notregular": f"Cannot edit {file_path}: it is not a regular file.",
        "badlink": f"Cannot resolve the symbolic link {file_path} on the remote.",
        "mkdir": f"Cannot create the parent directory of {file_path} on the remote.",
    }
    if word in simple:
        raise ToolError(simple[word])
    failure = commit_failure(line, file_path, backup)
    if failure is not None:
        raise ToolError(failure)
    if word == "toolarge":
        size, limit = (int(n) for n in arg.split(" "))
        where = "" if limit == EDIT_MAX_BYTES else " without python3 or perl on the remote"
        raise ToolError(
            f"File is too large to edit ({format_size(size)}; the limit{where} is "
            f"{format_size(limit)}). Use Bash (for example sed -i) to change this file."
        )
    if word == "crashed":
        full = errno_message(stderr, file_path)  # the engine could not write its temp file
        if full is not None:
            raise ToolError(full)
        raise ToolError(
            f"The edit program failed on the remote (exit {arg}): {stderr.strip()[-500:]}\n"
            "Nothing was written. Setting edit_backend to local in the remote-mcp config "
            "edits without it."
        )


def _interpret(
    reply: str,
    changes: list[_Edit],
    label: Callable[[int], str],
    file_path: str,
    state: ToolState,
    backend: str,
) -> dict[str, Any]:
    """The engine's reply word -> Claude Code's message, or the success facts."""
    word, *args = reply.split(" ")
    if word == "ok":
        facts: dict[str, Any] = {"replacements": int(args[0]), "snippet": None}
        if args[1] != "-":
            raw = bytes.fromhex(args[2] if len(args) > 2 else "")
            lines = [line[:SNIPPET_LINE_CHARS] for line in decode_text(raw).split("\n")]
            # addLineNumbers returns "" for empty content (a file edited down to nothing).
            facts["snippet"] = number_lines(lines, int(args[1])) if raw else ""
        return facts
    if word == "notutf8":
        raise ToolError(
            f"Cannot edit {file_path}: it is not valid UTF-8 text (the first invalid byte is at "
            f"offset {args[0]}). Edit changes only UTF-8 text, so nothing was written; use Bash "
            "(for example iconv, or sed) to change this file."
        )
    if word == "identical":
        raise ToolError(IDENTICAL)
    if word in ("clash", "exists", "notfound", "multiple", "nochange"):
        index = int(args[0])
        old = changes[index].old
        messages = {
            "clash": CLASH,
            "exists": EXISTS,
            "notfound": NOT_FOUND.format(old=old),
            "nochange": NO_CHANGE,
        }
        if word == "multiple":
            count, where = int(args[1]), [int(n) for n in args[2].split(",")]
            message = MULTIPLE.format(count=count, old=old) + _match_lines(count, where)
        else:
            message = messages[word]
        raise ToolError(label(index) + message)
    _raise_for_guard(reply, file_path, state)
    raise ToolError(f"Unexpected reply from the {backend} edit on the remote: {reply[:200]!r}")


def _match_lines(count: int, lines: list[int]) -> str:
    """Where the matches are: the agent can add context without a Read."""
    shown = ", ".join(str(n) for n in dict.fromkeys(lines))
    more = f", ... ({count - len(lines)} more)" if count > len(lines) else ""
    return f"\nMatches at lines: {shown}{more}"


def _committed(done: str, file_path: str, state: ToolState, backup: str) -> tuple[str, int, str]:
    """Parse ``done SHA256 SIZE MTIME``; anything else is the commit's refusal."""
    word, _, rest = done.partition(" ")
    if word != "done":
        _raise_for_guard(done, file_path, state, backup=backup)
        raise ToolError(f"Unexpected reply from the remote while editing {file_path}: {done!r}")
    sha256, size, mtime = rest.split(" ", 2)
    return sha256, int(size), mtime
