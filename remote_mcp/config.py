"""Load and validate remote-mcp's YAML configuration.

The file is small and hand-edited, so every mistake (unknown key, wrong type,
missing host) gets one message that names the file, the key and what to do,
instead of a traceback from deep inside an SSH connect.

Lookup order: ``--config PATH``, then ``$REMOTE_MCP_CONFIG``, then
``~/.config/remote-mcp/config.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["Config", "HostConfig", "default_config_path", "load_config"]

HOST_KEY_POLICIES = ("strict", "accept-new")


@dataclass(frozen=True)
class HostConfig:
    """One entry under ``hosts:``. Only ``hostname`` is required.

    ``hostname`` may be an alias from ``~/.ssh/config``; its HostName, User,
    Port, IdentityFile and ProxyJump then apply unless set here.
    """

    name: str
    hostname: str
    user: str | None = None
    port: int | None = None
    key_path: str | None = None
    proxy_jump: str | None = None
    # An extra known_hosts file (like ssh's UserKnownHostsFile); accept-new
    # records new keys there instead of ~/.ssh/known_hosts.
    known_hosts: str | None = None
    compression: bool = True
    keepalive_s: float = 15.0
    connect_timeout_s: float = 15.0
    op_timeout_s: float = 120.0
    host_key_policy: str = "strict"
    read_only: bool = False
    allowed_paths: tuple[str, ...] = ()
    bash: str = "auto"  # auto | allow | deny (auto: deny when read_only)
    local_paths: tuple[str, ...] = ()
    cwd: str | None = None
    # Which remote helpers the tools may use; "auto" detects. Forcing a fallback
    # is how tests cover the paths a minimal remote would take.
    edit_backend: str = "auto"  # auto | python3 | perl | local
    grep_backend: str = "auto"  # auto | rg | grep
    find_backend: str = "auto"  # auto | gnu | posix
    workers: int = 3


@dataclass(frozen=True)
class Config:
    path: Path
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    default_host: str | None = None

    def host(self, name: str | None) -> HostConfig:
        """The named host, or the default one; a clear ConfigError otherwise."""
        chosen = name or self.default_host
        if chosen is None:
            if len(self.hosts) == 1:
                return next(iter(self.hosts.values()))
            raise ConfigError(
                f"{self.path}: no host given and no default_host set. "
                f"Pass --host NAME (configured hosts: {_names(self.hosts)})."
            )
        try:
            return self.hosts[chosen]
        except KeyError:
            raise ConfigError(
                f"{self.path}: host {chosen!r} is not configured "
                f"(configured hosts: {_names(self.hosts)}). Add it under 'hosts:'."
            ) from None


# One line per key: shown in docs/reference/config.md (generated).
KEY_HELP = {
    "hostname": "address, or a Host alias from ~/.ssh/config (its HostName/User/Port/"
    "IdentityFile/ProxyJump apply)",
    "user": "login user (default: ssh_config's User, else the local user)",
    "port": "SSH port (default: ssh_config's Port, else 22)",
    "key_path": "private key file; ssh-agent and ~/.ssh default keys are tried too",
    "proxy_jump": "jump host(s), as ssh -J: 'bastion' or 'a,b'",
    "known_hosts": "extra known_hosts file; accept-new records new keys there",
    "compression": "SSH zlib compression",
    "keepalive_s": "seconds between keepalives; a dead link is declared after ~3 missed",
    "connect_timeout_s": "TCP + SSH handshake time limit",
    "op_timeout_s": "time limit of one file/search operation on the remote",
    "host_key_policy": "strict: unknown keys refused; accept-new: recorded on first use",
    "read_only": "no tool changes this host: Write/Edit/MultiEdit/Upload are not offered, "
    "and neither is Bash unless `bash: allow`",
    "allowed_paths": "if set, the file, search and transfer tools only touch paths that "
    "resolve (symlinks and `..` followed, on the remote) under these directories (Bash is "
    "not restricted)",
    "bash": "auto | allow | deny: offer Bash/BashOutput/KillShell (auto: not on a read_only "
    "host). With read_only, `allow` is an explicit opt-in: the shell can still change "
    "anything the login user can",
    "local_paths": "if set, Download only writes under these local directories; it never "
    "writes into ~/.ssh or remote-mcp's own config, whatever this says",
    "cwd": "start directory of the Bash shell and base of relative paths (default: $HOME)",
    "edit_backend": "auto | python3 | perl | local: where Edit applies replacements",
    "grep_backend": "auto | rg | grep: Grep's engine on the remote",
    "find_backend": "auto | gnu | posix: Glob's find flavour when rg is absent",
    "workers": "worker channels for parallel stateless calls (1-16)",
}

_CHOICES = {
    "bash": ("auto", "allow", "deny"),
    "host_key_policy": HOST_KEY_POLICIES,
    "edit_backend": ("auto", "python3", "perl", "local"),
    "grep_backend": ("auto", "rg", "grep"),
    "find_backend": ("auto", "gnu", "posix"),
}


def default_config_path() -> Path:
    return Path(os.path.expanduser("~/.config/remote-mcp/config.yaml"))


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the config file (see module docstring for the lookup order)."""
    chosen = path or os.environ.get("REMOTE_MCP_CONFIG") or default_config_path()
    cfg_path = Path(os.path.expanduser(str(chosen)))
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{cfg_path}: config file not found. Create it with a 'hosts:' section "
            "(see README), or pass --config PATH, or run `invoke sandbox` to try "
            "remote-mcp against a throwaway local sshd."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{cfg_path}: not valid YAML: {exc}") from None
    return parse_config(data, cfg_path)


def parse_config(data: Any, cfg_path: Path) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{cfg_path}: top level must be a mapping with a 'hosts:' key.")
    unknown = sorted(set(data) - {"hosts", "default_host"})
    if unknown:
        raise ConfigError(
            f"{cfg_path}: unknown top-level key {unknown[0]!r} (allowed: hosts, default_host)."
        )
    raw_hosts = data.get("hosts") or {}
    if not isinstance(raw_hosts, dict) or not raw_hosts:
        raise ConfigError(f"{cfg_path}: 'hosts' must be a non-empty mapping of host names.")
    hosts = {str(name): _parse_host(str(name), spec, cfg_path) for name, spec in raw_hosts.items()}
    default = data.get("default_host")
    if default is not None and default not in hosts:
        raise ConfigError(
            f"{cfg_path}: default_host {default!r} is not configured "
            f"(configured hosts: {_names(hosts)})."
        )
    return Config(path=cfg_path, hosts=hosts, default_host=default)


def _parse_host(name: str, spec: Any, cfg_path: Path) -> HostConfig:
    where = f"{cfg_path}: hosts.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a mapping with at least 'hostname'.")
    known = {f.name: f for f in fields(HostConfig) if f.name != "name"}
    values: dict[str, Any] = {"name": name}
    for key, value in spec.items():
        if key not in known:
            raise ConfigError(
                f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(known))})."
            )
        values[key] = _check_type(f"{where}.{key}", key, value)
    if "hostname" not in values:
        raise ConfigError(f"{where}: 'hostname' is required (an address or ~/.ssh/config alias).")
    return HostConfig(**values)


_TYPES: dict[str, tuple[type, ...]] = {
    "hostname": (str,),
    "user": (str,),
    "port": (int,),
    "key_path": (str,),
    "proxy_jump": (str,),
    "known_hosts": (str,),
    "compression": (bool,),
    "keepalive_s": (int, float),
    "connect_timeout_s": (int, float),
    "op_timeout_s": (int, float),
    "host_key_policy": (str,),
    "read_only": (bool,),
    "allowed_paths": (list,),
    "bash": (str,),
    "local_paths": (list,),
    "cwd": (str,),
    "edit_backend": (str,),
    "grep_backend": (str,),
    "find_backend": (str,),
    "workers": (int,),
}


def _check_type(where: str, key: str, raw: Any) -> Any:
    expected = _TYPES[key]
    # bool is an int subclass; `port: yes` must not pass as a port.
    if not isinstance(raw, expected) or (isinstance(raw, bool) and bool not in expected):
        names = " or ".join("number" if t is float else t.__name__ for t in expected)
        raise ConfigError(f"{where}: expected {names}, got {type(raw).__name__} {raw!r}.")
    value: Any = raw
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"{where}: must be one of {', '.join(_CHOICES[key])}, got {value!r}.")
    if key == "allowed_paths":
        if not all(isinstance(p, str) and p.startswith("/") for p in value):
            raise ConfigError(f"{where}: must be a list of absolute paths.")
        return tuple(value)
    if key == "local_paths":
        if not all(isinstance(p, str) and p.startswith(("/", "~")) for p in value):
            raise ConfigError(f"{where}: must be a list of absolute local paths (or ~/...).")
        return tuple(value)
    if key == "port" and not 0 < value < 65536:
        raise ConfigError(f"{where}: port must be between 1 and 65535, got {value}.")
    if key == "workers" and not 1 <= value <= 16:
        raise ConfigError(f"{where}: workers must be between 1 and 16, got {value}.")
    return float(value) if float in expected else value


def _names(hosts: dict[str, Any]) -> str:
    return ", ".join(sorted(hosts)) or "none"
