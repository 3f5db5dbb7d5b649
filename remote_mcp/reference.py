"""Generate the reference pages from the code, so they cannot drift:
``python -m remote_mcp.reference`` rewrites docs/reference/tools.md and
docs/reference/config.md; ``tests/test_docs.py`` fails when they are stale."""

from __future__ import annotations

import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from .config import KEY_HELP, HostConfig
from .schemas import TOOLS, input_schema

__all__ = ["config_reference", "tools_reference"]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "reference"


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type", "")
    if kind == "array":
        return f"array of {_type(prop.get('items', {}))}"
    return str(kind)


def tools_reference() -> str:
    out = [
        "# Tools reference",
        "",
        "Generated from `remote_mcp/schemas.py` by `python -m remote_mcp.reference`; do not",
        "edit by hand. `{host}` is the configured host name.",
        "",
    ]
    for spec in TOOLS.values():
        schema = input_schema(spec)
        hints = [
            name
            for name, on in (
                ("read-only", spec.read_only),
                ("destructive", spec.destructive),
                ("idempotent", spec.idempotent),
                ("open-world", spec.open_world),
            )
            if on
        ]
        out += [
            f"## {spec.name}",
            "",
            spec.description,
            "",
            f"Annotations: {', '.join(hints) or 'none'}.",
            "",
        ]
        out += ["| parameter | type | required | default | description |", "|---|---|---|---|---|"]
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            default = json.dumps(prop["default"]) if "default" in prop else ""
            desc = prop.get("description", "").replace("|", "\\|")
            yes = "yes" if name in required else ""
            out.append(f"| `{name}` | {_type(prop)} | {yes} | {default} | {desc} |")
        out.append("")
    return "\n".join(out)


def config_reference() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from `remote_mcp/config.py` by `python -m remote_mcp.reference`.",
        "",
        "File: `--config PATH`, else `$REMOTE_MCP_CONFIG`, else "
        "`~/.config/remote-mcp/config.yaml`.",
        "Top level: `hosts:` (a mapping of names to the keys below) and `default_host:`.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for f in fields(HostConfig):
        if f.name == "name":
            continue
        if f.default is not MISSING:
            default = json.dumps(f.default if not isinstance(f.default, tuple) else list(f.default))
        else:
            default = "required"
        kind = str(f.type).replace("|", "or")
        out.append(f"| `{f.name}` | `{kind}` | {default} | {KEY_HELP[f.name]} |")
    return "\n".join(out) + "\n"


PAGES = {"tools.md": tools_reference, "config.md": config_reference}


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        (DOCS / name).write_text(make())
        print(f"wrote {DOCS / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
