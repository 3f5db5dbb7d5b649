"""Groups of hosts: ``groups: {gpu: [gpu[01-08], login1]}`` in config.yaml.

A member is anything ``--host`` accepts (a ``hosts:`` entry, a Host alias of
~/.ssh/config, ``user@host[:port]``); a bracket pattern stands for the names
it expands to. Each mistake is one line naming the file, the key and the fix.
"""

from __future__ import annotations

from .config import Config, HostConfig
from .errors import ConfigError
from .hostlist import HostPatternError, expand

__all__ = ["group_hosts", "group_names"]


def group_names(config: Config, name: str) -> list[str]:
    """The member names of group ``name``, patterns expanded, in config order
    (a name listed twice counts once)."""
    where = config.where(f"groups.{name}")
    if name not in config.groups:
        known = ", ".join(sorted(config.groups)) or "none"
        raise ConfigError(
            f"{config.path}: group {name!r} is not configured (groups: {known}). Add it under "
            f"'groups:', for example 'groups: {{{name}: [host1, host2]}}'."
        )
    raw = config.groups[name]
    if isinstance(raw, str):
        raw = [raw]  # one pattern: gpu: gpu[01-08]
    if not isinstance(raw, list) or not raw or not all(isinstance(m, str) for m in raw):
        raise ConfigError(
            f"{where}: must be a list of host names or patterns (quote a pattern inside "
            "[...]), for example ['gpu[01-08]', login1]."
        )
    names: list[str] = []
    seen: set[str] = set()
    for item in raw:
        try:
            expanded = expand(item)
        except HostPatternError as err:
            raise ConfigError(f"{where}: {err}") from None
        names.extend(n for n in expanded if n not in seen)
        seen.update(expanded)
    return names


def group_hosts(config: Config, name: str) -> list[HostConfig]:
    """Every member of group ``name`` resolved as ``--host`` would resolve it."""
    hosts = []
    for member in group_names(config, name):
        try:
            hosts.append(config.host(member))
        except ConfigError as err:
            raise ConfigError(
                f"{config.where(f'groups.{name}')}: member {member!r} cannot be served: {err}"
            ) from None
    return hosts
