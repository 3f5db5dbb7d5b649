"""Reference pages read out of the code itself: the CLI (from the argument
parser), every error message (from the ``raise`` sites of errors.py's classes)
and the environment variables (from every ``os.environ`` read).

Error texts are scattered over the modules that raise them, so they are found
by parsing the source rather than kept in a table that could fall behind:
each ``raise SomeError(message)`` is rendered with its f-string holes shown as
``{expression}``. ``remote_mcp.reference`` writes the pages.
"""

from __future__ import annotations

import argparse
import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import errors

__all__ = ["ENV_HELP", "cli_help", "env_reads", "error_sites", "warning_texts"]

PACKAGE = Path(__file__).resolve().parent
ERROR_CLASSES = frozenset(errors.__all__)

# One line per variable the code reads; a test fails when the code reads one
# that is missing here, or when one here is no longer read.
ENV_HELP = {
    "REMOTE_MCP_CONFIG": "config file used when `--config` is not given "
    "(default `~/.config/remote-mcp/config.yaml`)",
    "REMOTE_MCP_FEEDBACK": "file the Feedback tool appends to "
    "(default `$XDG_STATE_HOME/remote-mcp/feedback.jsonl`)",
    "XDG_STATE_HOME": "base of the default Feedback file (default `~/.local/state`)",
    "REMOTE_MCP_SANDBOX_DIR": "where `remote-mcp sandbox` keeps its sshd, keys and config "
    "(default `~/.cache/remote-mcp/sandbox`)",
    "REMOTE_MCP_LOG": "`debug` logs details to stderr, paramiko's included, as `--verbose` does",
    "REMOTE_MCP_SSH_CONFIG": "ssh_config file read instead of `~/.ssh/config` "
    "(`/etc/ssh/ssh_config` is then skipped)",
    "SSH_AUTH_SOCK": "the ssh-agent's socket; when set, the agent's keys are offered too",
}


def cli_help(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    """(command, help text) for the parser and each subcommand, at 80 columns."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal: pin it
    try:
        yield parser.prog, parser.format_help()
        for action in parser._actions:  # argparse has no public walk
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from cli_help(sub)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


@dataclass(frozen=True)
class ErrorSite:
    module: str  # e.g. "tools/files.py"
    line: int
    kind: str  # the errors.py class
    text: str  # the message, f-string holes as {expression}


def _modules() -> list[Path]:
    own = Path(__file__).resolve()
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and p != own)


def _assignments(body: list[ast.stmt]) -> dict[str, ast.expr]:
    """``NAME = <expression>`` statements directly in a body (first one wins):
    messages kept in a constant or a local variable."""
    found: dict[str, ast.expr] = {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id not in found:
                found[target.id] = node.value
    return found


def _text(node: ast.expr, names: dict[str, ast.expr], depth: int = 0) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append("{" + ast.unparse(value.value) + "}")
            else:
                parts.append(_text(value, names, depth))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, names, depth) + _text(node.right, names, depth)
    if isinstance(node, ast.Name) and node.id in names and depth < 3:
        return _text(names[node.id], names, depth + 1)
    return "{" + ast.unparse(node) + "}"


def _raised_class(node: ast.Raise | ast.Return) -> tuple[str, ast.Call] | None:
    call = node.exc if isinstance(node, ast.Raise) else node.value
    if isinstance(call, ast.Call):
        func = call.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ERROR_CLASSES:
            return name, call
    return None


def _table(node: ast.expr | None) -> list[tuple[str, ast.expr]] | None:
    """A message table: a dict literal from words to string messages."""
    if not isinstance(node, ast.Dict) or not node.keys:
        return None
    rows = []
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        rows.append((key.value, value))
    return rows


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | None]:
    yield None  # module level
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            yield node


def error_sites() -> list[ErrorSite]:
    """Every message a ``raise`` (or a translating ``return``) of an errors.py class
    in the package can carry,
    message tables (``raise ToolError(table[word])``) expanded row by row."""
    global_names: dict[str, ast.expr] = {}
    trees = {path: ast.parse(path.read_text(), str(path)) for path in _modules()}
    for tree in trees.values():
        for name, value in _assignments(tree.body).items():
            if name.isupper():
                global_names.setdefault(name, value)
    sites = []
    for path, tree in trees.items():
        rel = path.relative_to(PACKAGE).as_posix()
        module_names = {**global_names, **_assignments(tree.body)}
        table_params: dict[str, tuple[int, str]] = {}  # function -> (arg index, class)
        for func in _functions(tree):
            body = tree.body if func is None else func.body
            names = module_names if func is None else {**module_names, **_assignments(body)}
            params = [] if func is None else [a.arg for a in func.args.args]
            for node in ast.walk(func) if func else iter(body):
                if not isinstance(node, ast.Raise | ast.Return):
                    continue
                if (raised := _raised_class(node)) is None:
                    continue
                kind, call = raised
                message = call.args[0] if call.args else None
                if isinstance(message, ast.Subscript) and isinstance(message.value, ast.Name):
                    table = _table(names.get(message.value.id))
                    if table is not None:
                        for word, value in table:
                            text = f"[{word}] " + _text(value, names)
                            sites.append(ErrorSite(rel, value.lineno, kind, text))
                        continue
                    if func is not None and message.value.id in params:
                        table_params[func.name] = (params.index(message.value.id), kind)
                        continue
                text = _text(message, names) if message is not None else ""
                sites.append(ErrorSite(rel, node.lineno, kind, text))
        for node in ast.walk(tree):  # tables passed to a function that raises from them
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in table_params:
                    index, kind = table_params[node.func.id]
                    table = _table(node.args[index] if len(node.args) > index else None)
                    for word, value in table or []:
                        text = f"[{word}] " + _text(value, module_names)
                        sites.append(ErrorSite(rel, value.lineno, kind, text))
    return sorted(set(sites), key=lambda s: (s.module, s.line, s.text))  # nested defs: once


def warning_texts() -> list[tuple[str, str]]:
    """(module, text) of every string that starts with "[WARNING]": the notes a
    tool result can start with."""
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr | ast.Constant):
                text = _text(node, {})
                if text.startswith("[WARNING]"):
                    found.append((path.relative_to(PACKAGE).as_posix(), text))
    # A string inside an f-string is found twice: keep the whole one.
    return [f for f in found if not any(o[1].startswith(f[1]) and o != f for o in found)]


def env_reads() -> dict[str, list[str]]:
    """Variable name -> modules that read it (``os.environ.get/[]/setdefault``)."""
    reads: dict[str, list[str]] = {}
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if ast.unparse(owner) == "os.environ" and node.func.attr in ("get", "setdefault"):
                    key = node.args[0] if node.args else None
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                module = path.relative_to(PACKAGE).as_posix()
                if module not in reads.setdefault(key.value, []):
                    reads[key.value].append(module)
    return dict(sorted(reads.items()))
