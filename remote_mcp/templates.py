"""Render the POSIX shell snippets in ``shell_templates/``.

Templates are the only place remote-mcp writes shell. Every interpolated value
must pass the ``q`` filter (``shlex.quote``), and ``StrictUndefined`` turns a
misspelt variable into an error instead of an empty string in a command line.
Ad-hoc Fabric scripts use the same templates::

    from fabric import Connection
    from remote_mcp.templates import render
    Connection("myhost").run(render("stat.sh.j2", paths=["/etc/hosts"]))
"""

from __future__ import annotations

import base64
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

__all__ = ["TEMPLATE_DIR", "engine_source", "render", "template_names"]


def _find_template_dir() -> Path:
    here = Path(__file__).resolve().parent
    # Installed wheel: shipped inside the package. Source checkout: top level.
    for candidate in (here / "shell_templates", here.parent / "shell_templates"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"shell_templates not found next to {here}")


TEMPLATE_DIR = _find_template_dir()


def _quote(value: Any) -> str:
    """Shell-quote one value; non-UTF-8 names arrive as surrogate escapes."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, bool) or value is None:
        raise TypeError(f"refusing to shell-quote {value!r}; render it explicitly")
    return shlex.quote(_without_nul(str(value)))


def _without_nul(text: str) -> str:
    if "\0" in text:
        raise ValueError("a NUL byte cannot be passed to the remote shell")
    return text


def _b64(value: str | bytes) -> str:
    """Base64 of a value's bytes: content travels as inert data, never as shell."""
    data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    return base64.b64encode(data).decode("ascii")


def _b64lines(value: str | bytes) -> str:
    """Base64 in 76-column lines, newline-terminated (here-document body)."""
    data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
    return base64.encodebytes(data).decode("ascii")


def _word(value: Any) -> str:
    """A bare identifier (here-document delimiter, sentinel): checked, not quoted."""
    text = str(value)
    if not _WORD.fullmatch(text):
        raise ValueError(f"not a safe shell word: {text!r}")
    return text


def _nbytes(value: str) -> str:
    """How many bytes ``value`` is on the wire (``read -N`` in _frame.sh.j2)."""
    return str(len(value.encode("utf-8", "surrogateescape")))


def _counted(value: str) -> str:
    """Text that the line before it reads as raw bytes (``read -N {{ v|nbytes }}``),
    so the shell never parses it: only the exact count makes that so, and
    ``nbytes`` computes it from the same value."""
    return _without_nul(value)


def _int(value: Any) -> str:
    """An integer for arithmetic contexts; anything else is a bug upstream."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected int, got {value!r}")
    return str(value)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Shipped templates never change under a running server: no stat of
        # each file (and of every include) per render.
        auto_reload=False,
    )
    env.filters["q"] = _quote
    env.filters["b64"] = _b64
    env.filters["b64lines"] = _b64lines
    env.filters["word"] = _word
    env.filters["int"] = _int
    env.filters["nbytes"] = _nbytes
    env.filters["counted"] = _counted
    return env


def render(name: str, /, **values: Any) -> str:
    """Render template ``name`` (e.g. ``"read.sh.j2"``) with ``values``."""
    return _environment().get_template(name).render(**values)


def template_names() -> list[str]:
    """All shipped templates (partials starting with ``_`` included)."""
    return sorted(p.name for p in TEMPLATE_DIR.glob("*.sh.j2"))


def engine_source(name: str) -> str:
    """A program shipped in ``shell_templates/engines/`` (e.g. ``"edit.py"``):
    a real file, so it can be linted and run on its own; templates receive
    its text as a quoted value."""
    return (TEMPLATE_DIR / "engines" / name).read_text(encoding="utf-8")
