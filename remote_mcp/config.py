"""Load and validate remote-mcp's YAML configuration.

The file is small and hand-edited, so every mistake (unknown key, wrong type,
missing host) gets one message that names the file, the key and what to do,
instead of a traceback from deep inside an SSH connect.

Lookup order: ``--config PATH``, then ``$REMOTE_MCP_CONFIG``, then
``~/.config/remote-mcp/config.yaml`` (optional: without it, ``--host`` names an
ssh_config alias or ``user@host[:port]``). Hosts are validated one at a time,
when asked for, so a mistake in one entry never stops another being served.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["Config", "HostConfig", "config_path", "default_config_path", "load_config"]

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
    grep_backend: str = "auto"  # auto | rg | grep | busybox
    find_backend: str = "auto"  # auto | gnu | posix
    workers: int = 3
    # What a clean exit of the server does to its running background jobs.
    jobs_on_exit: str = "keep"  # keep | kill
    # The keys config.yaml set for this host: ssh_config fills in the others.
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)


@dataclass(frozen=True)
class Config:
    """The config file, read but not yet validated per host: a bad entry for
    one host must not stop another host from being served."""

    path: Path
    hosts: dict[str, Any] = field(default_factory=dict)
    default_host: str | None = None
    # ``groups:`` as written (fleet_config.py checks and expands a group when asked).
    groups: dict[str, Any] = field(default_factory=dict)
    exists: bool = True
    # "hosts.NAME" / "hosts.NAME.KEY" -> 1-based line, for messages.
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def where(self, dotted: str) -> str:
        """``FILE:LINE: dotted.key`` (the line of the key, or of its host)."""
        line = self.lines.get(dotted) or self.lines.get(".".join(dotted.split(".")[:2]))
        return f"{self.path}:{line}: {dotted}" if line else f"{self.path}: {dotted}"

    def host(self, name: str | None) -> HostConfig:
        """Resolve ``--host``: a ``hosts:`` entry, else a ``Host`` alias of
        ~/.ssh/config, else ``user@host[:port]``; a clear ConfigError otherwise."""
        chosen = name or self.default_host
        if chosen is None and len(self.hosts) == 1:
            chosen = next(iter(self.hosts))
        if chosen is None:
            raise ConfigError(
                f"{self.path}: no host given and no default_host set. Pass --host NAME "
                f"(configured hosts: {_names(self.hosts)}; ssh_config aliases: {_aliases()}; "
                "or user@host[:port])."
            )
        if chosen in self.hosts:
            return _parse_host(chosen, self.hosts[chosen], self)
        if _is_alias(chosen):
            return HostConfig(name=chosen, hostname=chosen)
        if "@" in chosen:
            return _literal_host(chosen)
        if not name:
            line = self.lines.get("default_host")
            raise ConfigError(
                f"{self.path}{f':{line}' if line else ''}: default_host {chosen!r} is not "
                f"configured (configured hosts: {_names(self.hosts)})."
            )
        raise ConfigError(
            f"{self.path}: host {chosen!r} is not configured (configured hosts: "
            f"{_names(self.hosts)}; ssh_config aliases: {_aliases()}). Add it under 'hosts:' "
            "(remote-mcp add-host), add a Host block to ~/.ssh/config, or pass user@host[:port]."
        )

    def problems(self) -> dict[str, str]:
        """Every host's config error (``remote-mcp hosts`` and ``add-host`` show them)."""
        found: dict[str, str] = {}
        for name, spec in self.hosts.items():
            try:
                _parse_host(name, spec, self)
            except ConfigError as err:
                found[name] = str(err)
        return found


def _aliases() -> str:
    from .ssh_config import aliases

    return ", ".join(aliases()) or "none"


def _is_alias(name: str) -> bool:
    from .ssh_config import has_alias

    return has_alias(name)


def split_destination(spec: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` (``[v6addr]:port`` too), as ssh -J writes a hop."""
    user, _, rest = spec.rpartition("@")
    host, port_text = rest, ""
    if rest.startswith("[") and "]" in rest:
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"{spec}: the port must be a number from 1 to 65535.")
        port = int(port_text)
    return (user or None), host, port


def _literal_host(spec: str) -> HostConfig:
    user, host, port = split_destination(spec)
    if not user or not host:
        raise ConfigError(f"--host {spec}: expected user@host or user@host:port.")
    return HostConfig(name=spec, hostname=host, user=user, port=port)


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
    "grep_backend": "auto | rg | grep | busybox: Grep's engine on the remote",
    "find_backend": "auto | gnu | posix: Glob's find flavour when rg is absent",
    "workers": "worker channels for parallel stateless calls (1-16)",
    "jobs_on_exit": "keep | kill: what a clean server exit does to the background jobs it "
    "started (keep: a long training run outlives the session; Claude Code kills its own)",
}

_CHOICES = {
    "bash": ("auto", "allow", "deny"),
    "host_key_policy": HOST_KEY_POLICIES,
    "edit_backend": ("auto", "python3", "perl", "local"),
    "grep_backend": ("auto", "rg", "grep", "busybox"),
    "find_backend": ("auto", "gnu", "posix"),
    "jobs_on_exit": ("keep", "kill"),
}


def default_config_path() -> Path:
    return Path(os.path.expanduser("~/.config/remote-mcp/config.yaml"))


def config_path(path: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """The config file to use, and whether the user named it explicitly."""
    chosen = path or os.environ.get("REMOTE_MCP_CONFIG")
    if chosen:
        return Path(os.path.expanduser(str(chosen))), True
    return default_config_path(), False


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file (see module docstring for the lookup order).

    The default file may be absent (hosts then come from ~/.ssh/config); a
    file named with --config or $REMOTE_MCP_CONFIG must exist.
    """
    cfg_path, explicit = config_path(path)
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not explicit:
            return Config(path=cfg_path, exists=False)
        raise ConfigError(
            f"{cfg_path}: config file not found. Create it with a 'hosts:' section "
            "(see README, or `remote-mcp add-host`), or pass --config PATH, or run "
            "`remote-mcp sandbox` (`invoke sandbox` in a checkout) to try remote-mcp "
            "against a throwaway local sshd."
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{cfg_path}: is a directory, not a config file.") from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read config file: {exc.strerror}") from None
    return parse_text(text, cfg_path)


def parse_text(text: str, cfg_path: Path) -> Config:
    """Parse YAML text; syntax errors become one ``FILE:LINE:COL: problem`` line."""
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{cfg_path}:{mark.line + 1}:{mark.column + 1}" if mark else str(cfg_path)
        raise ConfigError(f"{where}: {problem} (not valid YAML; fix the syntax there).") from None
    return parse_config(data, cfg_path, _key_lines(node))


def _key_lines(node: Any) -> dict[str, int]:
    """Line numbers of the top-level keys, the hosts and their keys."""
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        top = str(key.value)
        lines[top] = key.start_mark.line + 1
        if top not in ("hosts", "groups") or not isinstance(value, yaml.MappingNode):
            continue
        for host_key, host_value in value.value:
            dotted = f"{top}.{host_key.value}"
            lines[dotted] = host_key.start_mark.line + 1
            if isinstance(host_value, yaml.MappingNode):
                for sub_key, _ in host_value.value:
                    lines[f"{dotted}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


def parse_config(data: Any, cfg_path: Path, lines: dict[str, int] | None = None) -> Config:
    """Check the top level only; each host is checked when it is asked for."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{cfg_path}: top level must be a mapping with a 'hosts:' key.")
    unknown = sorted(set(data) - {"hosts", "default_host", "groups"})
    if unknown:
        line = (lines or {}).get(str(unknown[0]))
        raise ConfigError(
            f"{cfg_path}{f':{line}' if line else ''}: unknown top-level key {unknown[0]!r} "
            "(allowed: hosts, default_host, groups)."
        )
    raw_hosts = data.get("hosts") or {}
    if not isinstance(raw_hosts, dict):
        raise ConfigError(
            f"{cfg_path}: 'hosts' must be a non-empty mapping of host names, for example "
            "'hosts: {myserver: {hostname: 10.0.0.5}}'."
        )
    default = data.get("default_host")
    hosts = {str(name): spec for name, spec in raw_hosts.items()}
    raw_groups = data.get("groups") or {}
    if not isinstance(raw_groups, dict):
        line = (lines or {}).get("groups")
        raise ConfigError(
            f"{cfg_path}{f':{line}' if line else ''}: 'groups' must be a mapping of group "
            "names to host lists, for example 'groups: {gpu: [gpu[01-08]]}'."
        )
    return Config(
        path=cfg_path,
        hosts=hosts,
        default_host=None if default is None else str(default),
        groups={str(name): members for name, members in raw_groups.items()},
        lines=lines or {},
    )


def _parse_host(name: str, spec: Any, cfg: Config) -> HostConfig:
    where = cfg.where(f"hosts.{name}")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a mapping with at least 'hostname'.")
    known = {f.name: f for f in fields(HostConfig) if f.name not in ("name", "explicit")}
    values: dict[str, Any] = {"name": name}
    for key, value in spec.items():
        if key not in known:
            raise ConfigError(
                f"{cfg.where(f'hosts.{name}.{key}')}: unknown key {key!r} "
                f"(allowed: {', '.join(sorted(known))})."
            )
        values[key] = _check_type(cfg.where(f"hosts.{name}.{key}"), key, value)
    if "hostname" not in values:
        raise ConfigError(f"{where}: 'hostname' is required (an address or ~/.ssh/config alias).")
    values["explicit"] = frozenset(spec)
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
    "jobs_on_exit": (str,),
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
