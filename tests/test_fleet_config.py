"""Groups in config.yaml, --group on the command line, and the group tool
schemas: pure checks, no sshd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from remote_mcp.config import parse_text
from remote_mcp.errors import ConfigError
from remote_mcp.fleet_config import group_hosts, group_names
from remote_mcp.fleet_schemas import HOSTS_FIELD, group_tool_definitions, tool_args
from remote_mcp.schemas import tool_definitions

CONFIG = """\
hosts:
  gpu01: {hostname: 10.0.0.1}
  gpu02: {hostname: 10.0.0.2}
  gpu03: {hostname: 10.0.0.3, user: ml}
  login1: {hostname: 10.0.1.1}
groups:
  gpu:
    - gpu[01-03]
  all: [login1, "gpu[01-02]", gpu01]
  typo: ["gpu[01-]"]
  ghost: gpu[01-04]
  number: 7
"""


def config(text: str = CONFIG) -> Any:
    return parse_text(text, Path("/etc/rm/config.yaml"))


def test_a_group_lists_its_members_patterns_expanded_in_order() -> None:
    assert group_names(config(), "gpu") == ["gpu01", "gpu02", "gpu03"]
    assert group_names(config(), "all") == ["login1", "gpu01", "gpu02"]  # a repeat counts once
    assert group_names(config(), "ghost")[-1] == "gpu04"  # one pattern as a plain string
    hosts = group_hosts(config(), "gpu")
    assert [(h.name, h.hostname, h.user) for h in hosts][2] == ("gpu03", "10.0.0.3", "ml")


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("nope", r"/etc/rm/config.yaml: group 'nope' is not configured \(groups: all, ghost, "),
        ("typo", r"config.yaml:10: groups.typo: .*gpu\[01-\]"),
        ("ghost", r"config.yaml:11: groups.ghost: member 'gpu04' cannot be served: .*not config"),
        ("number", r"config.yaml:12: groups.number: must be a list of host names or patterns"),
    ],
)
def test_group_mistakes_are_one_line_naming_file_key_and_fix(group: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        group_hosts(config(), group)
    assert "\n" not in str(caught.value)


def test_groups_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="'groups' must be a mapping"):
        config("hosts: {a: {hostname: x}}\ngroups: [a]\n")


def test_group_schemas_are_the_single_host_ones_plus_hosts() -> None:
    single = {d["name"]: d for d in tool_definitions("h")}
    grouped = {d["name"]: d for d in group_tool_definitions("gpu[01-03]")}
    assert grouped.keys() == single.keys()
    for name, definition in grouped.items():
        schema = dict(definition["input_schema"])
        properties = dict(schema.pop("properties"))
        hosts = properties.pop(HOSTS_FIELD)
        assert hosts["type"] == "array" and hosts["items"] == {"type": "string"}
        expected = dict(single[name]["input_schema"])
        assert properties == expected.pop("properties")
        assert schema == expected
        assert "gpu[01-03]" in definition["description"]
        assert definition["annotations"] == single[name]["annotations"]


def test_group_arguments_split_into_the_tool_arguments_and_hosts() -> None:
    args, hosts = tool_args("Grep", {"pattern": "x", "-A": 2, "hosts": ["gpu[01-02]"]})
    assert (args.pattern, args.after, hosts) == ("x", 2, ["gpu[01-02]"])
    args, hosts = tool_args("Read", {"file_path": "/etc/hosts"})
    assert hosts is None and not hasattr(args, HOSTS_FIELD)
