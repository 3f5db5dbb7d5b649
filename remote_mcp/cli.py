"""Command line: ``remote-mcp --host NAME [--config PATH] [--test]``.

Without ``--test`` it serves MCP over stdio. Configuration mistakes exit with
code 2 and one readable line on stderr -- never a traceback, because the
person reading it is often looking at an MCP client's server log.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .config import load_config
from .errors import ConfigError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remote-mcp",
        description="MCP stdio server: Claude Code's file and shell tools on a remote host "
        "over SSH.",
    )
    parser.add_argument("--host", help="host name from the config (default: default_host)")
    parser.add_argument(
        "--config",
        help="config file (default: $REMOTE_MCP_CONFIG or ~/.config/remote-mcp/config.yaml)",
    )
    parser.add_argument(
        "--test",
        action="store_true",
        help="connect, exercise every tool in a temporary directory, report and exit",
    )
    parser.add_argument("--version", action="version", version=f"remote-mcp {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        host = config.host(args.host)
    except ConfigError as err:
        print(f"remote-mcp: {err}", file=sys.stderr)
        return 2
    if args.test:
        from .selftest import run_selftest

        ok, line = run_selftest(host)
        print(line)
        return 0 if ok else 1
    from .server import serve

    try:
        serve(host, config.path)
    except KeyboardInterrupt:
        pass
    return 0
