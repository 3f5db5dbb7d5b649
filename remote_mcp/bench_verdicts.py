"""Issue 13's targets for ``invoke bench``: what a measured row is judged
against, the verdict and its cause, and the summary table of the report."""

from __future__ import annotations

import math
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


def link_rtt(run: dict[str, Any]) -> float:
    """The RTT a run's round trips are counted in: its link's, as measured
    through the proxy (``link_rtt_ms``: the proxy's timers wake late), else
    the nominal 2 x delay of older data (0 at RTT 0: no link)."""
    return float(run.get("link_rtt_ms") or run["rtt_ms"])


def target_for(name: str, what: str) -> Target | None:
    """The target a row is held to (None: reported for scale only)."""
    if name == "baseline" or "local fallback" in what:
        return None
    if "10 MB" in what and name in ("Edit", "MultiEdit"):
        return BIG_EDIT
    return PER_CALL


def is_met(row: Row, rtt_ms: float) -> bool | None:
    """Whether ``row`` meets its target (None: it has none)."""
    target = target_for(row.name, row.what)
    if target is None:
        return None
    if rtt_ms:
        return row.median_ms <= target.rtts * rtt_ms
    return row.median_ms <= target.ms_at_zero


# The verdict's words in each language of the report (bench_report).
VERDICT_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "met": "**met**",
        "missed": "**missed**",
        "colon": ": ",
        "sep": ", ",
        "unreported": "waiting {ms:.0f} ms (remote time not reported)",
        "exchanges": "{rtts:.1f} RTT of waiting (more than one exchange)",
        "remote": "remote work {ms:.0f} ms",
        "busy": " ({ms:.0f} ms when calls follow back to back, at RTT 0)",
        "local": "local work {ms:.0f} ms",
        "load": "load",
    },
    "zh": {
        "met": "**达标**",
        "missed": "**未达标**",
        "colon": "：",
        "sep": "，",
        "unreported": "等待 {ms:.0f} ms（远端未报告耗时）",
        "exchanges": "等待了 {rtts:.1f} RTT（不止一次往返）",
        "remote": "远端工作 {ms:.0f} ms",
        "busy": "（调用紧接着调用时为 {ms:.0f} ms，即 RTT 0 时）",
        "local": "本地工作 {ms:.0f} ms",
        "load": "负载",
    },
}


def verdict(row: Row, rtt_ms: float, lang: str = "en", busy_ms: float | None = None) -> str:
    """``met``, or ``missed`` with where the time went (from the phase timer)."""
    met = is_met(row, rtt_ms)
    words = VERDICT_WORDS[lang]
    if met is None:
        return "-"
    if met:
        return words["met"]
    return words["missed"] + words["colon"] + cause(row, rtt_ms, lang, busy_ms)


def cause(row: Row, rtt_ms: float, lang: str = "en", busy_ms: float | None = None) -> str:
    """Where a row's time went, from its phases: remote work, extra exchanges,
    local work. ``busy_ms``: the same call's remote work at RTT 0, where calls
    follow each other with no idle time between (on a machine whose cores
    idle between calls, the same command takes longer after a pause)."""
    words = VERDICT_WORDS[lang]
    p = row.phases or {}
    parts = []
    remote = p.get("remote", float("nan"))
    if remote is None:
        remote = float("nan")
    waited = p.get("wait", 0.0) - (0.0 if math.isnan(remote) else remote)
    if math.isnan(remote):  # the Bash tool's own shell: its wait mixes link and work
        parts.append(words["unreported"].format(ms=p.get("wait", 0.0)))
    else:
        if rtt_ms and waited > 1.5 * rtt_ms:
            parts.append(words["exchanges"].format(rtts=waited / rtt_ms))
        said = words["remote"].format(ms=remote)
        if rtt_ms and busy_ms is not None and not math.isnan(busy_ms):
            said += words["busy"].format(ms=busy_ms)
        parts.append(said)
    local = p.get("before", 0.0) + p.get("write", 0.0) + p.get("after", 0.0)
    if local >= 2:
        parts.append(words["local"].format(ms=local))
    return words["sep"].join(parts) or words["load"]


def fmt_ms(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def in_rtts(ms: float, rtt_ms: float) -> str:
    return f" ({ms / rtt_ms:.1f} RTT)" if rtt_ms else ""
