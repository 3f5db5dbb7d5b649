"""Feedback: the agent files a note about remote-mcp itself, locally.

No network: the note goes to a private (0600) JSONL file that maintainers can
collect. ``$REMOTE_MCP_FEEDBACK`` overrides the location.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .base import ToolOutput

__all__ = ["feedback", "feedback_path"]


def feedback_path() -> Path:
    override = os.environ.get("REMOTE_MCP_FEEDBACK")
    if override:
        return Path(override)
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state_home) / "remote-mcp" / "feedback.jsonl"


def feedback(message: str, tool: str | None = None, *, host_name: str = "") -> ToolOutput:
    """Append one JSON line; the file and its directory are created private."""
    path = feedback_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": host_name,
        "tool": tool,
        "message": message,
    }
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return ToolOutput(f"Thank you. Feedback recorded in {path}.", structured={"path": str(path)})
