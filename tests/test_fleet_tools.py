"""Tools on a group of hosts (fleet_calls.Fleet) against real sshds: grouped
output, a host down, a host that times out, cancellation on every host,
per-host Write preconditions, and a group background job."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Iterator

import pytest

from remote_mcp.config import HostConfig
from remote_mcp.fleet_calls import Fleet, GroupCall
from remote_mcp.fleet_schemas import tool_args
from remote_mcp.testing import LinkProxy, SshdServer, free_port, remote_exec, wait_until
from remote_mcp.tools.base import ToolOutput

from .fleet_support import fleet_host, marker_path

pytestmark = pytest.mark.slow


def call(
    group: Fleet, name: str, arguments: dict[str, object], gc: GroupCall | None = None
) -> ToolOutput:
    args, hosts = tool_args(name, arguments)
    return group.call(gc or GroupCall(), name, args, hosts)


@pytest.fixture
def nodes(fleet: list[SshdServer]) -> Iterator[Fleet]:
    hosts = [fleet_host(server, f"node{i:02d}") for i, server in enumerate(fleet)]
    group = Fleet("nodes", hosts)
    yield group
    group.group.close()


def sh(server: SshdServer, command: str) -> str:
    rc, out, err = remote_exec(server, command)
    assert rc == 0, err
    return out.decode()


def test_same_output_is_listed_once_and_different_outputs_apart(
    nodes: Fleet,
    fleet: list[SshdServer],
) -> None:
    same = call(nodes, "Bash", {"command": "echo same; exit 4"}).text
    assert same.count("same") == 1, same
    assert f"node[00-{len(fleet) - 1:02d}]" in same and "4" in same
    marker = marker_path(fleet[0])
    different = call(nodes, "Bash", {"command": f"cat {shlex.quote(marker)}"}).text
    for index in range(len(fleet)):
        assert f"node{index:02d}" in different  # each host's own marker file...
    assert different.count("node00\n") + different.count("node00") >= 2  # ...under its name


def test_hosts_selects_members_and_a_stranger_is_refused(nodes: Fleet) -> None:
    out = call(nodes, "Bash", {"command": "echo picked", "hosts": ["node01"]})
    assert list(out.structured["hosts"]) == ["node01"]
    with pytest.raises(Exception, match=r"node07 not in group nodes"):
        call(nodes, "Bash", {"command": "true", "hosts": ["node07"]})


def test_a_host_that_is_down_is_listed_last_with_its_reason(
    fleet: list[SshdServer],
) -> None:
    down = HostConfig(name="zz-down", hostname="127.0.0.1", port=free_port(), connect_timeout_s=3)
    group = Fleet("mixed", [fleet_host(fleet[0], "up1"), fleet_host(fleet[1], "up2"), down])
    try:
        text = call(group, "Bash", {"command": "echo alive"}).text
    finally:
        group.group.close()
    assert text.count("alive") == 1
    assert text.index("alive") < text.index("zz-down")
    assert "refused" in text.lower() or "connect" in text.lower(), text


def test_a_host_that_stops_answering_times_out_alone(fleet: list[SshdServer]) -> None:
    with LinkProxy("127.0.0.1", fleet[1].port) as proxy:
        slow = fleet_host(fleet[1], "stalled", port=proxy.port, op_timeout_s=3, connect_timeout_s=3)
        group = Fleet("t", [fleet_host(fleet[0], "fine"), slow])
        try:
            group.connect()
            proxy.stall()
            text = call(group, "Read", {"file_path": marker_path(fleet[0])}).text
        finally:
            proxy.resume()
            group.group.close()
    assert "node00" in text  # the healthy host answered
    # ...and the stalled one is a failure with its reason (the read timed out,
    # then the reconnect found no SSH banner), listed after the answer.
    assert "== stalled failed: " in text and " 3 s" in text, text
    assert text.index("node00") < text.index("stalled failed")


def test_cancel_stops_the_command_on_every_host(nodes: Fleet, fleet: list[SshdServer]) -> None:
    gc = GroupCall()
    worker = threading.Thread(
        target=lambda: call(nodes, "Bash", {"command": "sleep 3047; echo done"}, gc), daemon=True
    )
    worker.start()
    # (The bracket keeps pgrep from finding the shell that runs it.)
    running = "pgrep -f '^sleep 304[7]$' >/dev/null"
    assert wait_until(lambda: all(remote_exec(s, running)[0] == 0 for s in fleet), 30)
    gc.gate.close()
    for hook in list(gc.cancel_hooks):
        hook()
    assert wait_until(lambda: all(remote_exec(s, running)[0] == 1 for s in fleet), 30)
    worker.join(30)
    assert not worker.is_alive()


def test_write_applies_where_the_read_holds_and_is_refused_where_the_file_changed(
    nodes: Fleet,
    fleet: list[SshdServer],
) -> None:
    path = f"{fleet[0].isolated_root}/conf-{free_port()}.txt"
    for server in fleet:
        sh(server, f"echo v1 > {path}")
    call(nodes, "Read", {"file_path": path})
    sh(fleet[1], f"echo changed-by-user > {path}")
    text = call(nodes, "Write", {"file_path": path, "content": "v2\n"}).text
    assert "node01" in text and "modified since read" in text, text
    assert [sh(s, f"cat {path}") for s in fleet] == [
        "v2\n" if i != 1 else "changed-by-user\n" for i in range(len(fleet))
    ]


def test_a_group_job_has_one_id_for_output_and_kill(nodes: Fleet, fleet: list[SshdServer]) -> None:
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
    assert all(o.get("status") == "killed" for o in killed.structured["hosts"].values()), (
        killed.text
    )
    status = call(nodes, "BashOutput", {"bash_id": group_id}).text
    assert "killed" in status and "running" not in status, status
