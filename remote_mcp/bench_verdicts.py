"""Issue 13's targets for ``invoke bench``: what a measured row is judged
against, the verdict and its cause, and the summary table of the report."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    name: str
    what: str
    median_ms: float
    rtts: float
    commands: float
    sent: float
    received: float
    # Median ms per call of each phase (PhaseClock): local work before the
    # first command (render...), channel writes, waiting for the frames' ends,
    # the remote wall time the frames report, local work after the last one.
    phases: dict[str, float] | None = None
    p90_ms: float = float("nan")


PHASES = ("before", "write", "wait", "remote", "after")


@dataclass(frozen=True)
class Target:
    """Issue 13's bound for a row: round trips at a real RTT, ms at RTT 0."""

    rtts: float
    ms_at_zero: float

    def text(self, rtt_ms: float) -> str:
        return f"≤ {self.rtts:g} RTT" if rtt_ms else f"≤ {self.ms_at_zero:g} ms"


PER_CALL = Target(1.15, 10)
BIG_EDIT = Target(2.2, 60)  # issue 13 target 2: ~60 ms of remote work


def target_for(name: str, what: str) -> Target | None:
    """The target a row is held to (None: reported for scale only)."""
    if name == "baseline" or "local fallback" in what:
        return None
    if "10 MB" in what and name in ("Edit", "MultiEdit"):
        return BIG_EDIT
    return PER_CALL


def verdict(row: Row, rtt_ms: float) -> str:
    """``met``, or ``missed`` with where the time went (from the phase timer)."""
    target = target_for(row.name, row.what)
    if target is None:
        return "-"
    if rtt_ms:
        ok = row.median_ms <= target.rtts * rtt_ms
    else:
        ok = row.median_ms <= target.ms_at_zero
    return "**met**" if ok else f"**missed**: {_cause(row, rtt_ms)}"


def _cause(row: Row, rtt_ms: float) -> str:
    p = row.phases or {}
    parts = []
    remote = p.get("remote", float("nan"))
    waited = p.get("wait", 0.0) - (0.0 if math.isnan(remote) else remote)
    if math.isnan(remote):  # the Bash tool's own shell: its wait mixes link and work
        parts.append(f"waiting {p.get('wait', 0.0):.0f} ms (remote time not reported)")
    else:
        if rtt_ms and waited > 1.5 * rtt_ms:
            parts.append(f"{waited / rtt_ms:.1f} RTT of waiting (more than one exchange)")
        parts.append(f"remote work {remote:.0f} ms")
    local = p.get("before", 0.0) + p.get("write", 0.0) + p.get("after", 0.0)
    if local >= 2:
        parts.append(f"local work {local:.0f} ms")
    return ", ".join(parts) or "load"


def summary(
    runs: list[tuple[list[Row], dict[str, Any]]],
    first: dict[str, float] | None,
    cold: dict[str, float] | None,
) -> str:
    """Issue 13's targets, each met or missed, from the measurements below it."""
    lines = [
        "## Targets (issue 13)",
        "",
        "| target | condition | measured | verdict |",
        "|---|---|---|---|",
    ]
    for rows, meta in runs:
        rtt = meta["rtt_ms"]
        held = [r for r in rows if target_for(r.name, r.what) is PER_CALL]
        missed = [r for r in held if verdict(r, rtt) != "**met**"]
        worst = max(held, key=lambda r: r.median_ms, default=None)
        bound = f"≤ {PER_CALL.rtts:g} RTT" if rtt else f"≤ {PER_CALL.ms_at_zero:g} ms"
        shown = (
            f"{len(held) - len(missed)} of {len(held)} calls met; worst {worst.name} "
            f"({worst.what}) {worst.median_ms:.0f} ms" + (f" = {worst.rtts:.2f} RTT" if rtt else "")
            if worst
            else "-"
        )
        lines.append(
            f"| every single call {bound} | RTT {rtt:.0f} ms, load {meta.get('load', '-')} "
            f"| {shown} | {'**met**' if held and not missed else '**missed**'} |"
        )
        big = [r for r in rows if target_for(r.name, r.what) is BIG_EDIT]
        for r in big:
            lines.append(
                f"| {r.name} {r.what} {BIG_EDIT.text(rtt)} | RTT {rtt:.0f} ms "
                f"| {r.median_ms:.0f} ms, {r.sent + r.received:.0f} bytes | {verdict(r, rtt)} |"
            )
        if rtt:
            setup = meta["setup_ms"]
            lines.append(
                f"| connection set-up ≤ handshake + 2 RTT | RTT {rtt:.0f} ms "
                f"| handshake {meta['handshake_ms']:.0f} ms, then {setup:.0f} ms = "
                f"{setup / rtt:.2f} RTT | {'**met**' if setup <= 2 * rtt else '**missed**'} |"
            )
    if first is not None and first["rtt_ms"]:
        rtt, after = first["rtt_ms"], first["first_result_ms"] - first["initialize_ms"]
        ok = after <= first["handshake_ms"] + 3 * rtt
        lines.append(
            f"| first tool result ≤ handshake + 3 RTT (after `initialize`) | RTT {rtt:.0f} ms "
            f"| {after:.0f} ms = handshake + {(after - first['handshake_ms']) / rtt:.1f} RTT "
            f"| {'**met**' if ok else '**missed**'} |"
        )
    if cold is not None:
        extra = cold["initialize_ms"] - cold["import_mcp_ms"]
        lines.append(
            f"| spawn -> `initialize` ≤ `import mcp` + 80 ms | load {os.getloadavg()[0]:.2f} "
            f"| {cold['initialize_ms']:.0f} ms vs {cold['import_mcp_ms']:.0f} ms ({extra:+.0f} ms) "
            f"| {'**met**' if extra <= 80 else '**missed**'} |"
        )
    cpus = os.cpu_count() or 1
    lines += [
        "",
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {cpus} CPUs. Above "
        f"{cpus}, every time here includes waiting for a CPU (forks most of all), so a verdict "
        "measured under such load says where the time went, not what the code costs on an "
        "idle host.",
    ]
    return "\n".join(lines) + "\n"


def fmt_ms(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def in_rtts(ms: float, rtt_ms: float) -> str:
    return f" ({ms / rtt_ms:.1f} RTT)" if rtt_ms else ""
