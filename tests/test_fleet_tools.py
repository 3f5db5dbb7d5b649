"""Tools on a group of hosts (fleet_calls.Fleet) against the shared fleet of
real sshds: grouped output, a host down, a host that times out, cancellation
on every host, per-host Write preconditions, and a group background job."""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from remote_mcp import fleet_calls
from remote_mcp.config import HostConfig
from remote_mcp.errors import ToolError
from remote_mcp.fleet_calls import Fleet as FleetRuntime
from remote_mcp.fleet_calls import GroupCall
from remote_mcp.fleet_schemas import tool_args
from remote_mcp.testing import Fleet, LinkProxy, free_port, remote_exec, wait_until
from remote_mcp.tools.base import ToolOutput

from .fleet_support import MARKER, fleet_host, runtime

pytestmark = pytest.mark.slow


def call(
    group: FleetRuntime, name: str, arguments: dict[str, object], gc: GroupCall | None = None
) -> ToolOutput:
    args, hosts = tool_args(name, arguments)
    return group.call(gc or GroupCall(), name, args, hosts)


@pytest.fixture(scope="module")
def nodes(fleet: Fleet) -> Iterator[FleetRuntime]:
    """Every node of the fleet, connected once for the module."""
    group = runtime(fleet)
    group.connect()
    yield group
    group.group.close()


def test_progress_is_throttled_and_always_ends_with_every_host(
    nodes: FleetRuntime, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = len(fleet)
    sent: list[tuple[float, str]] = []
    gc = GroupCall(progress=lambda done, message: sent.append((done, message)))
    monkeypatch.setattr(fleet_calls, "PROGRESS_EVERY_S", 3600.0)
    call(nodes, "Bash", {"command": "true"}, gc)
    assert sent == [(total, f"{total}/{total} hosts done")]  # not one per host
    monkeypatch.setattr(fleet_calls, "PROGRESS_EVERY_S", 0.0)
    sent.clear()
    call(nodes, "Bash", {"command": "true"}, GroupCall(progress=gc.progress))
    assert [done for done, _ in sent] == list(range(1, total + 1))  # in order


def sh(fleet: Fleet, name: str, command: str) -> str:
    rc, out, err = remote_exec(fleet[name], command)
    assert rc == 0, err
    return out.decode()


def test_same_output_is_listed_once_and_different_outputs_apart(
    nodes: FleetRuntime, fleet: Fleet
) -> None:
    same = call(nodes, "Bash", {"command": "echo same; exit 4"}).text
    assert same.count("same") == 1, same
    assert fleet.pattern in same and "exit code 4" in same.lower(), same
    different = call(nodes, "Read", {"file_path": MARKER}).text
    for name in fleet.names:  # each host's own /etc/hostname, under its own name
        assert different.count(name) == 2, different


def test_failing_commands_are_grouped_by_exit_code_not_listed_as_failures(
    nodes: FleetRuntime,
) -> None:
    """A Bash command that exits non-zero is that host's answer (Claude Code's
    "Exit code N" text), grouped with the hosts that gave the same one."""
    command = "echo same; exit $(( $(hostname | tr -dc 0-9 | sed 's/^0*//') % 2 + 3 ))"
    text = call(nodes, "Bash", {"command": command}).text
    headers = [line for line in text.splitlines() if line.startswith("==")]
    assert len(headers) == 2, text
    assert sorted(h.split("exit code ")[1].rstrip(" =") for h in headers) == ["3", "4"], text
    assert "failed" not in text.splitlines()[0], text


def test_hosts_selects_members_and_a_stranger_is_refused(nodes: FleetRuntime) -> None:
    out = call(nodes, "Bash", {"command": "echo picked", "hosts": ["node0[2-3]"]})
    assert list(out.structured["hosts"]) == ["node02", "node03"]
    with pytest.raises(ToolError, match=r"node77 not in group fleet"):
        call(nodes, "Bash", {"command": "true", "hosts": ["node77"]})


def test_a_host_that_is_down_is_listed_last_with_its_reason(fleet: Fleet) -> None:
    down = HostConfig(name="zz-down", hostname="127.0.0.1", port=free_port(), connect_timeout_s=3)
    group = FleetRuntime("mixed", [fleet_host(fleet[0], "up1"), fleet_host(fleet[1], "up2"), down])
    try:
        text = call(group, "Bash", {"command": "echo alive"}).text
        again = call(group, "Bash", {"command": "echo alive"}).text
    finally:
        group.group.close()
    assert text.count("alive") == 1
    assert text.index("alive") < text.index("zz-down")
    assert "refused" in text.lower() or "connect" in text.lower(), text
    # The next call does not wait for the dead host's connect timeout again.
    assert again.count("alive") == 1 and "s ago; tried again 30 s after that" in again, again


def test_a_host_that_stops_answering_times_out_alone(fleet: Fleet, tmp_path: Path) -> None:
    node = fleet[1]
    with LinkProxy("127.0.0.1", node.port) as proxy:
        known = tmp_path / "known_hosts"  # the node's key, under the proxy's port
        known.write_text(node.known_hosts_line.replace(f"]:{node.port} ", f"]:{proxy.port} "))
        slow = fleet_host(
            node,
            "stalled",
            port=proxy.port,
            known_hosts=str(known),
            op_timeout_s=3,
            connect_timeout_s=10,
        )
        group = FleetRuntime("t", [fleet_host(fleet[0], fleet.names[0]), slow])
        try:
            group.connect()
            assert all(s.info is not None for s in group.group), "both hosts connect first"
            proxy.stall()
            text = call(group, "Read", {"file_path": MARKER}).text
        finally:
            proxy.resume()
            group.group.close()
    assert fleet.names[0] in text  # the healthy host answered...
    # ...and the stalled one is a failure with its reason (the read timed out,
    # then the reconnect found no SSH banner), listed after the answer.
    assert re.search(r"== stalled failed: .*(within \d+ s|did not answer).* ==", text), text
    assert text.index(fleet.names[0]) < text.index("stalled")


def test_cancel_stops_the_command_on_every_host(nodes: FleetRuntime, fleet: Fleet) -> None:
    gc = GroupCall()
    worker = threading.Thread(
        target=lambda: call(nodes, "Bash", {"command": "sleep 3047; echo done"}, gc), daemon=True
    )
    worker.start()
    # (The bracket keeps pgrep from finding the shell that runs it.)
    running = "pgrep -f '^sleep 304[7]$' >/dev/null"
    assert wait_until(lambda: all(remote_exec(s, running)[0] == 0 for s in fleet), 60)
    gc.gate.close()
    for hook in list(gc.cancel_hooks):
        hook()
    assert wait_until(lambda: all(remote_exec(s, running)[0] == 1 for s in fleet), 60)
    worker.join(60)
    assert not worker.is_alive()


def test_write_applies_where_the_read_holds_and_is_refused_where_the_file_changed(
    nodes: FleetRuntime, fleet: Fleet
) -> None:
    path = f"{fleet.isolated_root}/conf-{free_port()}.txt"
    three = fleet.names[:3]
    try:
        for name in three:
            sh(fleet, name, f"echo v1 > {shlex.quote(path)}")
        call(nodes, "Read", {"file_path": path, "hosts": three})
        sh(fleet, three[1], f"echo changed-by-user > {shlex.quote(path)}")
        text = call(nodes, "Write", {"file_path": path, "content": "v2\n", "hosts": three}).text
        assert three[1] in text and "modified since read" in text, text
        got = [sh(fleet, name, f"cat {shlex.quote(path)}") for name in three]
        assert got == ["v2\n", "changed-by-user\n", "v2\n"]
    finally:
        for name in three:
            sh(fleet, name, f"rm -f -- {shlex.quote(path)}")


def test_a_group_job_has_one_id_for_output_and_kill(nodes: FleetRuntime, fleet: Fleet) -> None:
    started = call(nodes, "Bash", {"command": "echo begun; sleep 300", "run_in_background": True})
    group_id = started.structured["bash_id"]
    assert group_id in started.text and len(started.structured["hosts"]) == len(fleet)
    seen: list[str] = []
    assert wait_until(
        lambda: (
            seen.append(call(nodes, "BashOutput", {"bash_id": group_id}).text)
            or "begun" in seen[-1]
        ),
        30,
    )
    assert seen[-1].count("begun") == 1, seen[-1]  # every host's line, listed once
    killed = call(nodes, "KillShell", {"shell_id": group_id})
    statuses = {o.get("status") for o in killed.structured["hosts"].values()}
    assert statuses == {"killed"}, killed.text
    status = call(nodes, "BashOutput", {"bash_id": group_id}).text
    assert "killed" in status and "running" not in status, status
