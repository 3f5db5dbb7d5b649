"""Hostile values for templates owned by the tool families (Edit, Glob/Grep,
Bash). Kept beside test_templates.py so each family adds its own entries."""

from __future__ import annotations

import shlex
from typing import Any

from remote_mcp.templates import render

HOSTILE = "it's $(touch /tmp/remote-mcp-template-canary) `touch /tmp/remote-mcp-template-canary`"

EXTRA_VALUES: dict[str, dict[str, Any]] = {}


def render_extra(name: str, directory: str) -> str:
    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace("{dir}", directory)
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v

    return render(name, **{k: fill(v) for k, v in EXTRA_VALUES[name].items()})


# Bash / BashOutput / KillShell (remote_mcp/tools/bash.py). Run on a worker
# shell these never reach user code: the Bash shell's init marker is absent
# there, so bash_run and bash_job_start answer "noinit" without running.
EXTRA_VALUES.update(
    {
        "bash_start.sh.j2": dict(
            token="sTemplateTest", delim="RMCP_EOF_1", start=f"{{dir}}/{HOSTILE}", expiry_days=1
        ),
        "_bash_login_env.sh.j2": dict(start=f"{{dir}}/{HOSTILE}"),
        "bash_run.sh.j2": dict(
            token="sTemplateTest",
            directory=f"{{dir}}/{HOSTILE}",
            command="echo " + shlex.quote(HOSTILE),
            mark="M_1",
            run_id="bash_12345678",
            spare="bash_87654321",
            reuse=True,
            owner="oTemplateTest",
            flavour="bash",
        ),
        "bash_run_attach.sh.j2": dict(
            token="sTemplateTest",
            run_id="bash_12345678",
            mark="M_1",
            out_offset=3,
            err_offset=0,
            wait=1,
            flavour="bash",
        ),
        "_bash_run_follow.sh.j2": dict(mark="M_1", flavour="sh"),
        "bash_kill.sh.j2": dict(token="sTemplateTest", run_id="bash_12345678"),
        "_bash_job_files.sh.j2": {},
        "_bash_kill_tree.sh.j2": {},
        "_bash_login.sh.j2": dict(start=f"{{dir}}/{HOSTILE}"),
        "_bash_state_save_bash.sh.j2": {},
        "_bash_state_save_sh.sh.j2": {},
        "bash_job_start.sh.j2": dict(
            token="sTemplateTest",
            job_id=HOSTILE,
            command="echo " + shlex.quote(HOSTILE),
            flavour="bash",
            delim="RMCP_EOF_2",
            owner="oTemplateTest",
            keep=50,
            expire_mtime=0,
        ),
        "bash_job_read.sh.j2": dict(
            job_id=HOSTILE,
            offset=0,
            cap=1000,
            wait_tenths=3,
            owner="oT",
            all_sessions=False,
        ),
        "bash_job_kill.sh.j2": dict(job_id=HOSTILE, owner="oT", all_sessions=False),
        "bash_job_list.sh.j2": dict(owner="oT", all_sessions=True),
        "bash_stop.sh.j2": dict(
            directory=f"{{dir}}/{HOSTILE}", owner="oT", kill_jobs=1, spare="bash_87654321"
        ),
    }
)


# Edit / MultiEdit (remote_mcp/tools/edit.py). A missing hostile path with an
# empty old_string: the python3 engine creates the file under {dir}, so the
# whole guard/engine/commit path runs with hostile values.
def _edit_values() -> dict[str, dict[str, Any]]:
    from remote_mcp.tools.edit import python_program

    hostile_edit = {"old": b"", "new": HOSTILE.encode(), "replace_all": 0, "clash": 0}
    return {
        "edit.sh.j2": dict(
            path=f"{{dir}}/{HOSTILE}",
            engine="python3",
            program=python_program(),
            edits=[hostile_edit],
            expect="any",
            engine_expect="any",
            hash_max=1 << 20,
            create=1,
            notebook=0,
            max_size=1 << 20,
            token="RMCP_EOF_3",
            refused=10,
            allowed=["{dir}", f"{{dir}}/{HOSTILE}"],
        ),
        "_edit_request.sh.j2": dict(edits=[hostile_edit]),
    }


EXTRA_VALUES.update(_edit_values())


# Glob / Grep (remote_mcp/tools/search.py). Missing roots: the templates only
# answer "missing", but every value still passes through the shell parser.
EXTRA_VALUES.update(
    {
        "glob_mtime.sh.j2": {},
        "glob.sh.j2": dict(
            root=f"{{dir}}/{HOSTILE}",
            backend="posix",
            pattern=HOSTILE,
            cap=101,
            find_args=["(", "-name", HOSTILE, "-o", "-regex", HOSTILE, ")"],
            mtime_tool="stat",
            allowed=[f"{{dir}}/{HOSTILE}"],
        ),
        "grep.sh.j2": dict(
            path=f"{{dir}}/{HOSTILE}",
            backend="grep",
            mode="files_with_matches",
            rg_args=["-e", HOSTILE, "--glob", HOSTILE],
            grep_args=["-l", "-E", "-e", HOSTILE],
            match_args=["-E", "-e", HOSTILE],
            find_args=["-name", HOSTILE],
            mtime_tool="find",
            allowed=["{dir}"],
            first=1,
            last=10,
            line_bytes=8000,
        ),
    }
)


# remote-mcp doctor (remote_mcp/doctor.py): the state directory is created.
EXTRA_VALUES["doctor.sh.j2"] = dict(state_dir=f"{{dir}}/{HOSTILE}", sample_bytes=16)

# Stopping a worker command (remote_mcp/shell/pool.py): a pid no process has.
EXTRA_VALUES.update({"worker_kill.sh.j2": dict(pid=2_000_000_000)})

# invoke bench --scaling (remote_mcp/bench_scaling.py): a small tree only.
EXTRA_VALUES["bench_scaling_setup.sh.j2"] = dict(
    area=f"{{dir}}/{HOSTILE}", lines=10, full_tree=False
)

# Write of large content (remote_mcp/tools/write_large.py).
EXTRA_VALUES["write_large.sh.j2"] = dict(
    path=f"{{dir}}/{HOSTILE}",
    staged=f"{{dir}}/{HOSTILE}.staged",
    expect="any",
    token="EOF_1",
    allowed=[f"{{dir}}/{HOSTILE}", "{dir}"],
)

# invoke bench: root's setup handed to the login user; the fleet bench's floor.
EXTRA_VALUES["bench_hand_over.sh.j2"] = dict(user="root", area="{dir}")  # must exist
EXTRA_VALUES["bench_floor.sh.j2"] = dict(start=False, end="END_1")
