"""Command line.

``remote-mcp --host NAME`` serves MCP over stdio; ``--test`` exercises every
tool once and prints one line. Subcommands help a user set a host up:
``doctor`` (step-by-step diagnosis), ``hosts``, ``add-host`` and ``sandbox``.

Serving never exits on a configuration mistake: the MCP client would only
show "Connection closed". The server starts anyway and every tool call
answers with the one-line error, so the agent (and the user) can read it.
Everywhere else a mistake is one readable line on stderr and exit code 2,
never a traceback; paramiko's own logging stays silent unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import __version__
from .config import HostConfig, load_config
from .errors import ConfigError

__all__ = ["main", "setup_logging"]

HOST_HELP = (
    "a host from config.yaml, a Host alias from ~/.ssh/config, or user@host[:port] "
    "(default: default_host)"
)
CONFIG_HELP = "config file (default: $REMOTE_MCP_CONFIG or ~/.config/remote-mcp/config.yaml)"
VERBOSE_HELP = "log details (paramiko included) to stderr; same as REMOTE_MCP_LOG=debug"


def _common(parser: argparse.ArgumentParser, host: bool = True) -> None:
    # SUPPRESS: a subcommand's unset option must not hide the top-level one.
    if host:
        parser.add_argument("--host", default=argparse.SUPPRESS, help=HOST_HELP)
    parser.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remote-mcp",
        description="MCP stdio server: Claude Code's file and shell tools on a remote host "
        "over SSH. Without a subcommand it serves --host over stdio.",
    )
    parser.add_argument("--host", help=HOST_HELP)
    parser.add_argument(
        "--group",
        help="serve every host of this group from config.yaml's 'groups:' as one server "
        "(each tool gets a 'hosts' argument)",
    )
    parser.add_argument("--config", help=CONFIG_HELP)
    parser.add_argument(
        "--test",
        action="store_true",
        help="connect, exercise every tool in a temporary directory, print one line and exit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"remote-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = sub.add_parser(
        "doctor",
        help="check a host step by step (config, DNS, TCP, SSH, keys, remote tools)",
        description="Check a host step by step: config, DNS, TCP, SSH banner, host key, "
        "authentication, remote shell and tools, state directory, round trip and bandwidth. "
        "Exit status 0 only if the host is usable.",
    )
    _common(doctor)
    hosts = sub.add_parser(
        "hosts",
        help="list configured hosts and ~/.ssh/config aliases",
        description="List the hosts of config.yaml and the Host aliases of ~/.ssh/config, "
        "marking which are ready to use (no network access).",
    )
    _common(hosts, host=False)
    add = sub.add_parser(
        "add-host",
        help="add a host to config.yaml, test it, print the claude mcp add line",
        description="Append a host entry to config.yaml (comments and order are kept), run "
        "--test against it and print the `claude mcp add` line.",
    )
    add.add_argument("name", help="name of the new entry (used as --host NAME)")
    add.add_argument("--from-ssh-config", metavar="ALIAS", help="take everything from this alias")
    add.add_argument("--hostname", help="address or DNS name")
    add.add_argument("--user", help="login user")
    add.add_argument("--port", type=int, help="SSH port")
    add.add_argument("--key", metavar="PATH", help="private key file (key_path)")
    add.add_argument("--proxy-jump", metavar="HOPS", help="jump host(s), as ssh -J")
    add.add_argument("--known-hosts", metavar="PATH", help="extra known_hosts file")
    add.add_argument(
        "--accept-new", action="store_true", help="host_key_policy: accept-new (record the key)"
    )
    add.add_argument("--no-test", action="store_true", help="write the entry without testing it")
    _common(add, host=False)
    sandbox = sub.add_parser(
        "sandbox",
        help="start a throwaway local sshd to try remote-mcp (or --stop it)",
        description="Start (or reuse) a throwaway sshd on 127.0.0.1 with its own keys under "
        "~/.cache/remote-mcp/sandbox, run --test against it and print the claude mcp add line.",
    )
    sandbox.add_argument("--stop", action="store_true", help="stop the sandbox sshd")
    _common(sandbox, host=False)
    return parser


def setup_logging(verbose: bool = False) -> None:
    """Warnings to stderr; paramiko (which logs tracebacks) only with --verbose."""
    debug = verbose or os.environ.get("REMOTE_MCP_LOG", "").lower() == "debug"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        stream=sys.stderr,
        format="remote-mcp: %(name)s: %(message)s" if debug else "remote-mcp: %(message)s",
    )
    logging.getLogger("paramiko").setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)
    for noisy in ("invoke", "fabric", "asyncio", "mcp"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(bool(getattr(args, "verbose", False)))
    command = args.command
    if command == "sandbox":
        from .hosts_cli import sandbox_command

        return sandbox_command(args.stop)
    if command == "hosts":
        from .hosts_cli import hosts_command

        return hosts_command(getattr(args, "config", None))
    if command == "add-host":
        from .hosts_cli import add_host_command

        return add_host_command(args)
    if command == "doctor":
        from .doctor import run_doctor

        return run_doctor(getattr(args, "host", None), getattr(args, "config", None))
    if args.group is not None:
        return _serve_group(args)
    try:
        config = load_config(args.config)
        host = config.host(args.host)
    except ConfigError as err:
        if args.test:
            print(f"remote-mcp: {err}", file=sys.stderr)
            return 2
        return _serve_config_error(args.host, str(err))
    if args.test:
        return _selftest(host, bool(args.verbose))
    from .early_connect import EarlyConnect, skip_sdk_extras

    # Connect while the MCP SDK imports (most of a second): the handshake waits on the network.
    early = EarlyConnect(host, config.path)
    early.let_handshake_start()
    skip_sdk_extras()
    from .server import serve

    try:
        serve(host, config_file=config.path, early=early)
    except KeyboardInterrupt:
        pass
    return 0


def _serve_group(args: argparse.Namespace) -> int:
    """``--group NAME``: one server for the group; a config mistake is served
    as the answer to every tool call, as for ``--host``."""
    from .early_connect import skip_sdk_extras
    from .fleet_config import group_hosts

    skip_sdk_extras()
    from .fleet_server import serve_group

    if args.host is not None or args.test:
        print(
            "remote-mcp: --group serves a group; it cannot be combined with --host or --test.",
            file=sys.stderr,
        )
        return 2
    config_file = None
    try:
        config = load_config(args.config)
        config_file = config.path
        hosts, error = group_hosts(config, args.group), None
    except ConfigError as err:
        print(f"remote-mcp: {err}", file=sys.stderr)
        hosts, error = [], str(err)
    try:
        serve_group(args.group, hosts, config_error=error, config_file=config_file)
    except KeyboardInterrupt:
        pass
    return 0


def _selftest(host: HostConfig, verbose: bool) -> int:
    from .selftest import run_selftest

    if not verbose:
        # The failure is the one printed line; no second copy as a log warning.
        logging.getLogger("remote_mcp").setLevel(logging.ERROR)
    ok, line = run_selftest(host)
    print(line)
    return 0 if ok else 1


def _serve_config_error(name: str | None, message: str) -> int:
    """Serve anyway: tools/list works and every call returns the message."""
    from .early_connect import skip_sdk_extras

    skip_sdk_extras()
    from .server import serve

    print(f"remote-mcp: {message}", file=sys.stderr)
    placeholder = HostConfig(name=name or "remote", hostname=name or "unconfigured")
    try:
        serve(placeholder, config_error=message)
    except KeyboardInterrupt:
        pass
    return 0
