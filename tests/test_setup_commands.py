"""The set-up subcommands: doctor, hosts, add-host, sandbox (issue 10 parts
3-5) and the sandbox's stale pid file (issue 9, item 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from remote_mcp import registration, sandbox
from remote_mcp.testing import SshdServer

HOME = Path(os.environ["HOME"])
KEY = HOME / ".ssh" / "id_ed25519"


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remote_mcp", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ},
        check=False,
    )


def test_doctor_is_green_on_the_fixture(sshd: SshdServer) -> None:
    proc = run_cli("doctor", "--host", "test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    steps = ["config", "DNS", "TCP", "SSH banner", "host key", "authentication", "remote shell"]
    for step in [*steps, "remote tools", "state dir", "round trip", "bandwidth"]:
        assert any(line.startswith("ok") and f" {step} " in line for line in out.splitlines()), (
            step,
            out,
        )
    assert "failed" not in out
    assert "SSH-2.0-OpenSSH" in out
    assert "Edit: python3" in out and "Summary:" in out
    assert "Guard: test: read-write, Bash allowed (bash: auto;" in out
    assert out.rstrip().endswith("warning(s)).") and "Result: test is usable" in out


def test_doctor_is_red_with_the_fix_on_a_wrong_key(sshd: SshdServer, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"hosts:\n  wrong:\n    hostname: 127.0.0.1\n    port: {sshd.port}\n"
        f"    user: {sshd.user}\n    key_path: {other}\n"
    )
    hidden = KEY.with_suffix(".hidden")
    KEY.rename(hidden)  # else the default key would be tried (and work)
    try:
        proc = run_cli("doctor", "--config", str(config), "--host", "wrong")
    finally:
        hidden.rename(KEY)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(line.startswith("ok") and " host key " in line for line in lines)
    failed = [line for line in lines if line.startswith("failed")]
    assert len(failed) == 1 and " authentication " in failed[0]
    assert f"key {other}" in failed[0] and "authorized_keys" in failed[0]
    assert lines[-1].startswith("Result: not usable yet")
    assert proc.stderr == ""


def test_hosts_lists_config_and_ssh_config_aliases(sshd: SshdServer, tmp_path: Path) -> None:
    ssh_config = HOME / ".ssh" / "config"
    ssh_config.write_text(
        f"Host fromssh other-*\n  HostName 127.0.0.1\n  Port {sshd.port}\n"
        f"Host unknownkey\n  HostName 127.0.0.2\n  IdentityFile {KEY}\n"
    )
    try:
        proc = run_cli("hosts")
    finally:
        ssh_config.unlink()
    assert proc.returncode == 0, proc.stderr
    assert "  test (default): ready" in proc.stdout
    assert "  fromssh: ready" in proc.stdout
    assert "  unknownkey: needs set-up: host key of 127.0.0.2 not in known_hosts" in proc.stdout
    assert "other-*" not in proc.stdout


def test_add_host_keeps_comments_and_order_then_tests(sshd: SshdServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    original = (
        "# My remote-mcp hosts\n"
        "hosts:\n"
        "  # the old box\n"
        "  old:\n"
        "    hostname: 10.9.9.9   # not reachable\n"
        "\n"
        "# pick this one by default\n"
        "default_host: old\n"
    )
    config.write_text(original)
    proc = run_cli(
        "add-host",
        "new",
        "--config",
        str(config),
        "--hostname",
        "127.0.0.1",
        "--port",
        str(sshd.port),
        "--user",
        sshd.user,
        "--key",
        str(KEY),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = config.read_text()
    # Everything the user wrote is still there, in order; the block follows "old".
    assert text.startswith("# My remote-mcp hosts\nhosts:\n  # the old box\n  old:\n")
    assert text.index("  new:") > text.index("    hostname: 10.9.9.9   # not reachable")
    assert text.index("  new:") < text.index("# pick this one by default")
    assert text.endswith("# pick this one by default\ndefault_host: old\n")
    assert f"Connected to new ({sshd.user}@127.0.0.1). All tools: OK" in proc.stdout
    line = registration.mcp_add_line("new", config=config)
    assert line in proc.stdout
    assert line.split(" -- ")[1].split()[0].startswith("/")  # an absolute command
    # Adding the same name again is refused and leaves the file alone.
    again = run_cli("add-host", "new", "--config", str(config), "--hostname", "x", "--no-test")
    assert again.returncode == 2 and "host 'new' already exists" in again.stderr
    assert config.read_text() == text


def test_add_host_from_ssh_config_creates_the_file(sshd: SshdServer, tmp_path: Path) -> None:
    ssh_config = HOME / ".ssh" / "config"
    ssh_config.write_text(f"Host viassh\n  HostName 127.0.0.1\n  Port {sshd.port}\n")
    config = tmp_path / "fresh" / "config.yaml"
    try:
        proc = run_cli("add-host", "box", "--config", str(config), "--from-ssh-config", "viassh")
    finally:
        ssh_config.unlink()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert config.read_text() == "hosts:\n  box:\n    hostname: viassh\n"


def test_registration_line_is_absolute() -> None:
    argv = registration.server_command()
    assert Path(argv[0]).is_absolute() and Path(argv[0]).exists()
    assert "python -m" not in registration.mcp_add_line("h").replace(sys.executable, "")


def _pending_sigterm(pid: int) -> bool:
    """Whether SIGTERM was sent to ``pid`` (it blocks it, so it stays pending)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(ln for ln in status.splitlines() if ln.startswith("ShdPnd:")).split()[1], 16)
    return bool(mask & (1 << (15 - 1)))


def test_stale_sandbox_pid_is_not_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pid file naming a process that is not the sandbox's sshd (the pid
    was reused) must not get that process signalled. The bystander blocks
    SIGTERM, so a signal sent shows as pending: no race with its exit."""
    monkeypatch.setattr(sandbox, "SANDBOX_DIR", tmp_path)
    code = (
        "import signal, sys, time; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}); "
        "print('ready', flush=True); time.sleep(120)"
    )
    bystander = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert bystander.stdout is not None and bystander.stdout.readline() == "ready\n"
        (tmp_path / "sshd.pid").write_text(f"{bystander.pid} 2222\n")
        assert sandbox.stop_sandbox() is False
        assert not _pending_sigterm(bystander.pid)
        assert not (tmp_path / "sshd.pid").exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_sandbox_subcommand_starts_tests_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "REMOTE_MCP_SANDBOX_DIR": str(tmp_path / "sb")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "remote_mcp", "sandbox", *args]
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=180, check=False
        )

    started = cli()
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Connected to sandbox" in started.stdout and "All tools: OK" in started.stdout
        assert "claude mcp add --scope user remote-sandbox -- /" in started.stdout
        pid = int((tmp_path / "sb" / "sshd.pid").read_text().split()[0])
    finally:
        stopped = cli("--stop")
    assert stopped.stdout.strip() == "sandbox sshd stopped"
    assert (
        not Path(f"/proc/{pid}").exists()
        or b"sshd" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )


@pytest.mark.parametrize(
    ("tools", "warned"),
    [
        (("bash", "perl", "sha256sum"), True),
        (("bash", "perl", "sha256sum", "openssl"), False),
        (("bash", "python3", "sha256sum"), False),
    ],
)
def test_doctor_says_when_big_files_hash_slowly(tools: tuple[str, ...], warned: bool) -> None:
    """Without python3 (which hashes itself) Edit hashes big files with a tool:
    openssl is the fast one, and doctor says so when it is missing."""
    import io

    from remote_mcp.doctor import _Report, _tool_lines

    out = io.StringIO()
    facts = {f"tool:{name}": f"/usr/bin/{name}" for name in tools}
    _tool_lines(_Report(out), {**facts, "grep": "GNU", "find": "GNU"})
    assert ("install openssl" in out.getvalue()) is warned
