"""Tool name -> the routine that runs it, and what a handler gets (``CallEnv``).

Kept out of ``server.py`` so that answering ``initialize`` and ``tools/list``
never waits for the tools, fabric, paramiko or jinja2 to import: the server
imports this module in its background connect thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .call_gate import CallGate
from .config import HostConfig
from .session import Session
from .tools import bash, bash_jobs, edit, feedback, files, search, transfer
from .tools.base import ToolOutput, ToolState
from .tools.transfer import private_local_paths

__all__ = ["HANDLERS", "CallEnv", "Handler", "make_state"]


@dataclass
class CallEnv:
    """What one tool call's handler gets: the session (runner), the shared
    tool state, and hooks for progress and cancellation."""

    session: Session
    state: ToolState
    host: HostConfig
    progress: Callable[[float, str], None] | None = None
    cancel_hooks: list[Callable[[], None]] = field(default_factory=list)
    gate: CallGate = field(default_factory=CallGate)


Handler = Callable[[CallEnv, Any], ToolOutput]


def make_state(host: HostConfig, config_file: str | os.PathLike[str] | None) -> ToolState:
    """A host's fresh tool state: its guards, backends and start directory."""
    return ToolState(
        host_name=host.name,
        cwd=host.cwd,
        read_only=host.read_only,
        allowed_paths=host.allowed_paths,
        bash=host.bash,
        local_paths=host.local_paths,
        private_local=private_local_paths(config_file),
        backends={
            "edit": host.edit_backend,
            "grep": host.grep_backend,
            "find": host.find_backend,
        },
    )


HANDLERS: dict[str, Handler] = {
    "Read": lambda env, a: files.read(env.session, a.file_path, a.offset, a.limit, state=env.state),
    "Write": lambda env, a: files.write(env.session, a.file_path, a.content, state=env.state),
    "MultiRead": lambda env, a: files.multi_read(
        env.session, [f.model_dump() for f in a.files], state=env.state
    ),
    "FileStat": lambda env, a: files.file_stat(env.session, a.paths, state=env.state),
    "Glob": lambda env, a: search.glob(env.session, a.pattern, a.path, state=env.state),
    "Grep": lambda env, a: search.grep(
        env.session,
        a.pattern,
        a.path,
        glob=a.glob,
        type=a.type,
        output_mode=a.output_mode,
        before=a.before,
        after=a.after,
        context=a.context,
        line_numbers=a.line_numbers,
        case_insensitive=a.case_insensitive,
        head_limit=a.head_limit,
        offset=a.offset,
        multiline=a.multiline,
        state=env.state,
    ),
    "Bash": lambda env, a: bash.bash(
        env.session,
        a.command,
        a.timeout,
        a.description,
        bool(a.run_in_background),
        state=env.state,
        progress=env.progress,
        cancel_hooks=env.cancel_hooks,
    ),
    "BashOutput": lambda env, a: bash_jobs.bash_output(
        env.session,
        a.bash_id,
        a.filter,
        bool(a.block),
        a.timeout,
        bool(a.all_sessions),
        state=env.state,
    ),
    "KillShell": lambda env, a: bash_jobs.kill_shell(
        env.session, a.shell_id, bool(a.all_sessions), state=env.state
    ),
    "Edit": lambda env, a: edit.edit(
        env.session, a.file_path, a.old_string, a.new_string, a.replace_all, state=env.state
    ),
    "MultiEdit": lambda env, a: edit.multi_edit(
        env.session, a.file_path, [e.model_dump() for e in a.edits], state=env.state
    ),
    "Feedback": lambda env, a: feedback.feedback(a.message, a.tool, host=env.host.name),
    "Upload": lambda env, a: transfer.upload(
        env.session, a.local_path, a.remote_path, a.overwrite, state=env.state
    ),
    "Download": lambda env, a: transfer.download(
        env.session, a.remote_path, a.local_path, a.overwrite, state=env.state
    ),
}
