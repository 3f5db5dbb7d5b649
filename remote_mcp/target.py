"""Where and how to connect: a host's config.yaml entry merged with ssh_config.

Precedence, per setting: what config.yaml states explicitly, then what
``~/.ssh/config`` says for the name (``Host`` blocks, ``Include`` expanded),
then remote-mcp's defaults. ProxyJump hops are resolved the same way, so an
alias used as a jump host brings its own user, port, key and known_hosts.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import paramiko

from .config import HostConfig, split_destination
from .errors import ConfigError
from .host_settings import HostKeyPolicy
from .ssh_config import load_ssh_config

__all__ = ["SshTarget", "resolve_target"]

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
MAX_JUMP_HOPS = 8
_POLICY: dict[str, HostKeyPolicy] = {"yes": "strict", "ask": "strict", "accept-new": "accept-new"}


@dataclass(frozen=True)
class SshTarget:
    """One SSH endpoint with every setting resolved (jump hosts carry their own)."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    # Whether a key_path came from config.yaml (a missing one is then an error;
    # ssh only warns about a missing IdentityFile from ssh_config).
    identity_explicit: bool = False
    identities_only: bool = False
    known_hosts: tuple[Path, ...] = ()
    host_key_policy: HostKeyPolicy = "strict"
    connect_timeout_s: float = 15.0
    keepalive_s: float = 15.0
    keepalive_count: int = 3
    compression: bool = True
    jumps: tuple[SshTarget, ...] = field(default=())

    @property
    def address(self) -> str:
        return f"{self.hostname}:{self.port}"

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.hostname}"

    @property
    def use_agent(self) -> bool:
        return bool(os.environ.get("SSH_AUTH_SOCK"))


def _words(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value).split() if value else []


def _policy(alias: str, raw: str | None) -> HostKeyPolicy | None:
    if raw is None:
        return None
    value = raw.lower()
    if value in _POLICY:
        return _POLICY[value]
    if value in ("no", "off"):
        raise ConfigError(
            f"ssh_config sets StrictHostKeyChecking {raw} for {alias}: remote-mcp never "
            "accepts unknown host keys silently. Use StrictHostKeyChecking accept-new (or "
            "host_key_policy: accept-new in config.yaml) to record the key on first use."
        )
    raise ConfigError(f"ssh_config: StrictHostKeyChecking {raw!r} for {alias} is not understood.")


def _number(alias: str, key: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"ssh_config: {key} {raw!r} for {alias} is not a number.") from None


def resolve_target(
    host: HostConfig, ssh: paramiko.SSHConfig | None = None, depth: int = 0
) -> SshTarget:
    """Merge one host's settings (see module docstring). Raises ConfigError."""
    ssh = ssh if ssh is not None else load_ssh_config()
    set_here = host.explicit if host.explicit else frozenset(_non_default(host))
    entry = ssh.lookup(host.hostname)
    hostname = str(entry.get("hostname", host.hostname))
    user = host.user or entry.get("user") or getpass.getuser()
    port = host.port or _number(host.name, "Port", entry.get("port")) or 22
    keys = [host.key_path] if host.key_path else []
    keys += _words(entry.get("identityfile"))
    known = [host.known_hosts] if host.known_hosts else []
    known += _words(entry.get("userknownhostsfile")) or [DEFAULT_KNOWN_HOSTS]
    if host.known_hosts and DEFAULT_KNOWN_HOSTS not in known:
        known.append(DEFAULT_KNOWN_HOSTS)
    policy = host.host_key_policy
    if "host_key_policy" not in set_here:
        policy = _policy(host.name, entry.get("stricthostkeychecking")) or policy
    timeout = host.connect_timeout_s
    if "connect_timeout_s" not in set_here:
        timeout = _number(host.name, "ConnectTimeout", entry.get("connecttimeout")) or timeout
    keepalive = host.keepalive_s
    if "keepalive_s" not in set_here:
        keepalive = _number(host.name, "ServerAliveInterval", entry.get("serveraliveinterval")) or (
            keepalive
        )
    count = _number(host.name, "ServerAliveCountMax", entry.get("serveralivecountmax")) or 3
    compression = host.compression
    if "compression" not in set_here and "compression" in entry:
        compression = str(entry["compression"]).lower() == "yes"
    jump_spec = host.proxy_jump or entry.get("proxyjump")
    base = SshTarget(
        alias=host.name,
        hostname=hostname,
        port=int(port),
        user=str(user),
        identity_files=tuple(os.path.expanduser(k) for k in keys),
        identity_explicit=bool(host.key_path),
        identities_only=str(entry.get("identitiesonly", "no")).lower() == "yes",
        known_hosts=tuple(Path(os.path.expanduser(k)) for k in known),
        host_key_policy=policy,
        connect_timeout_s=float(timeout),
        keepalive_s=float(keepalive),
        keepalive_count=count,
        compression=compression,
    )
    if jump_spec and str(jump_spec).lower() != "none":
        if depth > MAX_JUMP_HOPS:
            raise ConfigError(
                f"ProxyJump for {host.name} nests more than {MAX_JUMP_HOPS} levels: is there "
                "a loop in ~/.ssh/config (a jump host that jumps through itself)?"
            )
        return _with_jumps(base, str(jump_spec), ssh, host, depth)
    return base


def _with_jumps(
    base: SshTarget, spec: str, ssh: paramiko.SSHConfig, host: HostConfig, depth: int
) -> SshTarget:
    hops: list[SshTarget] = []
    for word in [w.strip() for w in spec.split(",") if w.strip()][:MAX_JUMP_HOPS]:
        user, name, port = split_destination(word)
        hop_host = HostConfig(
            name=word,
            hostname=name,
            user=user,
            port=port,
            connect_timeout_s=base.connect_timeout_s,
            host_key_policy=base.host_key_policy,
            explicit=frozenset({"connect_timeout_s", "host_key_policy"}),
        )
        # A jump host's own ProxyJump comes first, as with ssh (bounded: a
        # config may loop).
        hop = resolve_target(hop_host, ssh, depth + 1)
        hops.extend(hop.jumps)
        hops.append(replace(hop, jumps=()))
    if len(hops) > MAX_JUMP_HOPS:
        raise ConfigError(
            f"ProxyJump for {host.name} needs more than {MAX_JUMP_HOPS} hops: is there a "
            "loop in ~/.ssh/config (a jump host that jumps through itself)?"
        )
    return replace(base, jumps=tuple(hops))


def _non_default(host: HostConfig) -> set[str]:
    """Keys differing from HostConfig's defaults (for entries built in code)."""
    defaults = HostConfig(name="", hostname="")
    return {
        key
        for key in ("host_key_policy", "connect_timeout_s", "keepalive_s", "compression")
        if getattr(host, key) != getattr(defaults, key)
    }
