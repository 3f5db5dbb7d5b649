"""``remote-mcp hosts``, ``add-host`` and ``sandbox``: setting a host up
without writing YAML by hand or needing a source checkout.

add-host appends a text block instead of re-serialising the YAML, so the
user's comments, order and quoting stay as they were; the new text is
re-loaded (and the entry validated) before the file is replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

from . import registration
from .config import Config, HostConfig, config_path, load_config, parse_text
from .errors import ConfigError, RemoteMCPError
from .known_hosts import host_name, matching_lines
from .ssh_config import aliases
from .ssh_keys import keys_tried

__all__ = ["add_host_command", "host_readiness", "hosts_command", "sandbox_command"]

_PLAIN = re.compile(r"[A-Za-z0-9_./~@+-][A-Za-z0-9_./~@+:-]*")


def host_readiness(host: HostConfig) -> str:
    """ "ready", or what is missing before a first connection can succeed."""
    from .target import resolve_target

    try:
        target = resolve_target(host)
    except RemoteMCPError as err:
        return f"not ready: {err}"
    first = target.jumps[0] if target.jumps else target
    names = [host_name(first.hostname, first.port)]
    known = any(
        not entry.marker for path in first.known_hosts for entry in matching_lines(path, names[0])
    )
    missing = []
    if not known and target.host_key_policy != "accept-new":
        missing.append(f"host key of {names[0]} not in known_hosts")
    if not keys_tried(target) and not target.use_agent:
        missing.append("no key file and no ssh-agent")
    return "ready" if not missing else "needs set-up: " + "; ".join(missing)


def hosts_command(config: str | None) -> int:
    try:
        cfg = load_config(config)
    except ConfigError as err:
        print(f"remote-mcp: {err}", file=sys.stderr)
        return 2
    problems = cfg.problems()
    where = str(cfg.path) if cfg.exists else f"{cfg.path} (absent)"
    print(f"config.yaml hosts ({where}):")
    for name in cfg.hosts:
        status = problems.get(name) or host_readiness(cfg.host(name))
        default = " (default)" if name == cfg.default_host else ""
        print(f"  {name}{default}: {status}")
    if not cfg.hosts:
        print("  none (add one with: remote-mcp add-host NAME --hostname H --user U)")
    print("~/.ssh/config aliases:")
    names = [a for a in aliases() if a not in cfg.hosts]
    for alias in names:
        print(f"  {alias}: {host_readiness(HostConfig(name=alias, hostname=alias))}")
    if not names:
        print("  none")
    return 0


def _entry_lines(args: argparse.Namespace) -> list[str]:
    if args.from_ssh_config:
        if args.from_ssh_config not in aliases():
            raise ConfigError(
                f"--from-ssh-config {args.from_ssh_config}: no such Host alias in ~/.ssh/config "
                f"(aliases: {', '.join(aliases()) or 'none'})."
            )
        values: dict[str, object] = {"hostname": args.from_ssh_config}
    elif args.hostname:
        values = {"hostname": args.hostname}
    else:
        raise ConfigError(
            "add-host needs --hostname H (with --user, --port, --key ...) or "
            "--from-ssh-config ALIAS."
        )
    optional = {
        "user": args.user,
        "port": args.port,
        "key_path": os.path.abspath(os.path.expanduser(args.key)) if args.key else None,
        "proxy_jump": args.proxy_jump,
        "known_hosts": args.known_hosts,
        "host_key_policy": "accept-new" if args.accept_new else None,
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    return [f"    {key}: {_scalar(value)}" for key, value in values.items()]


def _scalar(value: object) -> str:
    """A YAML scalar: plain when it reads back as the same string, else a JSON
    string (valid YAML), so no YAML writer is needed."""
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text)


def insert_host(text: str, name: str, lines: list[str], path: Path) -> str:
    """The config text with ``name``'s block added at the end of ``hosts:``."""
    cfg = parse_text(text, path) if text.strip() else Config(path=path)
    if name in cfg.hosts:
        raise ConfigError(f"{cfg.where(f'hosts.{name}')}: host {name!r} already exists.")
    block = [f"  {_scalar(name)}:", *lines]
    source = text.splitlines()
    if "hosts" not in cfg.lines:
        return "\n".join([*source, "hosts:", *block]) + "\n"
    if source[cfg.lines["hosts"] - 1].split("#")[0].strip() != "hosts:":
        raise ConfigError(
            f"{path}:{cfg.lines['hosts']}: add-host needs 'hosts:' on a line of its own with "
            "the hosts indented below it (block style); edit the file by hand instead."
        )
    # After the last line indented under "hosts:" (comments and blanks at the
    # end belong to what follows).
    end = cfg.lines["hosts"]
    for index in range(end, len(source)):
        line = source[index]
        if line.strip() and not line.startswith((" ", "\t")):
            break
        if line.strip() and not line.lstrip().startswith("#"):
            end = index + 1
    return "\n".join([*source[:end], *block, *source[end:]]) + "\n"


def add_host_command(args: argparse.Namespace) -> int:
    path, _ = config_path(getattr(args, "config", None))
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        new_text = insert_host(text, args.name, _entry_lines(args), path)
        host = parse_text(new_text, path).host(args.name)
    except ConfigError as err:
        print(f"remote-mcp: {err}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"remote-mcp: {path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, path)
    print(f"Added host {args.name} to {path}.")
    status = 0
    if not args.no_test:
        from .selftest import run_selftest

        ok, line = run_selftest(host)
        print(line)
        status = 0 if ok else 1
    explicit = getattr(args, "config", None) or os.environ.get("REMOTE_MCP_CONFIG")
    print("To use it from Claude Code:")
    print("  " + registration.mcp_add_line(args.name, config=path if explicit else None))
    return status


def sandbox_command(stop: bool) -> int:
    from .sandbox import ensure_sandbox, mcp_add_line, stop_sandbox

    if stop:
        print("sandbox sshd stopped" if stop_sandbox() else "no sandbox sshd was running")
        return 0
    config = ensure_sandbox()
    print(f"sandbox config: {config}")
    from .selftest import run_selftest

    ok, line = run_selftest(load_config(config).host("sandbox"))
    print(line)
    print("To use it from Claude Code:")
    print(f"  {mcp_add_line(config)}")
    print("Stop it with: remote-mcp sandbox --stop")
    return 0 if ok else 1
