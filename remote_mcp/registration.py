"""The ``claude mcp add`` line, with a command that exists wherever it runs.

Claude Code starts the server with its own PATH, where a bare ``python`` is
often another interpreter (on Debian the package lives in a venv or a pipx
environment). So the line names an absolute path: the ``remote-mcp`` console
script installed next to this interpreter, else the interpreter itself.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

__all__ = ["mcp_add_line", "server_command"]


def server_command() -> list[str]:
    """Absolute argv that starts remote-mcp with this installation."""
    script = Path(sys.executable).parent / "remote-mcp"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "remote_mcp"]


def mcp_add_line(host: str, config: Path | None = None, name: str | None = None) -> str:
    """The exact line to register ``host`` with Claude Code (user scope)."""
    argv = server_command()
    if config is not None:
        argv += ["--config", str(config)]
    argv += ["--host", host]
    server_name = name or f"remote-{host}"
    return f"claude mcp add --scope user {shlex.quote(server_name)} -- " + " ".join(
        shlex.quote(a) for a in argv
    )
