"""The Bash tool's runtime: one session-owned shell on a channel of its own,
its saved state, its kills and its background jobs (session layer).

The shell stays *pristine*: it never runs user code itself. Each command
runs in a subshell that sources the saved state (variables, functions,
aliases, options), ``eval``s the command with stdin ``/dev/null`` and, on
exit, dumps the state again into a private directory on the remote
(``~/.cache/remote-mcp/shells/TOKEN``, else ``/tmp/remote-mcp-UID``); the
shell then ``cd``s to the command's cwd and prints a trailer with the exit
status and cwd. So a timeout or a cancel can kill the whole command (its own
process group, under ``set -m``) from a second channel and the shell lives on
with its state, no user function or option can reach the framing, and after
a reconnect the same token finds the state again. The templates say how:
``bash_start`` (init once per shell process), ``bash_run``,
``_bash_state_save_*``, ``bash_job_*``, ``bash_kill`` and ``bash_stop``.

This module (with ``bash_foreground`` and ``bash_jobs``) knows channels and
templates, not Claude Code: it returns typed values (``RunOutcome``,
``JobRead``...) that ``tools/bash.py`` and ``tools/bash_jobs.py`` turn into
Claude Code's text.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from invoke.exceptions import CommandTimedOut

from . import bash_jobs
from .bash_foreground import (
    CAPTURE_LIMIT,
    CAPTURE_TAIL,
    Detached,
    Foreground,
    RunOutcome,
    new_run_id,
    timed_out_result,
)
from .bash_jobs import ForeignJob, JobKill, JobListing, JobRead, JobStart
from .errors import SessionError, ShellProtocolError, ToolError
from .shell import ShellChannel, ShellResult
from .templates import render

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)

__all__ = ["BashShell"]

INIT_TIMEOUT_S = 60.0  # login profile sourcing; a hung profile is killed
START_TIMEOUT_S = 60.0  # background job start
KILL_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0  # clean shutdown: remove the state, maybe kill jobs
WAIT_SLACK_S = 30.0  # a blocking BashOutput's limit beyond its own wait
# Saved shell state holds every variable, exported secrets included: a clean
# shutdown removes it; the state of a session that died uncleanly goes at the
# next start of any session once all its files are this many days old.
STATE_EXPIRY_DAYS = 1
JOB_EXPIRY_DAYS = 1  # finished jobs older than this are removed at the next job start
FINISHED_JOBS_KEPT = 50  # and only the newest this many finished jobs are kept


class BashShell:
    """The Bash tool's shell for one :class:`~remote_mcp.session.Session`.

    Thread-safe: foreground commands and job starts take ``lock`` (one at a
    time, as in a terminal); kills come from a channel of their own, because
    pooled workers may all be busy exactly when a timeout fires.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.token = "s" + secrets.token_hex(8)
        self.lock = threading.Lock()
        self.channel: ShellChannel | None = None
        self._ready_generation = -1  # the channel generation that ran bash_start
        self._ready_channel: ShellChannel | None = None
        self.directory = ""  # remote shells/TOKEN dir
        self.flavour = "bash"  # or "sh" (no bash >= 4 on the remote)
        self.cwd: str | None = None  # the shell's cwd, as last reported
        self.notice: str | None = None
        self._killer: ShellChannel | None = None
        self._kill_lock = threading.Lock()
        # A foreground command the link dropped under: it runs on, and the
        # next Bash call re-attaches to it (bash_foreground.Foreground.attach).
        self.detached: Detached | None = None
        # The id the next foreground run gets: each run's clean-up makes its
        # directory in the background, so the run does not wait for a mkdir.
        self.spare_run_id = new_run_id()

    @property
    def host_name(self) -> str:
        return self.session.host.name

    @property
    def owner(self) -> str:
        """Whose jobs these are: the server session's id (recorded in each job)."""
        return self.session.owner_id

    def take_notice(self) -> str | None:
        """A one-time note about the state directory (an untrusted base skipped)."""
        notice, self.notice = self.notice, None
        return notice

    @property
    def jobs_base(self) -> str:
        """The state base dir this session's bash_start found private ("" before it ran)."""
        return self.directory.rsplit("/shells/", 1)[0] if self.directory else ""

    def take_run_id(self) -> tuple[str, str]:
        """The id for the run about to start (its directory may be made
        already) and the next one's, which that run's clean-up makes."""
        run_id, self.spare_run_id = self.spare_run_id, new_run_id()
        return run_id, self.spare_run_id

    def reuse_run_id(self, run_id: str) -> None:
        """Run ``run_id`` ended and its own call collected it, so its id was
        never shown to anyone: its clean-up emptied its directory (bash_run's
        ``reuse``), and the next run takes it as it is, with no process."""
        self.spare_run_id = run_id

    # -- the shell channel -----------------------------------------------------------
    def shell_channel(self) -> ShellChannel:
        """The shell's channel (connected; started on first use)."""
        self.session.connect()
        if self.channel is None:
            self.channel = ShellChannel(self.session.conn, subshell=False)
        return self.channel

    def open_early(self) -> threading.Thread | None:
        """Start opening the shell's channel now, beside the worker shells
        (``Session.connect`` joins the thread before any call can use the
        shell): the first Bash call then skips the channel's two set-up round
        trips (open; the window OpenSSH grants once the exec is handled)."""
        if self.channel is not None:
            return None
        channel = self.channel = ShellChannel(self.session.conn, subshell=False)
        opener = threading.Thread(
            target=_start_quietly, args=(channel,), name="remote-mcp-bash-open", daemon=True
        )
        opener.start()
        return opener

    def adopt(self, channel: ShellChannel) -> None:
        """Use an already started channel as the shell (tests run ``sh``)."""
        self.channel = channel

    def drop(self) -> bool:
        """Forget the channels of a dead connection (a detached run is kept:
        it runs on); True if the shell had one."""
        had = self.channel is not None
        for chan in (self.channel, self._killer):
            if chan is not None:
                chan.close()
        self.channel = self._killer = None
        return had

    def close(self, *, kill_jobs: bool = False) -> None:
        """Clean shutdown: remove the saved state (it may hold secrets) and,
        with ``kill_jobs``, stop this session's running jobs; then close the
        channels. Best effort and bounded: it never reconnects."""
        if self.directory and self.session.conn.is_alive():
            script = render(
                "bash_stop.sh.j2",
                directory=self.directory,
                owner=self.owner,
                kill_jobs=int(kill_jobs),
                spare=self.spare_run_id,
            )
            # A channel of its own: every pooled worker may be busy at exit.
            stopper = ShellChannel(self.session.conn, subshell=True)
            try:
                stopper.run(script, warn=True, timeout=STOP_TIMEOUT_S)
            except Exception:  # shutdown must go on whatever the remote does
                log.debug("Bash shell shutdown on %s failed", self.host_name, exc_info=True)
            finally:
                stopper.close()
        self.directory = ""
        self.drop()

    def ready(self, start_dir: str | None) -> ShellChannel:
        """The shell, started and initialised (bash_start once per shell process)."""
        shell = self.shell_channel()
        shell.capture_limit = CAPTURE_LIMIT
        shell.capture_tail = CAPTURE_TAIL
        if not shell.alive:
            shell.close()
            shell.start()
        if self._ready_channel is not shell or self._ready_generation != shell.generation:
            self._init(shell, start_dir)
        return shell

    def _forget_init(self) -> None:
        self._ready_channel = None

    def _init(self, shell: ShellChannel, start_dir: str | None) -> None:
        start = start_dir or self.session.host.cwd or ""
        script = render(
            "bash_start.sh.j2",
            token=self.token,
            delim=_delimiter(),
            start=start,
            expiry_days=STATE_EXPIRY_DAYS,
        )
        try:
            result: ShellResult = shell.run(
                script, warn=True, timeout=INIT_TIMEOUT_S, on_timeout=self.kill_foreground
            )
        except CommandTimedOut as exc:  # the profile hung and was killed; init went on
            result = timed_out_result(exc)
        except ShellProtocolError as exc:
            shell.close()
            raise ToolError(
                f"The Bash shell on {self.host_name} could not start: {exc}. "
                "Check the remote login profile; the next Bash call tries again."
            ) from exc
        fields = parse_fields(result.stdout)
        if "error" in fields or "dir" not in fields:
            raise ToolError(
                f"The Bash shell on {self.host_name} could not be prepared: "
                f"{fields.get('error') or result.stdout.strip() or result.stderr.strip()}"
            )
        self._ready_channel, self._ready_generation = shell, shell.generation
        self.directory, self.flavour = fields["dir"], fields.get("flavour", "sh")
        if fields.get("cwd"):
            self.cwd = fields["cwd"]
        if fields.get("skipped"):
            self.notice = (
                f"remote-mcp did not use{fields['skipped']} on {self.host_name} for the Bash "
                "shell's state: it is a symlink, not owned by you, not private (0700) or "
                "read-only. "
                f"Using {self.directory.rsplit('/shells/', 1)[0]} instead."
            )

    def kill_foreground(self, run_id: str | None = None) -> None:
        """Kill the foreground run ``run_id`` (its process group, wherever it
        runs), else whatever the shell is running, from a second channel."""
        with self._kill_lock:
            if self._killer is None:
                self._killer = ShellChannel(self.session.conn, subshell=True)
            script = render("bash_kill.sh.j2", token=self.token, run_id=run_id or "")
            try:
                self._killer.run(script, warn=True, timeout=KILL_TIMEOUT_S)
            except CommandTimedOut:  # the channel is discarded; the shell's grace period decides
                pass

    # -- foreground commands -----------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        timeout_s: float,
        start_dir: str | None = None,
        on_output: Callable[[bytes], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        register_cancel: Callable[[Callable[[], None]], None] | None = None,
    ) -> RunOutcome:
        """Run ``command`` in the shell, killed after ``timeout_s``.

        ``register_cancel`` receives a callable that kills the command (or,
        before it starts, stops it from starting); it is handed over before
        waiting for the shell, because a cancel may come first.

        A command the link dropped under (``self.detached``) is re-attached
        to when the same command comes again (the server's retry, or the
        agent's next call); another command hands it over to BashOutput.
        """
        run = Foreground(self, command, timeout_s, on_output, on_tick)
        if register_cancel is not None:
            register_cancel(run.cancel)
        with self.lock:
            detached = self.detached
            if detached is not None and detached.command != command:
                self.detached = None
                self.notice = (
                    f"The Bash command `{detached.short()}` that was running when the link "
                    f"dropped keeps running on {self.host_name} as {detached.run_id}; read its "
                    "output with BashOutput."
                )
                detached = None
            for _attempt in range(2):
                if detached is not None:
                    outcome = run.attach(detached)
                else:
                    outcome = run.execute(start_dir)
                if outcome is not None:
                    if outcome.cwd is not None:
                        self.cwd = outcome.cwd
                    return outcome
                self._forget_init()  # the shell restarted under us: initialise, run again
        raise ToolError(f"The Bash shell on {self.host_name} keeps restarting; try again.")

    # -- background jobs -----------------------------------------------------------------
    def start_job(self, command: str, *, start_dir: str | None = None) -> JobStart:
        """Start ``command`` detached, FROM the shell (its cwd and state)."""
        job_id = "bash_" + secrets.token_hex(4)
        with self.lock:
            for _attempt in range(2):
                shell = self.ready(start_dir)
                script = render(
                    "bash_job_start.sh.j2",
                    token=self.token,
                    job_id=job_id,
                    command=command,
                    flavour=self.flavour,
                    delim=_delimiter(),
                    owner=self.owner,
                    keep=FINISHED_JOBS_KEPT,
                    expire_mtime=JOB_EXPIRY_DAYS - 1,
                )
                try:
                    result = shell.run(script, warn=True, timeout=START_TIMEOUT_S)
                except CommandTimedOut as exc:
                    raise ToolError(
                        f"Starting the background command on {self.host_name} timed out."
                    ) from exc
                fields = parse_fields(result.stdout)
                if fields.get("noinit"):
                    self._forget_init()
                    continue
                if "error" in fields or "output" not in fields:
                    reason = fields.get("error") or result.stderr.strip() or "no answer"
                    raise ToolError(f"Could not start the background command: {reason}")
                return JobStart(job_id, fields["output"])
        raise ToolError(f"The Bash shell on {self.host_name} keeps restarting; try again.")

    def read_job(
        self,
        job_id: str,
        *,
        offset: int,
        cap: int,
        wait_s: float = 0.0,
        all_sessions: bool = False,
    ) -> JobRead | ForeignJob | None:
        """Status and new output of a job (``bash_jobs.read_job``). A wait
        runs on a channel of its own with its own time limit: it must neither
        hold a pooled worker (a Read would queue behind it) nor be cut by
        op_timeout_s."""
        if wait_s > 0:
            return self._read_job_waiting(
                job_id, offset=offset, cap=cap, wait_s=wait_s, all_sessions=all_sessions
            )
        return bash_jobs.read_job(
            self.session,
            self.owner,
            job_id,
            offset=offset,
            cap=cap,
            wait_s=wait_s,
            all_sessions=all_sessions,
        )

    def _read_job_waiting(
        self, job_id: str, *, offset: int, cap: int, wait_s: float, all_sessions: bool
    ) -> JobRead | ForeignJob | None:
        self.session.connect()
        waiter = _Waiter(ShellChannel(self.session.conn, subshell=True), wait_s + WAIT_SLACK_S)
        try:
            return bash_jobs.read_job(
                waiter,
                self.owner,
                job_id,
                offset=offset,
                cap=cap,
                wait_s=wait_s,
                all_sessions=all_sessions,
            )
        except CommandTimedOut as exc:
            raise ToolError(
                f"Waiting for {job_id} on {self.host_name} did not end {WAIT_SLACK_S:g} s after "
                "its timeout; the link may be down. Try BashOutput again."
            ) from exc
        finally:
            waiter.channel.close()

    def list_jobs(self, *, all_sessions: bool = False) -> JobListing:
        return bash_jobs.list_jobs(self.session, self.owner, all_sessions=all_sessions)

    def kill_job(self, job_id: str, *, all_sessions: bool = False) -> JobKill | ForeignJob | None:
        return bash_jobs.kill_job(self.session, self.owner, job_id, all_sessions=all_sessions)


class _Waiter:
    """A runner on a channel of its own, for one blocking BashOutput."""

    def __init__(self, channel: ShellChannel, timeout_s: float) -> None:
        self.channel, self.timeout_s = channel, timeout_s

    def run(self, command: str, **kwargs: Any) -> ShellResult:
        kwargs["timeout"] = self.timeout_s
        return self.channel.run(command, **kwargs)


def _start_quietly(channel: ShellChannel) -> None:
    try:
        channel.start()
    except SessionError:
        pass  # the first Bash call starts it again, or reports why


def _delimiter() -> str:
    return "RMCP_EOF_" + secrets.token_hex(6)


def parse_fields(text: str) -> dict[str, str]:
    """key=value lines; the last key (cwd=, output=) may hold newlines."""
    fields: dict[str, str] = {}
    last = ""
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[a-z_]+", key):
            fields[key], last = value, key
        elif last:
            fields[last] += "\n" + line
    if last:
        fields[last] = fields[last].removesuffix("\n")
    return fields
