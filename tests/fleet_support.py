"""Helpers for the fleet tests: product objects for the nodes of the shared
``fleet`` fixture (remote_mcp.testing.fleet)."""

from __future__ import annotations

from remote_mcp.config import HostConfig
from remote_mcp.fleet_calls import Fleet as FleetRuntime
from remote_mcp.testing import Fleet, SshdServer

MARKER = "/etc/hostname"  # each node's reads its own name


def fleet_host(server: SshdServer, name: str, **overrides: object) -> HostConfig:
    """A HostConfig that logs in to ``server`` with its own key and host key."""
    values: dict[str, object] = {
        "name": name,
        "hostname": server.host,
        "port": server.port,
        "user": server.user,
        "key_path": str(server.client_key),
        "known_hosts": str(server.known_hosts),
    }
    values.update(overrides)
    return HostConfig(**values)  # type: ignore[arg-type]


def runtime(fleet: Fleet, count: int | None = None) -> FleetRuntime:
    """A group runtime over the first ``count`` nodes (default: all), by their names."""
    names = fleet.names[:count]
    return FleetRuntime(fleet.group, [fleet_host(fleet[name], name) for name in names])
