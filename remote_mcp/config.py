"""Load and validate remote-mcp's YAML configuration.

The file is small and hand-edited, so every mistake (unknown key, wrong type,
missing host) gets one message that names the file, the key and what to do,
instead of a traceback from deep inside an SSH connect. The pydantic models
(host_settings.py for a host's keys) are the one description of the keys;
`_host_problem` turns pydantic's first error into that message.

Lookup order: ``--config PATH``, then ``$REMOTE_MCP_CONFIG``, then
``~/.config/remote-mcp/config.yaml`` (optional: without it, ``--host`` names an
ssh_config alias or ``user@host[:port]``). Hosts are validated one at a time,
when asked for, so a mistake in one entry never stops another being served.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from .errors import ConfigError
from .host_settings import HOST_KEYS, HostConfig, HostSettings, type_words

__all__ = [
    "Config",
    "HostConfig",
    "HostSettings",
    "config_path",
    "default_config_path",
    "load_config",
]


def _mapping_or_empty(value: object) -> object:
    """``hosts:``/``groups:`` left empty means none; YAML may give names as numbers."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(name): spec for name, spec in value.items()}
    return value


def _text_or_none(value: object) -> object:
    return None if value is None else str(value)


class ConfigFile(BaseModel):
    """The top level of config.yaml. Each host entry stays raw here and is
    checked when it is asked for: a bad entry for one host must not stop
    another host from being served."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hosts: Annotated[dict[str, Any], BeforeValidator(_mapping_or_empty)] = {}
    default_host: Annotated[str | None, BeforeValidator(_text_or_none)] = None
    # ``groups:`` as written: group name -> host names or patterns (``gpu[01-16]``);
    # each group is checked and expanded when it is asked for, like a host.
    groups: Annotated[dict[str, Any], BeforeValidator(_mapping_or_empty)] = {}


class Config(ConfigFile):
    """The config file, read but not yet validated per host."""

    path: Path
    exists: bool = True
    # "hosts.NAME" / "hosts.NAME.KEY" -> 1-based line, for messages.
    lines: dict[str, int] = {}

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


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """Line numbers of the top-level keys, the hosts and groups, and host keys."""
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


def parse_config(data: object, cfg_path: Path, lines: dict[str, int] | None = None) -> Config:
    """Check the top level only; each host is checked when it is asked for."""
    lines = lines or {}
    try:
        top = ConfigFile.model_validate({} if data is None else data, strict=True)
    except ValidationError as exc:
        raise _top_problem(exc, cfg_path, lines) from None
    return Config(path=cfg_path, lines=lines, **dict(top))


def _top_problem(exc: ValidationError, cfg_path: Path, lines: dict[str, int]) -> ConfigError:
    """The message for the first top-level mistake (unknown keys first)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        line = lines.get(unknown[0])
        allowed = ", ".join(ConfigFile.model_fields)
        return ConfigError(
            f"{cfg_path}{f':{line}' if line else ''}: unknown top-level key {unknown[0]!r} "
            f"(allowed: {allowed})."
        )
    first = errors[0]["loc"]
    if not first:
        return ConfigError(f"{cfg_path}: top level must be a mapping with a 'hosts:' key.")
    if first[0] == "groups":
        line = lines.get("groups")
        return ConfigError(
            f"{cfg_path}{f':{line}' if line else ''}: 'groups' must be a mapping of group "
            "names to host lists, for example 'groups: {gpu: [gpu[01-08]]}'."
        )
    return ConfigError(
        f"{cfg_path}: 'hosts' must be a non-empty mapping of host names, for example "
        "'hosts: {myserver: {hostname: 10.0.0.5}}'."
    )


def _parse_host(name: str, spec: object, cfg: Config) -> HostConfig:
    where = cfg.where(f"hosts.{name}")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: must be a mapping with at least 'hostname'.")
    # null is not "unset": ``port:`` with no value is almost always a slip.
    nulls = [key for key, value in spec.items() if value is None and key in HOST_KEYS]
    if nulls:
        raise _type_problem(cfg.where(f"hosts.{name}.{nulls[0]}"), nulls[0], None)
    given = {str(key): value for key, value in spec.items()}
    try:
        HostSettings(**given)
    except ValidationError as exc:
        raise _host_problem(exc, name, list(given), cfg) from None
    return HostConfig(name=name, explicit=frozenset(given), **given)


def _host_problem(exc: ValidationError, name: str, order: list[str], cfg: Config) -> ConfigError:
    """One line for the host entry's first mistake, in the file's key order
    (a missing hostname is reported after every key that is present)."""
    keys = [str(error["loc"][0]) if error["loc"] else "" for error in exc.errors()]
    ranks = [order.index(key) if key in order else len(order) for key in keys]
    error = exc.errors()[ranks.index(min(ranks))]
    key = str(error["loc"][0])
    where = cfg.where(f"hosts.{name}.{key}")
    kind, value = error["type"], error["input"]
    if kind == "missing":
        return ConfigError(
            f"{cfg.where(f'hosts.{name}')}: 'hostname' is required (an address or "
            "~/.ssh/config alias)."
        )
    if kind == "unexpected_keyword_argument":
        allowed = ", ".join(sorted(HOST_KEYS))
        return ConfigError(f"{where}: unknown key {key!r} (allowed: {allowed}).")
    if kind == "value_error":  # a validator's own message (host_settings.py)
        return ConfigError(f"{where}: {error['ctx']['error']}")
    if kind in ("greater_than_equal", "less_than_equal"):
        info = HOST_KEYS[key]
        low, high = (
            next(getattr(m, bound) for m in info.metadata if hasattr(m, bound))
            for bound in ("ge", "le")
        )
        return ConfigError(f"{where}: {key} must be between {low} and {high}, got {value}.")
    if kind == "literal_error" and isinstance(value, str):
        choices = get_args(HOST_KEYS[key].annotation)
        return ConfigError(f"{where}: must be one of {', '.join(choices)}, got {value!r}.")
    return _type_problem(where, key, value)


def _type_problem(where: str, key: str, value: object) -> ConfigError:
    return ConfigError(f"{where}: expected {_kind(key)}, got {type(value).__name__} {value!r}.")


def _kind(key: str) -> str:
    """What YAML type a key takes, in words (``int``, ``int or number``, ``list``)."""
    words = type_words(key).removesuffix(" or None")
    return {"float": "int or number", "tuple[str, ...]": "list"}.get(words, words)


def _names(hosts: Iterable[str]) -> str:
    return ", ".join(sorted(hosts)) or "none"
