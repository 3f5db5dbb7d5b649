"""``remote-mcp doctor``: walk a host's set-up one step at a time.

config -> DNS -> TCP -> SSH banner -> host key -> authentication -> remote
shell and tools -> state directory -> round trip and bandwidth. Each step
prints one line (ok / warning / failed, with the fix); the first failure
stops the walk, since later steps cannot run. Exit status 0 means the host
is usable. A closing summary says how each tool will work there.
"""

from __future__ import annotations

import base64
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from .config import HostConfig, load_config
from .connection import HostConnection, fingerprint, tcp_connect
from .errors import AuthError, HostKeyError, RemoteMCPError
from .session import Session
from .ssh_keys import check_keys
from .target import SshTarget, resolve_target
from .templates import render
from .tools.guard import guard_summary

__all__ = ["run_doctor"]

SAMPLE_BYTES = 1 << 20
PINGS = 5


class _Stop(Exception):
    """A failed step: the walk ends here."""


@dataclass
class _Report:
    out: TextIO
    failed: bool = False
    warnings: int = 0
    facts: dict[str, str] = field(default_factory=dict)

    def line(self, status: str, step: str, text: str) -> None:
        print(f"{status:<7} {step:<14} {text}", file=self.out)

    def ok(self, step: str, text: str) -> None:
        self.line("ok", step, text)

    def warn(self, step: str, text: str) -> None:
        self.warnings += 1
        self.line("warning", step, text)

    def fail(self, step: str, text: str) -> _Stop:
        self.failed = True
        self.line("failed", step, text)
        return _Stop(text)


def run_doctor(name: str | None, config: str | None, out: TextIO = sys.stdout) -> int:
    report = _Report(out)
    try:
        host, target = _config_step(report, name, config)
        first = target.jumps[0] if target.jumps else target
        _network_steps(report, first, via=bool(target.jumps))
        conn = _ssh_steps(report, host, target)
        conn.close()
        _remote_steps(report, host)
    except _Stop:
        pass
    if report.failed:
        print("Result: not usable yet: fix the failed step above and run doctor again.", file=out)
        return 1
    _summary(report, host)
    print(f"Result: {host.name} is usable ({report.warnings} warning(s)).", file=out)
    return 0


def _config_step(
    report: _Report, name: str | None, config: str | None
) -> tuple[HostConfig, SshTarget]:
    try:
        cfg = load_config(config)
        host = cfg.host(name)
        target = resolve_target(host)
    except RemoteMCPError as err:
        raise report.fail("config", str(err)) from None
    source = (
        "config.yaml"
        if host.name in cfg.hosts
        else ("user@host" if "@" in host.name else "~/.ssh/config")
    )
    try:
        for endpoint in (*target.jumps, target):
            check_keys(endpoint)
    except RemoteMCPError as err:
        raise report.fail("keys", str(err)) from None
    jumps = f" via {', '.join(h.address for h in target.jumps)}" if target.jumps else ""
    report.ok("config", f"{host.name} -> {target.destination}:{target.port}{jumps} ({source})")
    return host, target


def _network_steps(report: _Report, first: SshTarget, via: bool) -> None:
    label = " (first jump host)" if via else ""
    try:
        addresses = {str(i[4][0]) for i in socket.getaddrinfo(first.hostname, first.port)}
    except socket.gaierror as exc:
        raise report.fail(
            "DNS",
            f"cannot resolve {first.hostname!r}{label} ({exc.strerror}): check the "
            "hostname (or HostName in ~/.ssh/config) and DNS.",
        ) from None
    report.ok("DNS", f"{first.hostname}{label} -> {', '.join(sorted(addresses))}")
    start = time.perf_counter()
    try:
        sock = tcp_connect(first)
    except RemoteMCPError as err:
        raise report.fail("TCP", str(err)) from None
    report.ok("TCP", f"{first.address} connected in {(time.perf_counter() - start) * 1000:.0f} ms")
    try:
        sock.settimeout(first.connect_timeout_s)
        banner = sock.recv(256).split(b"\n")[0].strip()
    except OSError:
        banner = b""
    finally:
        sock.close()
    if not banner.startswith(b"SSH-"):
        what = f"sent {banner[:40]!r}" if banner else "sent no SSH banner"
        raise report.fail(
            "SSH banner",
            f"{first.address} accepted the connection but {what} within "
            f"{first.connect_timeout_s:g} s: is this port an SSH server?",
        )
    report.ok("SSH banner", banner.decode("ascii", "replace"))


def _ssh_steps(report: _Report, host: HostConfig, target: SshTarget) -> HostConnection:
    conn = HostConnection(host)
    try:
        fabric_conn = conn.open()
    except HostKeyError as err:
        raise report.fail("host key", str(err)) from None
    except AuthError as err:
        report.ok("host key", "known (matches known_hosts)")
        raise report.fail("authentication", str(err)) from None
    except RemoteMCPError as err:
        raise report.fail("SSH", str(err)) from None
    transport = fabric_conn.transport
    assert transport is not None
    key = transport.get_remote_server_key()
    report.ok("host key", f"{key.get_name()} {fingerprint(key)} matches known_hosts")
    agent = ", ssh-agent available" if target.use_agent else ""
    report.ok("authentication", f"as {transport.get_username()}{agent}")
    return conn


def _remote_steps(report: _Report, host: HostConfig) -> None:
    session = Session(host)
    try:
        try:
            session.connect()
            result = session.run(render("doctor.sh.j2", state_dir="", sample_bytes=0), warn=True)
        except RemoteMCPError as err:
            raise report.fail("remote shell", str(err)) from None
        facts = _parse(result.stdout)
        report.facts = facts
        shell = facts.get("shell", "?")
        report.ok("remote shell", f"{shell}, {facts.get('uname', '')}".strip())
        _tool_lines(report, facts)
        state = facts.get("state", "failed=?").split("=", 1)
        if state[0] != "ok":
            report.warn(
                "state dir",
                f"{state[1]} is not writable: background Bash jobs need it; "
                "check the home directory's permissions or disk space.",
            )
        else:
            report.ok("state dir", f"{state[1]} writable")
        _speed(report, session, "base64" in _present(facts))
    finally:
        session.close()


def _parse(text: str) -> dict[str, str]:
    """doctor.sh.j2's ``key=value`` lines; ``tool=NAME=PATH`` becomes ``tool:NAME``."""
    facts: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "tool":
            key, _, value = f"tool:{value}".partition("=")
        facts[key] = value
    return facts


def _present(facts: dict[str, str]) -> set[str]:
    return {k[5:] for k, v in facts.items() if k.startswith("tool:") and v}


def _tool_lines(report: _Report, facts: dict[str, str]) -> None:
    present = _present(facts)
    found = ", ".join(sorted(present)) or "none"
    report.ok("remote tools", f"{found}; grep: {facts.get('grep')}, find: {facts.get('find')}")
    advice = {
        "bash": "Bash runs under /bin/sh: install bash for Claude Code's shell semantics",
        "setsid": "background jobs cannot get their own session: install util-linux (setsid)",
        "sha256sum": "Edit's content checks are slower without sha256sum (coreutils)",
        "base64": "binary reads need base64 (coreutils)",
    }
    for tool, text in advice.items():
        if tool not in present:
            report.warn("remote tools", f"no {tool}: {text}")
    if "python3" not in present and "openssl" not in present:
        report.warn(
            "remote tools",
            "neither python3 nor openssl: Edit and Write hash files over 1 MiB with "
            "sha256sum, about 4x slower; install openssl",
        )
    if "rg" not in present and facts.get("grep") != "GNU":
        report.warn(
            "remote tools",
            "neither rg nor GNU grep: Grep searches file by file with the host's grep "
            "(slower on large trees); install ripgrep",
        )


def _speed(report: _Report, session: Session, can_sample: bool) -> None:
    times = []
    for _ in range(PINGS):
        start = time.perf_counter()
        session.run(":", warn=True)
        times.append(time.perf_counter() - start)
    report.ok(
        "round trip", f"{statistics.median(times) * 1000:.1f} ms per command (median of {PINGS})"
    )
    if not can_sample:
        report.warn("bandwidth", "not measured (no base64 on the remote)")
        return
    start = time.perf_counter()
    result = session.run(render("doctor.sh.j2", state_dir="", sample_bytes=SAMPLE_BYTES), warn=True)
    seconds = time.perf_counter() - start
    sample = _parse(result.stdout).get("sample", "")
    received = len(base64.b64decode(sample)) if sample else 0
    if received != SAMPLE_BYTES:
        report.warn("bandwidth", "not measured (the sample did not arrive whole)")
        return
    rate = len(sample) / seconds / 1e6
    report.ok("bandwidth", f"~{rate:.1f} MB/s download (1 MiB random data, base64)")


def _summary(report: _Report, host: HostConfig) -> None:
    present = _present(report.facts)
    facts = report.facts
    grep = (
        "rg"
        if "rg" in present
        else "GNU grep fallback (no rg)"
        if facts.get("grep") == "GNU"
        else f"busybox (no rg or GNU grep; {facts.get('grep')} grep, file by file)"
    )
    glob = (
        "GNU find"
        if facts.get("find") == "GNU"
        else "rg --files"
        if "rg" in present
        else f"find fallback (no rg; {facts.get('find')} find)"
    )
    edit = (
        "python3"
        if "python3" in present
        else "perl"
        if "perl" in present
        else ("local (no python3 or perl: the file travels both ways)")
    )
    backends = {
        "Grep": (host.grep_backend, grep),
        "Glob": (host.find_backend, glob),
        "Edit": (host.edit_backend, edit),
    }
    lines = ["Bash: " + ("bash" if "bash" in present else "/bin/sh (no bash)")]
    for tool, (forced, auto) in backends.items():
        lines.append(
            f"{tool}: {auto}" if forced == "auto" else f"{tool}: {forced} (forced in config)"
        )
    lines.append("Guard: " + guard_summary(host))
    print("Summary:", file=report.out)
    for line in lines:
        print(f"  {line}", file=report.out)
