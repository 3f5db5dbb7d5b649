"""Helpers for the fleet tests: a HostConfig for one of the fleet's sshds."""

from __future__ import annotations

from remote_mcp.config import HostConfig
from remote_mcp.testing import SshdServer


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


def marker_path(server: SshdServer) -> str:
    return f"{server.isolated_root}/marker"
