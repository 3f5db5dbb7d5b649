"""Helpers for the fleet tests: a HostConfig for one of the fleet's sshds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp.config import HostConfig
from remote_mcp.testing import SshdServer, remote_exec, start_sshd


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


# Until the shared N-host fixture lands (remote_mcp.testing fleet helper),
# a few private sshds, each with its own isolated area and marker file.
FLEET_SIZE = 3


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SshdServer]]:
    servers: list[SshdServer] = []
    try:
        for index in range(FLEET_SIZE):
            # The same path on every host, each in its own mount namespace.
            root = Path(f"/tmp/remote-mcp-fleet-{os.getpid()}")
            server = start_sshd(tmp_path_factory.mktemp(f"fleet{index}"), isolated_root=root)
            servers.append(server)
            rc, _, err = remote_exec(server, f"echo node{index:02d} > {root}/marker")
            assert rc == 0, err
        yield servers
    finally:
        for server in servers:
            server.stop()


def marker_path(server: SshdServer) -> str:
    return f"{server.isolated_root}/marker"
