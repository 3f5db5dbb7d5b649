"""SessionGroup: a fabric Group of remote-mcp sessions, used like ThreadingGroup
(real sshds; one of them down)."""

from __future__ import annotations

import time

import pytest
from fabric.exceptions import GroupException
from fabric.group import GroupResult
from invoke.exceptions import UnexpectedExit

from remote_mcp.config import HostConfig
from remote_mcp.fleet import SessionGroup
from remote_mcp.testing import Fleet, free_port

from .fleet_support import MARKER, fleet_host


def test_run_returns_a_group_result_per_member(fleet: Fleet) -> None:
    names = fleet.names[:3]
    with SessionGroup(*[fleet_host(fleet[name], name) for name in names]) as group:
        result = group.run(f"cat {MARKER}", hide=True)
        assert isinstance(result, GroupResult)
        assert [session.host.name for session in result] == names
        outputs = {session.host.name: r.stdout.strip() for session, r in result.items()}
        assert outputs == {name: name for name in names}  # each host answers for itself
        assert all(r.exited == 0 for r in result.values())


def test_a_failing_member_raises_group_exception_with_every_result(
    fleet: Fleet,
) -> None:
    hosts = [fleet_host(fleet[i], f"h{i}") for i in range(2)]
    with SessionGroup(*hosts) as group:
        with pytest.raises(GroupException) as caught:
            group.run("exit 3", hide=True)
        result = caught.value.result
        assert len(result.failed) == 2
        assert all(isinstance(e, UnexpectedExit) for e in result.failed.values())


def test_a_host_that_is_down_fails_only_its_own_entry(fleet: Fleet) -> None:
    down = HostConfig(
        name="down", hostname="127.0.0.1", port=free_port(), user="nobody", connect_timeout_s=3
    )
    hosts = [fleet_host(fleet[0], "up"), down]
    with SessionGroup(*hosts, max_parallel=2) as group:
        started = time.monotonic()
        with pytest.raises(GroupException) as caught:
            group.run("echo ok", hide=True)
        elapsed = time.monotonic() - started
        result = caught.value.result
        assert [s.host.name for s in result.succeeded] == ["up"]
        assert result.succeeded[group.member("up")].stdout == "ok\n"
        assert [s.host.name for s in result.failed] == ["down"]
        assert elapsed < 60  # bounded by the connect timeout, not hung


def test_max_parallel_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_parallel"):
        SessionGroup(max_parallel=0)


def test_from_config_takes_a_configured_group(fleet: Fleet) -> None:
    """The how-to's example: a group from config.yaml, and each host's answer."""
    with SessionGroup.from_config(fleet.group, config=str(fleet.config_path)) as group:
        assert group.names == fleet.names
        results = group.run(f"cat {MARKER}", hide=True)
        assert {s.host.name: r.stdout.strip() for s, r in results.items()} == {
            name: name for name in fleet.names
        }
