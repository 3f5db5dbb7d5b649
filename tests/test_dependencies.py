"""Every third-party module remote_mcp/ imports is declared in pyproject.toml:
a dependency that only arrives through another package (pydantic via mcp,
say) disappears the day that package stops needing it. No sshd needed."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import remote_mcp

PACKAGE = Path(remote_mcp.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(root: Path) -> dict[str, str]:
    """Top-level module name -> the first file importing it, for modules outside
    the standard library and remote_mcp (function-level imports included)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "remote_mcp":
                    found.setdefault(top, path.relative_to(root.parent).as_posix())
    return found


def declared_distributions() -> set[str]:
    """``dependencies`` and every extra (an optional import belongs in one)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    deps = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        deps += extra
    return {_normal(re.split(r"[^A-Za-z0-9._-]", dep, maxsplit=1)[0]) for dep in deps}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    providers = importlib.metadata.packages_distributions()
    declared = declared_distributions()
    imports = third_party_imports(PACKAGE)
    assert {"yaml", "pydantic", "paramiko"} <= set(imports)  # the scan sees real imports
    undeclared = [
        f"{module} (imported by {where}; distribution {providers.get(module, ['?'])})"
        for module, where in sorted(imports.items())
        # (a module not installed here, e.g. an optional one, goes by its own name)
        if not declared & {_normal(dist) for dist in providers.get(module, [module])}
    ]
    assert undeclared == [], "add to [project] dependencies in pyproject.toml"


def test_the_check_catches_an_undeclared_import(tmp_path: Path) -> None:
    """The scan itself can fail: a module importing a package nobody declared."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text("def f():\n    import requests.adapters\n")
    assert third_party_imports(package) == {"requests": "pkg/m.py"}
    assert "requests" not in declared_distributions()
