"""Every exception remote-mcp raises on purpose, in one tree.

* RemoteMCPError
  + ConfigError            -- the config file or CLI arguments are wrong (exit code 2)
  + ToolError              -- a tool call failed in a way the agent should read and act on;
  |                           its message is sent verbatim as the tool result (isError)
  + SessionError           -- the SSH session could not do its job
    + ConnectError         -- could not connect / authenticate to the host
    | + HostKeyError       -- host key unknown, changed or revoked; says how to fix it
    | + AuthError          -- the server refused every key offered
    + ConnectionLost       -- the link died during a call
    + ShellProtocolError   -- the persistent shell's framing broke (shell died, desync)
    + RemoteTimeout        -- a remote operation did not finish in time

paramiko and socket errors are translated into this tree at one boundary,
`remote_mcp.connection`, so the layers above never see library exceptions.
Command failures themselves keep invoke's own `UnexpectedExit` / `CommandTimedOut`,
because tool routines accept a plain `fabric.Connection` as their runner too.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConnectError",
    "AuthError",
    "CallCancelled",
    "CommandFailed",
    "ConnectionLost",
    "HostKeyError",
    "RemoteMCPError",
    "RemoteTimeout",
    "SessionError",
    "ShellProtocolError",
    "ToolError",
    "describe",
    "reason",
]


class RemoteMCPError(Exception):
    """Base class for errors remote-mcp raises deliberately."""


class ConfigError(RemoteMCPError):
    """The configuration is unusable; the message names the file, the key and the fix."""


class ToolError(RemoteMCPError):
    """A tool call failed; `str(err)` is exactly what the agent is shown."""


class CommandFailed(ToolError):
    """A Bash command that failed by Claude Code's rules (non-zero exit, timeout,
    interrupt): the agent sees its text as an error; a group server shows it
    with the other hosts' results, grouped by ``exit_code``."""

    def __init__(self, text: str, exit_code: int | None) -> None:
        super().__init__(text)
        self.exit_code = exit_code


class SessionError(RemoteMCPError):
    """The SSH session layer failed."""


class ConnectError(SessionError):
    """Connecting or authenticating to the host failed."""


class HostKeyError(ConnectError):
    """The host key is unknown (and the policy is strict) or does not match known_hosts."""


class AuthError(ConnectError):
    """The host key was accepted but the server refused every key offered."""


class ConnectionLost(SessionError):
    """The SSH link dropped while a call was in flight.

    ``partial`` (set by ``ShellChannel.run``) holds what the command had sent
    before the drop, so a caller that can resume knows where to resume."""

    def __init__(self, *args: object, partial: object = None) -> None:
        super().__init__(*args)
        self.partial = partial


class CommandDetached(ConnectionLost):
    """The link dropped while a foreground Bash command ran; the command
    keeps running on the remote and calling the tool again re-attaches to
    it (the same run: neither a re-run nor a loss)."""


class ShellProtocolError(SessionError):
    """The persistent shell exited or its output framing could not be parsed."""


class RemoteTimeout(SessionError):
    """A remote operation exceeded its time limit."""


class CallCancelled(RemoteMCPError):
    """The client cancelled the call before its next remote command was sent."""


def reason(exc: BaseException) -> str:
    """An exception as words for a message: paramiko raises ``EOFError()``
    and friends without any, and "cannot open a channel: " helps nobody."""
    text = str(exc).strip()
    if text:
        return text
    if isinstance(exc, EOFError):
        return "the connection was closed"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__} without details"


def describe(exc: BaseException) -> str:
    """One line for an error from the session layer."""
    if isinstance(exc, RemoteMCPError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
