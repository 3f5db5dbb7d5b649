"""The benchmark report, rendered from data: ``python -m remote_mcp.bench_report``.

Each bench writes its measurements as JSON into ``docs/reference/bench-data/``
(calls, startup, memory, scaling, fleet: one file each, with the conditions
they were taken under) and calls `write_pages`, which renders
docs/reference/benchmark.md and its Chinese sibling from every file there.
So running one bench refreshes the report without losing the others'
sections, and the pages never hold a number that is not in the data
(tests/test_bench_report.py checks both, and that the committed pages are
what the committed data renders to).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .bench_report_curves import scaling_section
from .bench_report_fleet import fleet_section
from .bench_report_sections import (
    big_edits,
    busy_remote,
    calls_section,
    cold_start_section,
    first_result_section,
    memory_section,
    one_line_edit_section,
)
from .bench_report_targets import targets_section
from .bench_report_words import pick
from .templates import render as render_template

__all__ = [
    "DATA",
    "KINDS",
    "conditions",
    "load",
    "machine_pace",
    "publish",
    "render",
    "save",
    "write_pages",
]

DATA = Path(__file__).resolve().parent.parent / "docs" / "reference" / "bench-data"
KINDS = ("calls", "startup", "memory", "scaling", "fleet")
COMMANDS = ("invoke bench", "invoke bench --scaling", "invoke bench --fleet")


def conditions(load_before: float, command: str) -> dict[str, Any]:
    """What every measurement is reported with: when, where, under what load,
    and how fast this machine is (`machine_pace`)."""
    load_after = os.getloadavg()[0]
    return {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "command": command,
        "machine": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count() or 1,
        "python": platform.python_version(),
        "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
        "pace": machine_pace(),
    }


def machine_pace() -> dict[str, float]:
    """Four figures that set this machine's pace, best of three, so runs on
    different machines of one kind can be told apart from changes in the code:
    Python bytecode (the server, the remote engines), a process started from
    sh (most remote work is forks), python3 started (the Write and Edit
    engines) and 10 MB written and fsync'ed (Edit)."""

    def best(measure: Callable[[], float]) -> float:
        return round(min(measure() for _ in range(3)), 2)

    def loop_ms() -> float:
        start = time.perf_counter()
        total = 0
        for step in range(1_000_000):
            total += step
        return (time.perf_counter() - start) * 1000

    def spawn_ms() -> float:
        start = time.perf_counter()
        subprocess.run(["sh", "-c", render_template("bench_pace.sh.j2", count=50)], check=True)
        return (time.perf_counter() - start) * 1000 / 50

    def python_ms() -> float:  # the engines' start, as a plain account's PATH finds python3
        python3 = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
        if python3 is None:
            return math.nan
        start = time.perf_counter()
        subprocess.run([python3, "-I", "-S", "-c", "pass"], check=False)
        return (time.perf_counter() - start) * 1000

    def fsync_ms() -> float:
        block = b"x" * (10 << 20)
        with tempfile.TemporaryFile() as f:
            start = time.perf_counter()
            f.write(block)
            f.flush()
            os.fsync(f.fileno())
            return (time.perf_counter() - start) * 1000

    return {
        "loop_ms": best(loop_ms),
        "spawn_ms": best(spawn_ms),
        "python_ms": best(python_ms),
        "fsync_10mb_ms": best(fsync_ms),
    }


def _plain(value: Any) -> Any:
    """JSON has no NaN: a figure that was not measured is null."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def save(data_dir: Path, kind: str, payload: dict[str, Any]) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown benchmark data {kind!r}: use one of {', '.join(KINDS)}")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{kind}.json"
    path.write_text(json.dumps(_plain(payload), indent=1, ensure_ascii=False) + "\n")
    return path


def load(data_dir: Path) -> dict[str, Any]:
    """Every bench's data found in ``data_dir`` (a missing file: its sections are left out)."""
    found = {}
    for kind in KINDS:
        path = data_dir / f"{kind}.json"
        if path.exists():
            found[kind] = json.loads(path.read_text())
    return found


def render(data: dict[str, Any], lang: str = "en") -> str:
    """One page of the report, in English (``en``) or Simplified Chinese (``zh``)."""
    switch = {
        "en": "English | [简体中文](benchmark.zh.md)",
        "zh": "[English](benchmark.md) | 简体中文",
    }[lang]
    head = [
        pick(lang, "# remote-mcp benchmark", "# remote-mcp 基准测试"),
        "",
        switch,
        "",
        pick(
            lang,
            "Generated by `python -m remote_mcp.bench_report` from the measurements in "
            "`docs/reference/bench-data/` (one JSON file per bench, with the conditions it "
            "ran under); do not edit by hand. Each bench rewrites its own file and "
            "re-renders this page and its translation, so running one of them refreshes "
            "the report without losing the others' sections. A full regeneration, on a "
            "quiet machine:",
            "本页由 `python -m remote_mcp.bench_report` 根据 `docs/reference/bench-data/` "
            "中的测量数据生成（每个基准测试一个 JSON 文件，附带运行条件），请勿手工修改。"
            "每个基准测试只重写自己的文件，并重新生成本页及其英文原文，所以运行其中任何一个"
            "都会刷新报告，而不会丢失其他部分。在空闲的机器上完整地重新生成：",
        ),
        "",
        "```sh",
        *COMMANDS,
        "```",
        "",
        pick(
            lang,
            "Every section gives the load average (1 minute) before and after its run and "
            "the number of CPUs. Above that number every time includes waiting for a CPU "
            "(forks most of all), so a verdict measured under load says where the time "
            "went, not what the code costs on an idle host.",
            "每一节都给出运行前后的负载均值（1 分钟）和 CPU 个数。负载高于 CPU 个数时，"
            "每个时间都包含等待 CPU 的时间（fork 尤其如此），所以在负载下测得的结论说明"
            "时间花在了哪里，而不是代码在空闲主机上的代价。",
        ),
    ]
    parts = ["\n".join(head), targets_section(data, lang)]
    calls = data.get("calls")
    if calls:
        busy = busy_remote(calls)
        parts += [calls_section(run, lang, busy) for run in calls["runs"]]
        if big_edits(calls):
            parts.append(one_line_edit_section(calls, lang))
    if "memory" in data:
        parts.append(memory_section(data["memory"], lang))
    startup = data.get("startup", {})
    if startup.get("first_result"):
        parts.append(first_result_section(startup, lang))
    if startup.get("cold_start"):
        parts.append(cold_start_section(startup, lang))
    if "scaling" in data:
        parts.append(scaling_section(data["scaling"], lang))
    if "fleet" in data:
        parts.append(fleet_section(data["fleet"], lang))
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def pages(data_dir: Path) -> dict[Path, str]:
    """benchmark.md and benchmark.zh.md, next to ``data_dir``, as rendered from it."""
    data = load(data_dir)
    return {
        data_dir.parent / "benchmark.md": render(data, "en"),
        data_dir.parent / "benchmark.zh.md": render(data, "zh"),
    }


def write_pages(data_dir: Path) -> list[Path]:
    written = []
    for path, text in pages(data_dir).items():
        path.write_text(text)
        written.append(path)
    return written


def publish(data_dir: Path, kind: str, payload: dict[str, Any]) -> list[Path]:
    """Save one bench's data and re-render both pages from all of it."""
    return [save(data_dir, kind, payload), *write_pages(data_dir)]


def publish_fleet(data_dir: Path, rows: list[Any], meta: dict[str, Any]) -> list[Path]:
    """``bench_fleet``'s rows and meta (its own types) into fleet.json, with its plot."""
    from .bench_fleet import plot
    from .bench_fleet_report import payload

    data_dir.mkdir(parents=True, exist_ok=True)
    plot(rows, meta, data_dir.parent / "benchmark-fleet.png")
    return publish(data_dir, "fleet", payload(rows, meta, "invoke bench --fleet"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m remote_mcp.bench_report",
        description="Render docs/reference/benchmark.md and .zh.md from the benchmark data.",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the bench-data directory")
    parser.add_argument(
        "--check", action="store_true", help="only say whether the pages are up to date"
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no benchmark data in {args.data}: run `invoke bench` first", file=sys.stderr)
        return 2
    stale = [p for p, text in pages(args.data).items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run `python -m remote_mcp.bench_report`", file=sys.stderr)
        return 1 if stale else 0
    for path in write_pages(args.data):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
