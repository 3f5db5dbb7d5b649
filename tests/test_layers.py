"""The layers drawn in docs/explanation/architecture.md hold in the code:
tool routines never touch SSH, and nothing imports a layer above its own.
Parsed with ast (no imports run), so the test needs no sshd."""

from __future__ import annotations

import ast
from pathlib import Path

import remote_mcp

PACKAGE = Path(remote_mcp.__file__).parent

# tools/ keeps Claude Code's semantics; channels, connections and SSH
# libraries belong to the session layer below it.
FORBIDDEN_IN_TOOLS = {"remote_mcp.shell", "remote_mcp.connection", "paramiko", "fabric"}
# The session layer and templates never reach up into tools/ or the server.
SESSION_LAYER = (
    "bash_shell.py",
    "session.py",
    "sftp_put.py",
    "shell/*.py",
    "connection.py",
    "templates.py",
    "fleet.py",
)
FORBIDDEN_IN_SESSION_LAYER = {"remote_mcp.tools", "remote_mcp.server", "mcp"}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved)."""
    package = "remote_mcp" + "".join("." + part for part in path.parent.relative_to(PACKAGE).parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def offenders(files: list[Path], forbidden: set[str]) -> list[str]:
    found = []
    for path in files:
        for name in sorted(imported_modules(path)):
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                found.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    return found


def test_tools_import_nothing_from_ssh_or_the_shell_layer() -> None:
    files = sorted((PACKAGE / "tools").glob("*.py"))
    assert files
    assert offenders(files, FORBIDDEN_IN_TOOLS) == []


def test_session_layer_never_imports_tools_or_the_server() -> None:
    files = [path for name in SESSION_LAYER for path in sorted(PACKAGE.glob(name))]
    assert len(files) > len(SESSION_LAYER)  # the shell/ package is found
    assert offenders(files, FORBIDDEN_IN_SESSION_LAYER) == []


def test_the_import_parser_sees_relative_and_absolute_imports() -> None:
    """The checker itself can fail: a module importing shell is caught."""
    probe = PACKAGE / "tools" / "bash.py"
    assert "remote_mcp.bash_foreground" in imported_modules(probe)
    assert "remote_mcp.errors.ToolError" in imported_modules(probe)
    shell_user = PACKAGE / "session.py"
    assert offenders([shell_user], FORBIDDEN_IN_TOOLS) != []


def test_server_import_leaves_ssh_templates_and_tools_to_the_connect_thread() -> None:
    """Cold start: answering ``initialize`` needs only the protocol and the
    schemas; paramiko, fabric, jinja2 and the tools load in the background."""
    import subprocess
    import sys

    heavy = ["paramiko", "fabric", "invoke", "jinja2", "remote_mcp.tools.base"]
    probe = (
        "import sys, remote_mcp.cli, remote_mcp.server\n"
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert loaded == []
