"""The fleet fixture (remote_mcp.testing.fleet): 20 sshds that pass for
distinct hosts, as the group-server tests need them (issue 15, item 5)."""

from __future__ import annotations

import os
import shlex
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from remote_mcp.hostlist import expand
from remote_mcp.testing import Fleet, SshdError, SshdServer, remote_exec, start_fleet
from remote_mcp.testing import fleet as fleet_module
from tests.conftest import FLEET_AREA, FLEET_SIZE, in_ci


def on_every_node(fleet: Fleet, command: str) -> dict[str, str]:
    """``command``'s stdout on each node (it must succeed), by node name."""

    def run(node: SshdServer) -> str:
        rc, out, err = remote_exec(node, command)
        assert rc == 0, f"{command!r} failed on port {node.port}: {err!r}"
        return out.decode()

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(fleet.names, pool.map(run, fleet), strict=True))


def test_every_node_answers_and_names_itself(fleet: Fleet) -> None:
    assert fleet.names == [f"node{i:02d}" for i in range(1, FLEET_SIZE + 1)]
    assert len({node.port for node in fleet}) == FLEET_SIZE
    assert fleet[2] is fleet["node03"] and fleet[-1] is fleet["node20"]
    marker = on_every_node(fleet, "cat /etc/hostname")
    assert marker == {name: f"{name}\n" for name in fleet.names}


def test_the_hostname_command_differs_per_node(fleet: Fleet) -> None:
    if not fleet.own_uts:
        if in_ci() or os.geteuid() == 0:
            pytest.fail("root (or CI) but no UTS namespace: `hostname` is the same on every node")
        pytest.skip("UTS namespaces are not permitted here; /etc/hostname still names each node")
    assert on_every_node(fleet, "hostname") == {name: f"{name}\n" for name in fleet.names}
    assert socket.gethostname() not in fleet.names  # the local machine keeps its name


def test_each_node_has_its_own_files(fleet: Fleet) -> None:
    first, second = fleet["node01"], fleet["node02"]
    path = f"{FLEET_AREA}/own-files-{os.getpid()}"
    assert remote_exec(first, f"echo one > {shlex.quote(path)}")[0] == 0
    try:
        assert remote_exec(first, f"cat {shlex.quote(path)}")[1] == b"one\n"
        assert remote_exec(second, f"test -e {shlex.quote(path)}")[0] == 1
        assert not Path(path).exists()  # nor is it local
    finally:
        remote_exec(first, f"rm -f {shlex.quote(path)}")


def test_the_client_files_name_every_node(fleet: Fleet) -> None:
    config = yaml.safe_load(fleet.config_path.read_text())
    assert list(config["hosts"]) == fleet.names
    assert config["groups"] == {"fleet": [fleet.pattern]}
    assert fleet.pattern == "node[01-20]"
    assert expand(fleet.pattern) == fleet.names
    for name, node in fleet.nodes.items():
        entry = config["hosts"][name]
        assert (entry["hostname"], entry["port"], entry["user"]) == (
            node.host,
            node.port,
            node.user,
        )
    known = fleet.known_hosts.read_text().splitlines()
    assert known == [node.known_hosts_line for node in fleet]
    aliases = [
        line.split()[1]
        for line in fleet.ssh_config_path.read_text().splitlines()
        if line.startswith("Host ")
    ]
    assert aliases == fleet.names


def test_a_fleet_stops_every_node_and_removes_its_area(tmp_path: Path) -> None:
    area = tmp_path.with_name(tmp_path.name + "-area")
    with start_fleet(tmp_path / "work", 3, isolated_root=area, prefix="web") as small:
        assert small.names == ["web01", "web02", "web03"]
        assert small.pattern == "web[01-03]"
        processes = [node.process for node in small]
        assert all(p.poll() is None for p in processes)
        rss, pss = small.memory_kib()
        assert rss >= pss > 0
    assert all(p.poll() is not None for p in processes)
    assert not area.exists()


def test_a_node_too_slow_to_greet_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a heavy load one sshd of many can miss start_sshd's banner
    deadline (seen at a load average of 100+): the fleet tries that node
    again instead of failing the whole test session."""
    real_start = fleet_module.start_sshd
    calls: list[str] = []

    def slow_once(workdir: Path, **kwargs: Any) -> SshdServer:
        calls.append(kwargs["hostname"])
        if calls.count("web02") == 1 and kwargs["hostname"] == "web02":
            raise SshdError("test sshd did not start: no SSH banner on 127.0.0.1:1 within 10 s")
        return real_start(workdir, **kwargs)

    monkeypatch.setattr(fleet_module, "start_sshd", slow_once)
    area = tmp_path.with_name(tmp_path.name + "-area")
    with start_fleet(tmp_path / "work", 2, isolated_root=area, prefix="web") as small:
        assert sorted(calls) == ["web01", "web02", "web02"]
        assert remote_exec(small["web02"], "cat /etc/hostname")[1] == b"web02\n"


def test_a_fleet_needs_a_node() -> None:
    with pytest.raises(ValueError, match="at least one node"):
        start_fleet(Path("/nonexistent"), 0, isolated_root=Path("/nonexistent-area"))
