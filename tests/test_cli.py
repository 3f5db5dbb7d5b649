"""`python -m remote_mcp --test`: the exact success line, or one failure line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from remote_mcp.testing import SshdServer, free_port


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remote_mcp", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
        check=False,
    )


def test_self_test_exercises_every_tool_and_prints_one_line(sshd: SshdServer, remote) -> None:
    before = remote.sh("ls -d /tmp/remote-mcp-test.* 2>/dev/null | wc -l").strip()
    proc = run_cli("--host", "test", "--test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"Connected to test ({sshd.user}@127.0.0.1). All tools: OK\n"
    # Its private temporary directory is gone again.
    assert remote.sh("ls -d /tmp/remote-mcp-test.* 2>/dev/null | wc -l").strip() == before


def test_self_test_failure_is_one_line_naming_the_step(sshd: SshdServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"hosts:\n  down:\n    hostname: 127.0.0.1\n    port: {free_port()}\n"
        f"    user: {sshd.user}\n    connect_timeout_s: 3\n"
    )
    proc = run_cli("--config", str(config), "--host", "down", "--test")
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("remote-mcp --test down: connect failed: ")
    assert "port" in lines[0]
