"""FileStat: metadata of many paths in one command, a few bytes each.

``stat.sh.j2`` answers one line per path, numbered as asked;
:func:`parse_stat_reply` reads them into typed rows.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ..errors import ToolError
from .base import Runner, ToolOutput, ToolState, check_exit, run_template
from .guard import guard_values
from .refusals import Refusal, Refused, refusal_error

__all__ = ["PathKind", "StatRow", "file_stat", "parse_stat_reply"]


class PathKind(StrEnum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    FIFO = "fifo"
    SOCKET = "socket"
    DEVICE = "device"
    OTHER = "other"


@dataclass(frozen=True)
class StatRow:
    kind: PathKind
    size: int
    mode: str  # octal permission bits, as stat's %a
    owner: str
    group: str
    mtime: int  # seconds since the epoch
    target: str | None = None  # a symlink's target, as stored
    target_kind: str | None = None  # what the target is ("missing" when dangling)


def parse_stat_reply(stdout: str) -> dict[int, StatRow | Refused | None]:
    """Rows by index: ``I missing`` (None), ``I refused B64`` (the guard's), or
    ``I KIND SIZE MODE USER GROUP MTIME [TARGET_B64 TARGET_KIND]``."""
    rows: dict[int, StatRow | Refused | None] = {}
    for line in stdout.splitlines():
        index, _, rest = line.partition(" ")
        if not index.isdigit():
            continue
        fields = rest.split(" ")
        if fields[0] == Refusal.MISSING:
            rows[int(index)] = None
        elif fields[0] == Refusal.OUTSIDE_GUARD:
            rows[int(index)] = Refused(Refusal.OUTSIDE_GUARD, " ".join(fields[1:]))
        elif len(fields) < 6:
            raise ToolError(f"FileStat: unexpected reply from the remote: {line[:200]!r}")
        else:
            kind, size, mode, user, group, mtime = fields[:6]
            target = target_kind = None
            if kind == PathKind.SYMLINK and len(fields) >= 8:
                target = base64.b64decode(fields[6]).decode("utf-8", "surrogateescape")
                target = target.removesuffix("\n")  # readlink's newline
                target_kind = fields[7]
            rows[int(index)] = StatRow(
                PathKind(kind), int(size), mode, user, group, int(mtime), target, target_kind
            )
    return rows


def file_stat(runner: Runner, paths: list[str], *, state: ToolState | None = None) -> ToolOutput:
    """Metadata of one or many paths in one command (a few bytes each)."""
    state = state if state is not None else ToolState()
    if not paths:
        raise ToolError("paths is empty: give at least one path.")
    resolved = [state.resolve(p, runner) for p in paths]
    result = run_template(runner, "stat.sh.j2", paths=resolved, **guard_values(state))
    check_exit(result.exited, result.stderr, "FileStat")
    rows = parse_stat_reply(result.stdout)
    lines: list[str] = []
    entries: list[dict[str, object]] = []
    for i, (shown, path) in enumerate(zip(paths, resolved, strict=True)):
        row = rows.get(i)
        if isinstance(row, Refused):
            message = str(refusal_error(row, path=shown, state=state))
            entries.append({"path": path, "error": message})
            lines.append(f"{shown}: {message}")
            continue
        entry = _stat_entry(path, row)
        entries.append(entry)
        lines.append(f"{shown}: {_describe(entry)}")
    return ToolOutput("\n".join(lines), structured={"entries": entries})


def _stat_entry(path: str, row: StatRow | None) -> dict[str, object]:
    if row is None:
        return {"path": path, "exists": False}
    entry: dict[str, object] = {
        "path": path,
        "exists": True,
        "type": str(row.kind),
        "size": row.size,
        "mode": "0" + row.mode.zfill(3),
        "owner": row.owner,
        "group": row.group,
        "mtime": datetime.fromtimestamp(row.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if row.target is not None:
        entry["target"] = row.target
        entry["target_type"] = row.target_kind
    return entry


def _describe(entry: dict[str, object]) -> str:
    if not entry["exists"]:
        return "does not exist"
    text = (
        f"{entry['type']}, {entry['size']} bytes, mode {entry['mode']}, "
        f"owner {entry['owner']}:{entry['group']}, modified {entry['mtime']}"
    )
    if entry["type"] == "symlink":
        text += f", -> {entry['target']!r} ({entry['target_type']})"
    return text
