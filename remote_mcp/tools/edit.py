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
* **One matching engine.** ``shell_templates/engines/edit.py`` is the remote
  python3 program (any python3 >= 3.6; it also checks the precondition and
  commits, hashing each content once) and, imported here, the local
  fallback's engine. ``engines/edit.pl`` is a line-for-line port for hosts
  with perl only; the tests run the same cases through all of them and
  require identical results.

Matching works on bytes, so every byte outside the replaced text stays as it
was (final newline, mixed line endings, BOM). Claude Code matches on text with
CRLF turned into LF; here each ``\\n`` of old_string matches ``\\r?\\n``, which
finds the same places without rewriting the rest of the file. New text gets
CRLF line endings when the file mostly uses CRLF.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from invoke.runners import Result

from ..errors import ToolError
from ..schemas import EditOperation
from ..templates import engine_source, render
from .base import (
    HASH_MAX_BYTES,
    FileRecord,
    Runner,
    ToolOutput,
    ToolState,
    as_models,
    decode_text,
    format_size,
    number_lines,
    require_command,
    run_template,
)
from .edit_replies import (
    Committed,
    EngineWord,
    parse_committed,
    parse_engine_reply,
    parse_fetched,
)
from .guard import check_writable, guard_values
from .refusals import backup_path, errno_message, parse_refusal, refusal_error

# Edit's local engine sends the new content base64-encoded (edit.sh.j2's upload half).
WITHOUT_BASE64_LOCAL = (
    "This host has neither python3 nor perl, so Edit would send the new content "
    "base64-encoded. Read, Grep, Glob, Bash and Upload (which can replace a whole file) still "
    "work."
)

__all__ = [
    "REFUSED_EXIT",
    "choose_backend",
    "edit",
    "engine",
    "multi_edit",
    "packed",
    "perl_program",
    "python3_too_old",
    "python_program",
    "resident_program",
    "run_engine_template",
    "write_program",
]

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


REFUSED_EXIT = 10  # the engines' exit status for "refused, nothing written"


@cache
def engine() -> ModuleType:
    """The python3 engine (shell_templates/engines/edit.py), imported: the
    local fallback runs its matching functions here, on the fetched bytes."""
    module = ModuleType("remote_mcp_edit_engine")
    exec(compile(engine_source("edit.py"), "engines/edit.py", "exec"), module.__dict__)
    return module


@cache
def python_program() -> str:
    """The engine as sent to the remote for Edit: ``main`` and the functions it
    calls, docstrings and comments dropped, the code itself unchanged."""
    return _program("main")


@cache
def write_program() -> str:
    """The engine as sent to the remote for Write: ``write_main`` and the
    functions it calls."""
    return _program("write_main")


@cache
def resident_program() -> str:
    """The engine as a worker shell's resident engine runs it (serve, and the
    Edit and Write requests it is sent): ``engine_main`` and what it calls."""
    return packed(_program("engine_main"))


def run_engine_template(
    runner: Runner, state: ToolState, name: str, program: str, /, **values: Any
) -> Result:
    """Run ``write.sh.j2`` or ``edit.sh.j2`` with the python3 engine: in the
    worker shell's resident engine (_engine_call.sh.j2), unless this session
    found the host cannot keep one, or the runner is not one that keeps
    engines (``resident_engines``: a Session; a plain fabric Connection
    has no worker shells); then python3 runs ``program`` once for the call."""
    if getattr(runner, "resident_engines", False) and not state.extra.get("no_resident"):
        command = render(name, resident=True, engine_key=ENGINE_KEY, program="", **values)
        result = runner.run(command, hide=True, warn=True, engine=resident_program())
        if "rmcp_noresident " in result.stderr or result.stdout == "noengine\n":
            state.extra["no_resident"] = True
        if result.stdout != "noengine\n":
            return result
    return run_template(runner, name, resident=False, program=program, **values)


# This server's name for its resident engines' directories on the remote.
ENGINE_KEY = "e" + secrets.token_hex(8)


@cache
def packed(program: str) -> str:
    """``program`` as python3 is given it: a one-line loader of its
    zlib-compressed text. The remote shell reads a command a byte at a time
    (about a microsecond each), so sending 13 KB of source costs more there
    than inflating 5 KB (zlib is built into python3)."""
    blob = base64.b64encode(zlib.compress(program.encode("utf-8"), 9)).decode("ascii")
    return f'import zlib,binascii;exec(zlib.decompress(binascii.a2b_base64("{blob}")))'


def _program(entry: str) -> str:
    """engines/edit.py run as ``entry(sys.argv[1:], stdin, stdout)``, without
    docstrings, comment lines (bytes on the wire) or functions ``entry``
    never calls: python3 compiles the text it is given on every call (~4 ms
    for the whole engine), so less text is a faster call. Cut by lines, not
    through ast (parsing and unparsing cost tens of milliseconds, paid
    before a session's first Edit or Write); the engine file keeps to the
    layout this needs: ``def NAME(...):`` on one line at the left margin,
    docstrings opening a line with triple double quotes."""
    blocks = _engine_blocks()
    needed: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            text = blocks[f"def {name}"]
            todo += [word for word in _WORD.findall(text) if f"def {word}" in blocks]
    kept = [text for key, text in blocks.items() if not key.startswith("def ") or key[4:] in needed]
    kept.append(f"status = {entry}(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer)\n")
    return "".join(kept) + "sys.stdout.flush()\nsys.exit(status)\n"


_WORD = re.compile(r"[A-Za-z_]\w*")


@cache
def _engine_blocks() -> dict[str, str]:
    """engines/edit.py in top-level pieces, in order, each without docstrings,
    comment lines or blank lines: a function's under ``def NAME``, anything
    else under ``#LINE``; the ``if __name__`` block is left out."""
    blocks: dict[str, str] = {}
    key = "#0"
    in_doc = skip = False
    for number, line in enumerate(engine_source("edit.py").splitlines(keepends=True)):
        stripped = line.strip()
        if in_doc or (stripped.startswith('"""') and not key.startswith("#")) or number == 0:
            closes = stripped.endswith('"""') and (in_doc or len(stripped) >= 6)
            in_doc = not closes
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace() and line[0] not in ")]}":
            skip = line.startswith("if __name__")
            name = _DEF.match(line)
            key = f"def {name.group(1)}" if name else f"#{number}"
        if not skip:
            blocks[key] = blocks.get(key, "") + line
    return blocks


_DEF = re.compile(r"def (\w+)\(")


@cache
def perl_program() -> str:
    """The perl engine (shell_templates/engines/edit.pl), for hosts without
    python3, as sent: comment and blank lines and indentation dropped, a
    third of its bytes (perl-base has no zlib to inflate a packed program
    with, as python3's is)."""
    lines = engine_source("edit.pl").splitlines(keepends=True)
    return "".join(line.lstrip() for line in lines if not line.lstrip().startswith("#"))


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
    edits: Sequence[EditOperation | Mapping[str, Any]],
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
    ops = as_models(EditOperation, edits)
    changes = [_Edit(e.old_string, e.new_string, e.replace_all) for e in ops]
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
    backend = choose_backend(state, runner)
    record = state.files.get(path)
    create = changes[0].old == ""
    # An engine (python3, perl) checks the record on the file it opens; else the shell does.
    engine_checks = backend != "local" and record is not None and not create
    values: dict[str, Any] = {
        "path": path,
        # Creating needs no Read: the engine refuses unless the file is missing or blank.
        "expect": "any" if create or engine_checks else record if record is not None else "absent",
        "engine_expect": record if engine_checks else "any",
        "hash_max": HASH_MAX_BYTES,
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
        if backend == "python3":
            result = run_engine_template(
                runner,
                state,
                "edit.sh.j2",
                packed(python_program()),
                engine=backend,
                edits=encoded,
                refused=REFUSED_EXIT,
                **values,
            )
        else:
            result = run_template(
                runner,
                "edit.sh.j2",
                engine=backend,
                program=perl_program(),
                resident=False,
                edits=encoded,
                refused=REFUSED_EXIT,
                **values,
            )
        if python3_too_old(result.stdout, result.stderr, backend, state):
            return _run(runner, state, file_path, changes, label)
        lines = _reply_lines(result.exited, result.stdout, result.stderr, file_path, state)
        reply, done = lines[0], lines[1] if len(lines) > 1 else ""
    facts = _interpret(reply, changes, label, file_path, state, backend)
    backup = backup_path(path, values["token"])
    new = _committed(done, file_path, state, backup)
    kept = state.files[path] = FileRecord.kept(new.sha256, new.mtime, new.size)
    facts.update(path=path, backend=backend, sha256=kept.sha256, size=new.size)
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


def choose_backend(state: ToolState, runner: Runner) -> str:
    """python3, else perl, else the local fallback; ``edit_backend`` overrides."""
    chosen = state.backends.get("edit", "auto")
    if chosen in BACKENDS:
        return chosen
    has = state.remote_info(runner).has - state.extra.get("edit_unusable", frozenset())
    return "python3" if "python3" in has else "perl" if "perl" in has else "local"


def python3_too_old(stdout: str, stderr: str, backend: str, state: ToolState) -> bool:
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
    copy = parse_fetched(raw) if fetched.exited == 0 else None
    if copy is None:
        _reply_lines(fetched.exited, fetched.stdout, fetched.stderr, file_path, state)
        header = raw.partition(b"\n")[0]
        raise ToolError(f"Unexpected reply from the remote while editing {file_path}: {header!r}")
    data, size, missing = copy.data, copy.size, copy.missing
    if len(data) != size:
        raise ToolError(f"The copy of {file_path} arrived incomplete; nothing was changed.")
    edits = [(e["old"], e["new"], bool(e["replace_all"]), bool(e["clash"])) for e in encoded]
    content, reply = engine().apply_edits(data, edits)
    if content is None:
        return reply, ""
    # Write back only over exactly what was edited (or onto a still-missing path).
    expect = "absent" if missing else FileRecord(hashlib.sha256(data).hexdigest(), "", size)
    written = run_template(
        runner,
        "edit.sh.j2",
        **{**values, "engine": "upload", "expect": expect},
        content=bytes(content),  # (several edits leave a bytearray)
        refused=REFUSED_EXIT,
    )
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
    refused = parse_refusal(line)
    if refused is not None:
        raise refusal_error(refused, path=file_path, state=state, backup=backup)
    word, _, arg = line.partition(" ")
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
    verdict = parse_engine_reply(reply)
    if verdict is None:
        _raise_for_guard(reply, file_path, state)
        raise ToolError(f"Unexpected reply from the {backend} edit on the remote: {reply[:200]!r}")
    word = verdict.word
    if word is EngineWord.OK:
        facts: dict[str, Any] = {"replacements": verdict.replaced, "snippet": None}
        if verdict.first_line is not None:
            raw = verdict.snippet
            lines = [line[:SNIPPET_LINE_CHARS] for line in decode_text(raw).split("\n")]
            # addLineNumbers returns "" for empty content (a file edited down to nothing).
            facts["snippet"] = number_lines(lines, verdict.first_line) if raw else ""
        return facts
    if word is EngineWord.NOT_UTF8:
        raise ToolError(
            f"Cannot edit {file_path}: it is not valid UTF-8 text (the first invalid byte is at "
            f"offset {verdict.offset}). Edit changes only UTF-8 text, so nothing was written; "
            "use Bash (for example iconv, or sed) to change this file."
        )
    if word is EngineWord.IDENTICAL:
        raise ToolError(IDENTICAL)
    index = verdict.index
    old = changes[index].old
    messages = {
        "clash": CLASH,
        "exists": EXISTS,
        "notfound": NOT_FOUND.format(old=old),
        "nochange": NO_CHANGE,
    }
    if word is EngineWord.MULTIPLE:
        count, where = verdict.count, list(verdict.lines)
        message = MULTIPLE.format(count=count, old=old) + _match_lines(count, where)
    else:
        message = messages[word]
    raise ToolError(label(index) + message)


def _match_lines(count: int, lines: list[int]) -> str:
    """Where the matches are: the agent can add context without a Read."""
    shown = ", ".join(str(n) for n in dict.fromkeys(lines))
    more = f", ... ({count - len(lines)} more)" if count > len(lines) else ""
    return f"\nMatches at lines: {shown}{more}"


def _committed(done: str, file_path: str, state: ToolState, backup: str) -> Committed:
    """The commit's ``done`` line; anything else is the commit's refusal."""
    committed = parse_committed(done)
    if committed is None:
        _raise_for_guard(done, file_path, state, backup=backup)
        raise ToolError(f"Unexpected reply from the remote while editing {file_path}: {done!r}")
    return committed
