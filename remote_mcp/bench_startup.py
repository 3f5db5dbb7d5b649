"""Start-up figures for ``invoke bench``: the server's cold start (spawn to
``initialize`` answered, with ``python -X importtime``) and the first tool
result after spawn over the delay proxy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import HostConfig
from .session import Session
from .templates import render
from .testing import LinkProxy, SshdServer, remote_exec, start_sshd

# The first request of every spawned server (the bench is its MCP client).
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}


BENCH_USER = "rmcp-test"
"""The test suite's unprivileged account (no shell profile, home /tmp)."""


def bench_sshd(directory: Path) -> SshdServer:
    """A throwaway sshd that lets ``BENCH_USER`` log in when run as root.

    The bench logs in as that plain account: root's profile on a developer
    machine (pyenv's shims first on PATH) would make every remote ``python3``
    a shell script and every login slower, which a real host's user lacks.
    """
    return start_sshd(directory, other_user=BENCH_USER)


def login_user(server: SshdServer) -> str:
    return server.other_user or server.user


def hand_over(server: SshdServer, tmp: Path, area: str) -> None:
    """Give ``area`` (made by root's setup script) to the login user."""
    if server.other_user:
        tmp.chmod(0o711)  # TemporaryDirectory is 0700: let the account reach area
        script = render("bench_hand_over.sh.j2", user=server.other_user, area=area)
        rc, _, err = remote_exec(server, script, 300)
        assert rc == 0, err


def bench_host(server: SshdServer, port: int, known_hosts: Path) -> HostConfig:
    """The bench's host: ``server`` reached on ``port`` (its own, or a proxy's)."""
    return HostConfig(
        name="bench",
        hostname="127.0.0.1",
        port=port,
        user=login_user(server),
        key_path=str(server.client_key),
        known_hosts=str(known_hosts),
    )


def connect_phases(host: HostConfig, repeat: int) -> tuple[float, float]:
    """Best of ``repeat``: the SSH handshake (TCP, kex, auth) and the set-up
    after it (probe and worker shells). The minimum, because CPU load on a
    shared machine only ever adds time."""
    handshakes, setups = [], []
    for _ in range(max(1, repeat)):
        session = Session(host)
        try:
            t0 = time.perf_counter()
            session.conn.open()
            t1 = time.perf_counter()
            session.connect()
            session.pool.warm()
            t2 = time.perf_counter()
        finally:
            session.close()
        handshakes.append((t1 - t0) * 1000)
        setups.append((t2 - t1) * 1000)
    return min(handshakes), min(setups)


def cold_start(python: str = sys.executable, repeat: int = 3) -> dict[str, float]:
    """Spawn -> ``initialize`` answered, raw JSON-RPC over the server's stdio,
    against ``import mcp`` alone: the SDK's import is the floor. Best of
    ``repeat`` (ms). The host is unconfigured (no SSH is needed for this), so
    no connect thread imports paramiko alongside."""
    request = INITIALIZE
    line = (json.dumps(request) + "\n").encode()
    env = {**os.environ, "REMOTE_MCP_CONFIG": os.devnull}
    spawn, floor = [], []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        proc = spawn_server("--host", "nowhere", env=env, python=python)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line)
        proc.stdin.flush()
        answer = proc.stdout.readline()
        spawn.append((time.perf_counter() - t0) * 1000)
        proc.stdin.close()
        proc.wait(timeout=30)
        assert b'"id":1' in answer.replace(b" ", b""), answer[:200]
        t0 = time.perf_counter()
        subprocess.run([python, "-c", "import mcp"], check=True, env=env)
        floor.append((time.perf_counter() - t0) * 1000)
    return {"initialize_ms": min(spawn), "import_mcp_ms": min(floor)} | import_times(python)


def import_times(python: str = sys.executable) -> dict[str, float]:
    """``python -X importtime`` of the server module: cumulative ms of the mcp
    SDK and of remote_mcp.server (which includes it), the floor's make-up."""
    proc = subprocess.run(
        [python, "-X", "importtime", "-c", "import remote_mcp.server"],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = [x.strip() for x in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2] in ("mcp", "remote_mcp.server"):
            found.setdefault(f"importtime_{parts[2]}_ms", int(parts[1]) / 1000)
    return found


def spawn_server(
    *args: str, env: dict[str, str] | None = None, python: str = sys.executable
) -> subprocess.Popen[bytes]:
    """The real server as a client starts it: stdio pipes, stderr dropped."""
    proc = subprocess.Popen(
        [python, "-m", "remote_mcp", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    return proc


def _rpc(proc: subprocess.Popen[bytes], message: dict[str, Any], want: int | None) -> bytes:
    """Send one JSON-RPC message; with ``want``, read lines until its answer."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()
    while want is not None:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the server closed its stdout")
        if json.loads(line).get("id") == want:
            return line
    return b""


def first_result(delay_ms: float, repeat: int = 3) -> dict[str, float]:
    """Spawn the real server over stdio, with the host behind the delay
    proxy: ms to ``initialize`` answered and to the first tool result (a
    Read), best of ``repeat``; and the SSH handshake alone (best of
    ``repeat``) for the target (issue 13 part 3)."""
    with tempfile.TemporaryDirectory(prefix="remote-mcp-bench-") as tmp:
        server = bench_sshd(Path(tmp) / "sshd")
        proxy = LinkProxy("127.0.0.1", server.port, delay_s=delay_ms / 1000).start()
        try:
            known = Path(tmp) / "known_hosts"
            known.write_text(
                server.known_hosts_line.replace(f"]:{server.port} ", f"]:{proxy.port} ")
            )
            config = Path(tmp) / "config.yaml"
            config.write_text(
                f"hosts:\n  bench:\n    hostname: 127.0.0.1\n    port: {proxy.port}\n"
                f"    user: {login_user(server)}\n    key_path: {server.client_key}\n"
                f"    known_hosts: {known}\n"
            )
            target = Path(tmp) / "hello.txt"
            target.write_text("hello\n")
            hand_over(server, Path(tmp), str(target))
            host = bench_host(server, proxy.port, known)
            handshake_ms, _ = connect_phases(host, repeat)
            init, first = [], []
            for _ in range(max(1, repeat)):
                init_ms, first_ms = _spawn_and_read(config, str(target))
                init.append(init_ms)
                first.append(first_ms)
        finally:
            proxy.close()
            server.stop()
    return {
        "rtt_ms": 2 * delay_ms,
        "handshake_ms": handshake_ms,
        "initialize_ms": min(init),
        "first_result_ms": min(first),
    }


def _spawn_and_read(config: Path, path: str) -> tuple[float, float]:
    initialize = INITIALIZE
    read = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "Read", "arguments": {"file_path": path}},
    }
    t0 = time.perf_counter()
    proc = spawn_server("--config", str(config), "--host", "bench")
    try:
        _rpc(proc, initialize, 1)
        init_ms = (time.perf_counter() - t0) * 1000
        _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"}, None)
        answer = _rpc(proc, read, 2)
        first_ms = (time.perf_counter() - t0) * 1000
        assert b"hello" in answer, answer[:300]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    return init_ms, first_ms
