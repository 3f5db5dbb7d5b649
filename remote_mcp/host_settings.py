"""The keys of one ``hosts:`` entry of config.yaml, as pydantic models.

The one description of each key (type, default, allowed values, range, and
its line in docs/reference/config.md); config.py turns a validation error into
a one-line message naming file, key and fix.
"""

from __future__ import annotations

import types
from dataclasses import field
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BeforeValidator, ConfigDict, Field
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo

__all__ = [
    "BashPolicy",
    "EditBackend",
    "EditEngine",
    "FindBackend",
    "GlobEngine",
    "GrepBackend",
    "GrepEngine",
    "HostConfig",
    "HOST_KEYS",
    "HostKeyPolicy",
    "HostSettings",
    "JobsOnExit",
    "KEY_HELP",
    "type_words",
]

HostKeyPolicy = Literal["strict", "accept-new"]
BashPolicy = Literal["auto", "allow", "deny"]  # auto: deny when read_only
# What a tool runs on the remote; "auto" in the config picks one by probing.
EditEngine = Literal["python3", "perl", "local"]
GrepEngine = Literal["rg", "grep", "busybox"]
GlobEngine = Literal["rg", "gnu", "posix"]  # rg is never forced: find_backend is find's flavour
EditBackend = Literal["auto", EditEngine]
GrepBackend = Literal["auto", GrepEngine]
FindBackend = Literal["auto", "gnu", "posix"]
JobsOnExit = Literal["keep", "kill"]


def _path_list(prefixes: tuple[str, ...], message: str) -> BeforeValidator:
    """A YAML list of paths starting with one of ``prefixes``, kept as a tuple."""

    def check(value: object) -> object:
        if not isinstance(value, list | tuple):
            return value  # the tuple type then reports "expected list"
        if not all(isinstance(p, str) and p.startswith(prefixes) for p in value):
            raise ValueError(message)  # config.py shows it as it is
        return tuple(value)

    return BeforeValidator(check)


RemotePaths = Annotated[tuple[str, ...], _path_list(("/",), "must be a list of absolute paths.")]
LocalPaths = Annotated[
    tuple[str, ...],
    _path_list(("/", "~"), "must be a list of absolute local paths (or ~/...)."),
]


# Strict: YAML's `port: "22"` or `compression: 1` is a mistake to report, not
# to coerce. A dataclass (not a BaseModel), so dataclasses.replace/fields work.
_STRICT = ConfigDict(strict=True, extra="forbid")


@dataclass(frozen=True, kw_only=True, config=_STRICT)
class HostSettings:
    """The keys of one entry under ``hosts:``. Only ``hostname`` is required.

    Each description is the key's line in docs/reference/config.md (generated).
    """

    hostname: str = Field(
        description="address, or a Host alias from ~/.ssh/config (its HostName/User/Port/"
        "IdentityFile/ProxyJump apply)"
    )
    user: str | None = Field(
        default=None, description="login user (default: ssh_config's User, else the local user)"
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="SSH port (default: ssh_config's Port, else 22)"
    )
    key_path: str | None = Field(
        default=None,
        description="private key file; ssh-agent and ~/.ssh default keys are tried too",
    )
    proxy_jump: str | None = Field(
        default=None, description="jump host(s), as ssh -J: 'bastion' or 'a,b'"
    )
    # Like ssh's UserKnownHostsFile: accept-new records new keys there.
    known_hosts: str | None = Field(
        default=None, description="extra known_hosts file; accept-new records new keys there"
    )
    compression: bool = Field(default=True, description="SSH zlib compression")
    keepalive_s: float = Field(
        default=15.0,
        description="seconds between keepalives; a dead link is declared after ~3 missed",
    )
    connect_timeout_s: float = Field(default=15.0, description="TCP + SSH handshake time limit")
    op_timeout_s: float = Field(
        default=120.0, description="time limit of one file/search operation on the remote"
    )
    host_key_policy: HostKeyPolicy = Field(
        default="strict",
        description="strict: unknown keys refused; accept-new: recorded on first use",
    )
    read_only: bool = Field(
        default=False,
        description="no tool changes this host: Write/Edit/MultiEdit/Upload are not "
        "offered, and neither is Bash unless `bash: allow`",
    )
    allowed_paths: RemotePaths = Field(
        default=(),
        description="if set, the file, search and transfer tools only touch paths that "
        "resolve (symlinks and `..` followed, on the remote) under these directories (Bash "
        "is not restricted)",
    )
    bash: BashPolicy = Field(
        default="auto",
        description="auto | allow | deny: offer Bash/BashOutput/KillShell (auto: not on a "
        "read_only host). With read_only, `allow` is an explicit opt-in: the shell can "
        "still change anything the login user can",
    )
    local_paths: LocalPaths = Field(
        default=(),
        description="if set, Download only writes under these local directories; it never "
        "writes into ~/.ssh or remote-mcp's own config, whatever this says",
    )
    cwd: str | None = Field(
        default=None,
        description="start directory of the Bash shell and base of relative paths (default: $HOME)",
    )
    # Which remote helpers the tools may use; "auto" detects. Forcing a fallback
    # is how tests cover the paths a minimal remote would take.
    edit_backend: EditBackend = Field(
        default="auto",
        description="auto | python3 | perl | local: where Edit applies replacements (Write "
        "commits with python3 too where it is the engine, else with the shell)",
    )
    resident_engine: bool = Field(
        default=True,
        description="with python3 and bash on the remote, Write and Edit run in one python3 "
        "kept per worker shell while they are used (it ends with its shell, or after 10 "
        "minutes without one); false starts python3 for every call",
    )
    grep_backend: GrepBackend = Field(
        default="auto", description="auto | rg | grep | busybox: Grep's engine on the remote"
    )
    find_backend: FindBackend = Field(
        default="auto",
        description="auto | gnu | posix: Glob's engine (auto: GNU find, else rg, else POSIX find)",
    )
    # 6: with the Bash shell, the stopper and two SFTP channels, sshd's default
    # MaxSessions (10) is never exceeded.
    workers: int = Field(
        default=6,
        ge=1,
        le=16,
        description="most worker channels for parallel stateless calls (1-16): 3 open at "
        "connect, more while calls queue",
    )
    jobs_on_exit: JobsOnExit = Field(
        default="keep",
        description="keep | kill: what a clean server exit does to the background jobs it "
        "started (keep: a long training run outlives the session; Claude Code kills its own)",
    )


# Worker shells opened at connect; more open while calls queue, up to ``workers``.
START_WORKERS = 3


def bash_allowed(read_only: bool, bash: str) -> bool:
    """``bash: auto`` means allowed unless the host is read_only."""
    return bash == "allow" or (bash == "auto" and not read_only)


@dataclass(frozen=True, kw_only=True, config=_STRICT)
class HostConfig(HostSettings):
    """A host to serve: its settings, its name, and which keys config.yaml set.

    ``hostname`` may be an alias from ``~/.ssh/config``; its HostName, User,
    Port, IdentityFile and ProxyJump then apply unless set here.
    """

    name: str
    # The keys config.yaml set for this host: ssh_config fills in the others.
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def bash_shell(self) -> bool:
        """Whether the Bash tool runs here (its shell then opens at connect)."""
        return bash_allowed(self.read_only, self.bash)

    @property
    def channels_at_connect(self) -> int:
        """Session channels a session opens as it connects: its first worker
        shells and the Bash shell."""
        return min(START_WORKERS, self.workers) + self.bash_shell


# The keys of a host entry, as pydantic describes them (type, default, range).
# (``vars``: mypy does not know the attribute pydantic adds to its dataclasses.)
HOST_KEYS: dict[str, FieldInfo] = vars(HostSettings)["__pydantic_fields__"]
# One line per key, for docs/reference/config.md (generated).
KEY_HELP: dict[str, str] = {key: info.description or "" for key, info in HOST_KEYS.items()}


def type_words(key: str) -> str:
    """A key's type as docs/reference/config.md shows it (``str or None``)."""
    annotation = HOST_KEYS[key].annotation
    optional = get_origin(annotation) in (Union, types.UnionType)
    if optional:
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        words = "str"
    elif get_origin(annotation) is tuple:
        words = "tuple[str, ...]"
    else:
        words = getattr(annotation, "__name__", str(annotation))
    return f"{words} or None" if optional else words
