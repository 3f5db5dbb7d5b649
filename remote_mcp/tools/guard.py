"""The host's guards in one place: ``allowed_paths``, ``read_only`` and ``bash``.

Why one module: a guard that each tool applies in its own way is a guard with
as many holes as tools. Here is every rule, its refusal message, and the
description of the mode that tools/list and ``doctor`` show.

* ``allowed_paths`` is enforced ON THE REMOTE by ``shell_templates/_guard.sh.j2``,
  inside the command that uses the path: the path is resolved there (symlinks,
  ``..``, a missing tail kept as written), compared with the allowed roots
  (resolved the same way, in the same command), and the operation then acts
  on the resolved path. A comparison here, on the path as written, would let
  ``allowed/link -> /etc`` through. Templates answer ``refused B64`` and the
  tools turn that into :func:`refusal`.
* ``read_only`` refuses every tool that changes the remote (:data:`MUTATING`)
  before anything is sent; ``bash`` (``auto`` | ``allow`` | ``deny``) says
  whether the shell tools exist at all (``auto``: not on a read_only host).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from ..config import HostConfig
from ..errors import ToolError
from ..host_settings import bash_allowed

if TYPE_CHECKING:  # the server imports guard at start-up; tools.base loads later
    from .base import ToolState

__all__ = [
    "BASH_TOOLS",
    "MUTATING",
    "bash_allowed",
    "check_bash",
    "check_writable",
    "guard_summary",
    "guard_values",
    "hidden_tools",
    "mode_note",
    "refusal",
]

# Tools that change the remote's files: gone on a read_only host.
MUTATING = ("Write", "Edit", "MultiEdit", "Upload")
# The shell: can change anything the login user can, so it follows `bash`.
BASH_TOOLS = ("Bash", "BashOutput", "KillShell")


def hidden_tools(host: HostConfig) -> frozenset[str]:
    """Tools a server for ``host`` does not offer, because they would only refuse."""
    hidden = set(MUTATING) if host.read_only else set()
    if not bash_allowed(host.read_only, host.bash):
        hidden.update(BASH_TOOLS)
    return frozenset(hidden)


def _roots(allowed: tuple[str, ...]) -> str:
    return ", ".join(allowed)


def mode_note(host: HostConfig) -> str:
    """One sentence for every tool description when a guard is on ("" otherwise),
    so the agent plans with the tools that work."""
    parts = []
    if host.read_only:
        parts.append(f"Host {host.name} is read-only: no tool changes its files")
        if bash_allowed(host.read_only, host.bash):
            parts[-1] += " (Bash is allowed by the config and can change anything)"
    elif not bash_allowed(host.read_only, host.bash):
        parts.append(f"Bash is disabled on host {host.name}")
    if host.allowed_paths:
        parts.append(
            f"only paths under {_roots(host.allowed_paths)} (symlinks resolved on "
            f"{host.name}) are accessible"
        )
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def guard_summary(host: HostConfig) -> str:
    """The host's guard settings in one line, for ``doctor`` and logs."""
    mode = "read-only" if host.read_only else "read-write"
    if bash_allowed(host.read_only, host.bash):
        shell = f"Bash allowed (bash: {host.bash}; the shell can change anything the login "
        shell += "user can)"
    else:
        shell = f"Bash disabled (bash: {host.bash})"
    paths = (
        f"allowed_paths {_roots(host.allowed_paths)} (resolved on the remote)"
        if host.allowed_paths
        else "no allowed_paths (every path the login user can reach)"
    )
    return f"{host.name}: {mode}, {shell}, {paths}."


def check_writable(state: ToolState, tool: str) -> None:
    """Refuse a tool that changes the remote on a read_only host."""
    if state.read_only:
        raise ToolError(
            f"Refused: host {state.host_name} is read_only, so {tool} is not available (no "
            "tool may change it). Set read_only: false for this host in the remote-mcp "
            "config to allow changes."
        )


def check_bash(state: ToolState, tool: str = "Bash") -> None:
    """Refuse the shell tools where the ``bash`` setting (or read_only) turns them off."""
    if bash_allowed(state.read_only, state.bash):
        return
    if state.read_only and state.bash == "auto":
        raise ToolError(
            f"Refused: host {state.host_name} is read_only, so {tool} is not available (a "
            "shell can change anything). Add 'bash: allow' for this host in the remote-mcp "
            "config to run commands anyway; the shell can still change anything the login "
            "user can."
        )
    raise ToolError(
        f"Refused: {tool} is disabled on host {state.host_name} (bash: deny in the "
        "remote-mcp config)."
    )


def guard_values(state: ToolState) -> dict[str, list[str]]:
    """What every path-touching template needs to include ``_guard.sh.j2``."""
    return {"allowed": list(state.allowed_paths)}


def refusal(state: ToolState, shown: str, resolved_b64: str) -> ToolError:
    """The one refusal of ``allowed_paths``: what, what it resolved to, which rule.
    (Returned, not raised: FileStat shows it in a path's row.)"""
    rule = f"allowed_paths ({_roots(state.allowed_paths)}) for host {state.host_name}"
    if resolved_b64 in ("", "-"):
        return ToolError(
            f"Refused: {shown} cannot be resolved on {state.host_name} (a symlink loop, a "
            f"directory that cannot be entered, or '..' below a missing directory), and "
            f"{rule} need every path resolved."
        )
    resolved = base64.b64decode(resolved_b64).decode("utf-8", "surrogateescape")
    if resolved == shown:
        return ToolError(f"Refused: {shown} is outside {rule}.")
    return ToolError(f"Refused: {shown} resolves to {resolved}, outside {rule}.")
