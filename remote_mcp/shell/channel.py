"""One persistent shell on its own SSH channel, with sentinel framing.

Each command is framed by a random per-command sentinel that ends stdout and
stderr and carries the exit status, so file contents can never fake the end
of a frame.
"""

from __future__ import annotations

import re
import secrets
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import paramiko
from invoke.exceptions import UnexpectedExit

from ..capture import StreamCapture
from ..connection import HostConnection
from ..errors import ConnectionLost, ShellProtocolError, reason
from ..templates import render
from .result import ShellResult, command_timed_out, partial_output

__all__ = ["DEFAULT_CAPTURE", "ENGINE_IDLE_S", "STOP_GRACE_S", "ShellChannel"]

# Bytes of each stream kept in memory per command; the rest is counted, not kept.
DEFAULT_CAPTURE = 64 << 20
# How long a stopped command may take to unwind before its shell is given up.
STOP_GRACE_S = 10.0
# A worker shell's resident engine (_engine_call.sh.j2) ends after this long
# without a request; the program is sent again a minute before that.
ENGINE_IDLE_S = 600
_ENGINE_FRESH_S = ENGINE_IDLE_S - 60

# The frame's markers (_frame.sh.j2), compiled once: a command's own sentinel
# is checked by value (StreamCapture's token), so a marker of another shape or
# another command's sentinel in the output never ends a frame.
_TOKEN = rb"(?P<token>__RMCP_[0-9a-f]{24})"
_OUT_END = re.compile(
    rb"\n" + _TOKEN + rb" (?P<status>\d+)(?: (?P<t0>\S*) (?P<t1>\S*)(?: (?P<bulk>[01]?))?)?\n"
)
_ERR_END = re.compile(_TOKEN + rb"\n")
_PID_LINE = re.compile(_TOKEN + rb"_pid (?P<pid>\d+)\n")


class _Command:
    """One running worker command: its remote pid (once the frame reported
    it) and whether somebody asked to stop it. The lock makes exactly one of
    "pid arrives" and "stop requested" send the stop, whichever is second."""

    def __init__(self, stop: Callable[[int], bool] | None) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self.pid: int | None = None
        self.stop_requested = False
        self.done = False

    def set_pid(self, pid: int) -> None:
        with self._lock:
            self.pid = pid
            wanted = self.stop_requested and not self.done
        if wanted and self._stop is not None:
            self._stop(pid)

    def cancel(self) -> None:
        """The MCP cancellation hook."""
        self.request_stop()

    def request_stop(self) -> bool | None:
        """Stop the command (MCP cancellation, timeout): True if the remote
        confirmed, None if its pid is not known yet (it is stopped on arrival)."""
        with self._lock:
            self.stop_requested = True
            pid = None if self.done else self.pid
        if pid is None or self._stop is None:
            return None
        return self._stop(pid)


class ShellChannel:
    """One long-lived shell on its own channel of a ``HostConnection``.

    Not thread-safe by itself: one command at a time (``ChannelPool`` hands
    channels to threads; the Bash tool owns one of its own).
    """

    def __init__(
        self,
        conn: HostConnection,
        *,
        subshell: bool = True,
        capture_limit: int = DEFAULT_CAPTURE,
        capture_tail: int = 0,
    ) -> None:
        self.conn = conn
        self.subshell = subshell
        self.capture_limit = capture_limit
        self.capture_tail = capture_tail  # also keep this many last dropped bytes
        self.channel: paramiko.Channel | None = None
        self.generation = 0  # bumped each time the shell is (re)started
        # The start marker line, until the first command's reply has passed it.
        self.start_marker = b""
        # Stops a worker command by pid from another channel (set by ChannelPool).
        self.stopper: Callable[[int], bool] | None = None
        # When a call last used (or started) this shell's resident engine.
        self._engine_used: float | None = None
        # Does this shell's `read -N` take a command's bytes (_frame.sh.j2)?
        # None until a frame's reply says.
        self.bulk: bool | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self, probe_sentinel: str | None = None) -> None:
        """Open the channel and start the shell; with ``probe_sentinel``, the
        probe runs first inside the exec request, framed by that sentinel."""
        if self.channel is not None and not self.channel.closed:
            return
        chan = self.conn.open_channel()
        marker = "__RMCP_START_" + secrets.token_hex(12)
        values = {"marker": marker}
        if probe_sentinel is not None:
            values["sentinel"] = probe_sentinel
        try:
            _exec_pipelined(chan, render("shell_start.sh.j2", **values))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            chan.close()
            raise ConnectionLost(
                f"cannot start a shell on {self.conn.host.name}: {reason(exc)}"
            ) from exc
        self.channel = chan
        self.start_marker = marker.encode() + b"\n"
        self.generation += 1
        self._engine_used = None  # a new shell has no engine yet
        self.bulk = None

    @property
    def alive(self) -> bool:
        chan = self.channel
        return (
            chan is not None
            and not chan.closed
            and not chan.exit_status_ready()
            and self._current(chan)
        )

    def _current(self, chan: paramiko.Channel) -> bool:
        """Is ``chan`` on the connection's live transport (not one a reconnect replaced)?"""
        conn = self.conn.connection
        return conn is not None and chan.get_transport() is conn.transport

    def close(self) -> None:
        if self.channel is not None:
            try:
                self.channel.close()
            except Exception:
                pass
            self.channel = None

    # -- running -------------------------------------------------------------
    def run(self, command: str, *, engine: str | None = None, **kwargs: Any) -> ShellResult:
        """Run ``command`` and return its Result (invoke semantics); see
        ``_run_framed`` for the keyword arguments.

        ``engine`` is the resident engine's program for a command that uses
        it (_engine_call.sh.j2). It is sent only when this shell's engine may
        not be running -- the first such call on the shell, or one after the
        engine's idle time: the program is 7-8 KB that every call would
        otherwise carry. A call the shell answers ``noengine`` (its engine
        was gone, nothing was done) is sent again at once with the program.
        """
        if engine is None or not self.subshell:
            return self._run_framed(command, **kwargs)
        send = self._engine_used is None or time.monotonic() - self._engine_used > _ENGINE_FRESH_S
        if not send:
            result = self._run_framed(command, **kwargs)
            if result.stdout != "noengine\n":
                self._engine_used = time.monotonic()
                return result
        prelude = render("engine_prelude.sh.j2", program=engine, idle_s=ENGINE_IDLE_S)
        result = self._run_framed(prelude + command, **kwargs)
        self._engine_used = time.monotonic()
        return result

    def _run_framed(
        self,
        command: str,
        *,
        hide: Any = True,
        warn: bool = False,
        timeout: float | None = None,
        on_timeout: Callable[[], bool | None] | None = None,
        on_output: Callable[[bytes], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        cancel_hooks: list[Callable[[], None]] | None = None,
        stoppable: bool = True,
        frame: str = "_frame.sh.j2",
        probe: bool = False,
        **_ignored: Any,
    ) -> ShellResult:
        """Run ``command`` and return its Result (invoke semantics).

        ``timeout`` (seconds): without ``on_timeout`` the shell is discarded and
        ``CommandTimedOut`` raised; with it, ``on_timeout`` is called once (it
        should kill the command from elsewhere) and reading continues, so the
        shell survives. ``on_output`` sees every stdout/stderr chunk (progress).
        ``on_tick`` is called about once a second while waiting, in this
        thread (progress reports that must come from the caller's thread).
        On a worker shell (``subshell``) with a ``stopper``, a timeout without
        ``on_timeout`` stops the command's process tree from another channel
        and keeps the shell (``CommandTimedOut.stopped`` says whether the
        remote confirmed), and ``cancel_hooks`` gets a hook that does the same
        (MCP cancellation). ``stoppable=False`` (a change that must not be cut
        half-way) keeps the old way: the shell is discarded, the command runs on.
        Extra keyword arguments that ``fabric.Connection.run`` accepts (``pty``,
        ``in_stream``...) are ignored: stdin is always /dev/null.
        ``probe`` says ``command`` is the probe (probe.sh.j2): a shell that
        must be started for it runs it inside its exec request, which saves
        the round trip a command sent behind that request waits for.
        """
        sentinel = "__RMCP_" + secrets.token_hex(12)
        pidmark = sentinel + "_pid"
        folded = False
        if not self.alive:
            self.close()
            self.start(probe_sentinel=sentinel if probe else None)
            folded = probe
        script = None
        if not folded:
            values: dict[str, Any] = {}
            if self.bulk:
                values["bulk"] = True
            elif self.bulk is None:
                values["check_bulk"] = True
            script = render(
                frame,
                command=command,
                sentinel=sentinel,
                pidmark=pidmark,
                subshell=self.subshell,
                **values,
            )
        assert self.channel is not None
        token = sentinel.encode()
        out = StreamCapture(
            _OUT_END, self.capture_limit, self.capture_tail, self.start_marker, token
        )
        err = StreamCapture(
            _ERR_END, self.capture_limit, self.capture_tail, self.start_marker, token
        )
        self.conn.stats.add_command()
        chan = self.channel
        cmd = _Command(self.stopper if self.subshell else None)
        if cancel_hooks is not None and self.subshell:
            cancel_hooks.append(cmd.cancel)
        stopped: bool | None = None
        if on_timeout is None and self.subshell and self.stopper is not None and stoppable:

            def stop_on_timeout() -> bool:
                nonlocal stopped
                stopped = bool(cmd.request_stop())
                return stopped

            on_timeout = stop_on_timeout

        try:
            sending = time.perf_counter()
            if script is not None:  # (a folded probe is on its way already)
                chan.sendall(script.encode("utf-8", "surrogateescape"))
            sent = time.perf_counter()
            timed_out = self._pump(
                chan, out, err, timeout, on_timeout, on_output, on_tick, cmd, token
            )
            self.conn.stats.phases.add(sending, sent, time.perf_counter(), out.remote_s)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise ConnectionLost(
                f"connection to {self.conn.host.name} lost: {reason(exc)}",
                partial=partial_output(out, err),
            ) from exc
        finally:
            cmd.done = True
        if not (out.preamble_end or err.preamble_end):
            self.start_marker = b""  # both streams are past it: later replies are whole
        if self.bulk is None and out.bulk:
            self.bulk = out.bulk == b"1"
        stdout = out.kept.decode("utf-8", "surrogateescape")
        stderr = err.kept.decode("utf-8", "surrogateescape")
        if timed_out and (on_timeout is None or stopped is False):
            self.close()
            partial = ShellResult(command=command, stdout=stdout, stderr=stderr, exited=-1)
            raise command_timed_out(partial, timeout, stopped=False)
        if out.match is None:
            status = chan.recv_exit_status() if chan.exit_status_ready() else -1
            self.close()
            if status == -1:
                # Closed without an exit status: torn down with the link, most
                # likely. paramiko closes the channels before it marks the
                # transport dead, so give it a moment to catch up.
                deadline = time.monotonic() + 1.0
                while self.conn.is_alive() and time.monotonic() < deadline:
                    time.sleep(0.01)
            if not self.conn.is_alive() or not self._current(chan):
                raise ConnectionLost(
                    f"connection to {self.conn.host.name} lost", partial=partial_output(out, err)
                )
            raise ShellProtocolError(
                f"the remote shell on {self.conn.host.name} exited (status {status}) "
                "before the command finished"
            )
        result = ShellResult(
            command=command,
            stdout=stdout,
            stderr=stderr,
            exited=out.status if out.status is not None else -1,
            hide=("stdout", "stderr"),
            dropped_bytes=out.dropped_bytes + err.dropped_bytes,
            dropped_lines=out.dropped_lines + err.dropped_lines,
            stdout_tail=out.dropped_tail,
            stderr_tail=err.dropped_tail,
        )
        if not _hidden(hide):
            sys.stdout.write(stdout)
            sys.stderr.write(stderr)
        if timed_out:
            raise command_timed_out(result, timeout, stopped=bool(stopped))
        if result.exited != 0 and not warn:
            raise UnexpectedExit(result)
        return result

    def _pump(
        self,
        chan: paramiko.Channel,
        out: StreamCapture,
        err: StreamCapture,
        timeout: float | None,
        on_timeout: Callable[[], bool | None] | None,
        on_output: Callable[[bytes], None] | None,
        on_tick: Callable[[], None] | None = None,
        cmd: _Command | None = None,
        token: bytes | None = None,
    ) -> bool:
        """Read both streams until both sentinels arrived; True if timed out.

        stderr must be drained too: the channel window is shared, and unread
        stderr stalls stdout. A worker command's
        pid line is taken out of stderr as soon as it arrives. ``on_timeout``
        returning False means the command could not be stopped: give up now.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        timed_out = False
        while out.match is None or err.match is None:
            wait = 1.0
            if deadline is not None and not timed_out:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            if not (chan.recv_ready() or chan.recv_stderr_ready()):
                select.select([chan], [], [], wait)
            got = _drain(chan.recv_ready, chan.recv, out, on_output)
            got = _drain(chan.recv_stderr_ready, chan.recv_stderr, err, on_output) or got
            if cmd is not None and token is not None and cmd.pid is None and got:
                m = _pid_line(err.kept, token)
                if m:
                    pid = int(m.group("pid"))  # before the deletion, which the match sees
                    del err.kept[m.start() : m.end()]
                    cmd.set_pid(pid)
            if not got and (chan.closed or chan.eof_received):
                if not (chan.recv_ready() or chan.recv_stderr_ready()):
                    return timed_out
            if on_tick:
                on_tick()
            if not self.conn.is_alive():
                raise EOFError("SSH transport closed")
            if deadline is not None and not timed_out and time.monotonic() >= deadline:
                timed_out = True
                if on_timeout is None or on_timeout() is False:
                    return True
                # Give the killed command a bounded grace period to unwind.
                deadline = time.monotonic() + STOP_GRACE_S
            elif timed_out and deadline is not None and time.monotonic() >= deadline:
                self.close()  # its framing can no longer be trusted
                raise ShellProtocolError(
                    f"command on {self.conn.host.name} did not stop after being killed"
                )
        return timed_out


def _pid_line(data: bytearray, token: bytes) -> re.Match[bytes] | None:
    """The frame's ``pidmark PID`` line for the command whose sentinel is ``token``."""
    for m in _PID_LINE.finditer(data):
        if m.group("token") == token:
            return m
    return None


def _exec_pipelined(chan: paramiko.Channel, command: str) -> None:
    """``exec_command`` without waiting for the server's answer, so the first
    command follows in the same round trip (connect costs one RTT less per
    shell). A refused exec closes the channel (paramiko's ``_request_failed``),
    which that command's read then reports as a shell that exited."""
    m = paramiko.Message()
    m.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)
    m.add_string(command)
    raw: Any = chan  # the two private steps of Channel.exec_command, minus its wait
    raw._event_pending()
    raw.transport._send_user_message(m)


def _drain(
    ready: Callable[[], bool],
    recv: Callable[[int], bytes],
    capture: StreamCapture,
    on_output: Callable[[bytes], None] | None,
) -> bool:
    """Read one stream of a channel while it has data; True if anything came."""
    got = False
    while ready():
        data = recv(1 << 16)
        if capture.match is None:
            capture.feed(data)
        if on_output:
            on_output(data)
        got = True
    return got


def _hidden(hide: Any) -> bool:
    return hide not in (None, False)
