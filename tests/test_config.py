"""Config loading: every mistake is one clear message naming file and key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from remote_mcp.config import load_config
from remote_mcp.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_full_host_entry(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
hosts:
  prod:
    hostname: 10.0.0.5
    user: alice
    port: 2222
    key_path: ~/.ssh/id_ed25519
    proxy_jump: bastion
    compression: false
    keepalive_s: 10
    host_key_policy: accept-new
    read_only: true
    allowed_paths: [/srv, /tmp]
    bash: allow
    local_paths: [~/Downloads/prod]
    cwd: /srv/app
default_host: prod
""",
        )
    )
    host = cfg.host(None)
    assert (host.name, host.hostname, host.user, host.port) == ("prod", "10.0.0.5", "alice", 2222)
    assert host.allowed_paths == ("/srv", "/tmp") and host.keepalive_s == 10.0
    assert host.compression is False and host.host_key_policy == "accept-new"
    assert host.bash == "allow" and host.local_paths == ("~/Downloads/prod",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "hosts:\n  a:\n    hostname: x\n    colour: red\n",
            "hosts.a.colour: unknown key 'colour'",
        ),
        ("hosts:\n  a:\n    hostname: x\n    port: '22'\n", "hosts.a.port: expected int, got str"),
        ("hosts:\n  a:\n    hostname: x\n    port: true\n", "hosts.a.port: expected int, got bool"),
        ("hosts:\n  a:\n    user: x\n", "hosts.a: 'hostname' is required"),
        ("hosts:\n  a:\n    hostname: x\n    host_key_policy: yes\n", "expected str, got bool"),
        ("hosts:\n  a:\n    hostname: x\n    host_key_policy: never\n", "must be one of strict"),
        ("hosts:\n  a:\n    hostname: x\ndefault_host: b\n", "default_host 'b' is not configured"),
        ("hostz: {}\n", "unknown top-level key 'hostz'"),
        ("hosts: [1]\n", "'hosts' must be a non-empty mapping"),
        ("hosts: {a: {hostname: x, allowed_paths: [rel]}}\n", "must be a list of absolute paths"),
        ("hosts: {a: {hostname: x, bash: sometimes}}\n", "bash: must be one of auto, allow, deny"),
        ("hosts: {a: {hostname: x, local_paths: [rel]}}\n", "must be a list of absolute local"),
        ("hosts:\n  a: [\n", "not valid YAML"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    """Checked when the host is asked for (a bad entry only affects its host)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path).host(None)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_unknown_host_lists_configured_hosts(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "hosts:\n  a: {hostname: x}\n  b: {hostname: y}\n"))
    with pytest.raises(
        ConfigError, match=r"host 'zzz' is not configured \(configured hosts: a, b;"
    ):
        cfg.host("zzz")


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_cfg = write(tmp_path, "hosts:\n  fromenv: {hostname: x}\n")
    monkeypatch.setenv("REMOTE_MCP_CONFIG", str(env_cfg))
    assert list(load_config().hosts) == ["fromenv"]
    other = tmp_path / "other.yaml"
    other.write_text("hosts:\n  explicit: {hostname: y}\n")
    assert list(load_config(other).hosts) == ["explicit"]


def test_missing_file_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found.*remote-mcp sandbox"):
        load_config(tmp_path / "none.yaml")


def test_line_numbers_point_at_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "# hosts\nhosts:\n  a:\n    hostname: x\n    colour: red\n")
    with pytest.raises(ConfigError, match=rf"^{path}:5: hosts.a.colour: unknown key 'colour'"):
        load_config(path).host("a")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--config", "/nonexistent/c.yaml"], "config file not found"),
        (["--host", "nope"], "host 'nope' is not configured"),
    ],
)
def test_cli_config_errors_exit_2_without_traceback(args: list[str], needle: str, sshd) -> None:
    """--test stops at a config error (serving does not: see test_config_errors_reach_the_agent)."""
    proc = subprocess.run(
        [sys.executable, "-m", "remote_mcp", *args, "--test"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_groups_are_kept_as_written_for_the_fleet_to_expand(tmp_path: Path) -> None:
    text = "hosts:\n  gpu01: {hostname: x}\ngroups:\n  gpus:\n    - gpu[01-16]\n  one: 7\n"
    assert load_config(write(tmp_path, text)).groups == {"gpus": ["gpu[01-16]"], "one": 7}
    assert load_config(write(tmp_path, "hosts: {a: {hostname: x}}\ngroups:\n")).groups == {}


def test_groups_that_are_not_a_mapping_are_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts:\n  a: {hostname: x}\ngroups: [a]\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}:3: 'groups' must be a mapping of group names to host lists, for example "
        "'groups: {gpu: [gpu[01-08]]}'."
    )


def test_null_is_not_unset_and_keys_report_in_file_order(tmp_path: Path) -> None:
    """pydantic reports errors in field order; the message follows the file."""
    path = write(tmp_path, "hosts:\n  a:\n    workers: 0\n    port: x\n    colour: red\n")
    with pytest.raises(ConfigError) as err:
        load_config(path).host("a")
    assert str(err.value) == f"{path}:3: hosts.a.workers: workers must be between 1 and 16, got 0."
    path = write(tmp_path, "hosts:\n  a:\n    hostname: x\n    keepalive_s:\n")
    with pytest.raises(ConfigError) as err:
        load_config(path).host("a")
    assert (
        str(err.value)
        == f"{path}:4: hosts.a.keepalive_s: expected int or number, got NoneType None."
    )
