"""Hostile values for templates owned by the tool families (Edit, Glob/Grep,
Bash). Kept beside test_templates.py so each family adds its own entries."""

from __future__ import annotations

from typing import Any

from remote_mcp.templates import render

HOSTILE = "it's $(touch /tmp/remote-mcp-template-canary) `touch /tmp/remote-mcp-template-canary`"

EXTRA_VALUES: dict[str, dict[str, Any]] = {}


def render_extra(name: str, directory: str) -> str:
    values = {
        k: (v.replace("{dir}", directory) if isinstance(v, str) else v)
        for k, v in EXTRA_VALUES[name].items()
    }
    return render(name, **values)
