"""The Bash tool's background jobs on the remote, read through worker
shells: status and new output, the listing, kills -- each answered as a
typed value. A job is a private directory (``bash_job_*.sh.j2``); jobs of
other server sessions come back as :class:`ForeignJob` unless
``all_sessions``. Starting a job needs the shell's state, so it lives on
:class:`~remote_mcp.bash_shell.BashShell`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from invoke.runners import Result

from .templates import render

__all__ = [
    "ForeignJob",
    "JobInfo",
    "JobKill",
    "JobListing",
    "JobRead",
    "JobStart",
    "kill_job",
    "list_jobs",
    "read_job",
    "split_reply",
]


class Runner(Protocol):
    def run(self, command: str, **kwargs: Any) -> Result: ...


@dataclass(frozen=True)
class JobStart:
    bash_id: str
    output_path: str


@dataclass(frozen=True)
class JobRead:
    """Status of a job and up to ``cap`` new bytes of its output from ``offset``."""

    status: str  # running | completed | failed | killed
    exit_code: str | None
    size: int  # the output file's size when read
    offset: int  # where ``body`` starts (0 if the asked offset was past the end)
    body: bytes
    rest_lines: int  # lines in the new output beyond ``body`` (not sent)
    final_nl: bool  # the whole output ends in a newline (only known with rest_lines)


@dataclass(frozen=True)
class JobInfo:
    bash_id: str
    status: str
    exit_code: str
    started: str
    mine: bool  # started by this server session
    command: str  # first line, cut to 200 bytes


@dataclass(frozen=True)
class JobListing:
    jobs: list[JobInfo]  # oldest first
    others: int  # jobs of other server sessions left out


@dataclass(frozen=True)
class ForeignJob:
    """A job that another server session started (refused without all_sessions)."""

    bash_id: str
    started: str


@dataclass(frozen=True)
class JobKill:
    status: str
    was_running: bool
    command: str


def read_job(
    runner: Runner,
    owner: str,
    job_id: str,
    *,
    offset: int,
    cap: int,
    wait_s: float = 0.0,
    all_sessions: bool = False,
) -> JobRead | ForeignJob | None:
    """Status and new output of a job; None if there is no such job.
    With ``wait_s``, first wait while it runs."""
    result = runner.run(
        render(
            "bash_job_read.sh.j2",
            job_id=job_id,
            offset=offset,
            cap=cap,
            wait_tenths=round(wait_s * 10),
            owner=owner,
            all_sessions=all_sessions,
        ),
        hide=True,
        warn=True,
    )
    fields, body = split_reply(result.stdout.encode("utf-8", "surrogateescape"))
    if fields.get("foreign"):
        return ForeignJob(job_id, fields.get("started", ""))
    if fields.get("missing") or "status" not in fields:
        return None
    return JobRead(
        status=fields["status"],
        exit_code=fields.get("exit") or None,
        size=int(fields.get("size") or 0),
        offset=int(fields.get("offset") or 0),
        body=body,
        rest_lines=int(fields.get("rest_lines") or 0),
        final_nl=fields.get("final_nl") == "1",
    )


def list_jobs(runner: Runner, owner: str, *, all_sessions: bool = False) -> JobListing:
    """This session's jobs on the host (every session's with ``all_sessions``),
    oldest first, and how many of other sessions were left out."""
    script = render("bash_job_list.sh.j2", owner=owner, all_sessions=all_sessions)
    result = runner.run(script, hide=True, warn=True)
    jobs: list[JobInfo] = []
    others = 0
    for line in result.stdout.splitlines():
        if line.startswith("job "):
            job_id, status, code, started, mine, command = (line[4:].split("\t", 5) + [""] * 6)[:6]
            jobs.append(JobInfo(job_id, status, code, started, mine == "1", command))
        elif line.startswith("others "):
            others = int(line[7:] or 0)
    jobs.sort(key=lambda job: job.started)
    return JobListing(jobs, others)


def kill_job(
    runner: Runner, owner: str, job_id: str, *, all_sessions: bool = False
) -> JobKill | ForeignJob | None:
    """Kill a running job and its process group; None if there is no such job."""
    script = render("bash_job_kill.sh.j2", job_id=job_id, owner=owner, all_sessions=all_sessions)
    result = runner.run(script, hide=True, warn=True)
    fields, body = split_reply(result.stdout.encode("utf-8", "surrogateescape"))
    if fields.get("foreign"):
        return ForeignJob(job_id, fields.get("started", ""))
    if fields.get("missing") or "status" not in fields:
        return None
    return JobKill(
        status=fields["status"],
        was_running=fields.get("was") == "running",
        command=body.decode("utf-8", "surrogateescape").removesuffix("\n"),
    )


def split_reply(data: bytes) -> tuple[dict[str, str], bytes]:
    """Header (key=value lines up to "--") and the raw body after it."""
    head, sep, body = data.partition(b"\n--\n")
    if not sep and data.startswith(b"--\n"):
        head, body = b"", data[3:]
    fields = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        key, _, value = line.partition("=")
        if key:
            fields[key] = value
    return fields, body
