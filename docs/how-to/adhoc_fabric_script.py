"""Reuse remote-mcp's shell templates and tool routines from a plain Fabric script.

Usage: python docs/how-to/adhoc_fabric_script.py HOST PATH

HOST is anything Fabric accepts ("user@host:port" or a ~/.ssh/config alias).
"""

from __future__ import annotations

import os
import sys

import paramiko
from fabric import Connection

from remote_mcp.templates import render
from remote_mcp.tools import files


def main(host: str, path: str) -> None:
    with Connection(host) as conn:
        # Fabric accepts unknown host keys by default; check them like ssh does.
        conn.client.load_system_host_keys()
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())

        # 1. A template, rendered with quoted values, run by Connection.run.
        result = conn.run(render("stat.sh.j2", paths=[path]), hide=True)
        print("stat:", result.stdout.strip())

        # 2. A whole tool routine: a plain Connection is a valid runner.
        print(files.read(conn, path, limit=3).text)
        out = files.write(conn, os.path.join(os.path.dirname(path), "adhoc-copy.txt"), "hi\n")
        print(out.text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
