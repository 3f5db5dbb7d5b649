"""The benchmark report is rendered from its data (remote_mcp.bench_report):
every target has a verdict, the Chinese page has the English page's
structure, the prose holds no number that is not computed from the data, and
the committed pages are exactly what the committed data renders to."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from remote_mcp import bench_report
from tests.test_docs_pages import blocks, headings, links

ROOT = Path(__file__).resolve().parent.parent

CONDITIONS = {
    "date": "2026-12-01 10:00 UTC",
    "command": "python -m remote_mcp.bench",
    "machine": "Linux x86_64",
    "cpus": 2,
    "python": "3.11.7",
    "load_before": 0.41,
    "load_after": 0.73,
}


def _row(name: str, what: str, median: float, remote: float | None, **kw: Any) -> dict[str, Any]:
    phases = {"before": 0.9, "write": 0.4, "wait": median - 1.5, "remote": remote, "after": 0.2}
    row = {"name": name, "what": what, "median_ms": median, "p90_ms": median * 1.2}
    row |= {"rtts": 0.0, "commands": 1, "sent": 1456, "received": 336, "phases": phases}
    return row | kw


def _run(rtt: float, factor: float) -> dict[str, Any]:
    rows = [
        _row("Read", "whole 200-line file", 55 * factor + 7, 4.2),
        _row("Bash", "echo hi on the persistent shell", 53 * factor + 3, None),
        _row("Edit", "1 line of a 10 MB file, python3 on the remote", 140 * factor + 40, 41.0),
        _row(
            "Edit",
            "1 line of a 10 MB file, local fallback (no python3/perl)",
            9000,
            8000.0,
            commands=2,
            sent=1800000,
        ),
        _row("baseline", "fabric Connection.run of the same 20-line read", 400, None, p90_ms=None),
    ]
    for row in rows:
        row["rtts"] = row["median_ms"] / rtt if rtt else 0.0
    return {
        "conditions": CONDITIONS,
        "rtt_ms": rtt,
        "delay_ms": rtt / 2,
        "repeat": 5,
        "connect_ms": 311,
        "handshake_ms": 207,
        "setup_ms": 93,
        "rows": rows,
    }


FIXTURE: dict[str, Any] = {
    "calls": {"conditions": CONDITIONS, "runs": [_run(50, 1), _run(0, 0.1)]},
    "memory": {
        "conditions": CONDITIONS,
        "rows": [
            {
                "what": "Read of a 259 MB file (whole)",
                "peak_mb": 0.3,
                "received": 288,
                "seconds": 0.4,
                "outcome": "refused: too big",
            }
        ],
    },
    "startup": {
        "conditions": CONDITIONS,
        "first_result": {
            "rtt_ms": 50,
            "handshake_ms": 233,
            "initialize_ms": 733,
            "first_result_ms": 1187,
            "repeat": 3,
        },
        "cold_start": {
            "initialize_ms": 613,
            "import_mcp_ms": 571,
            "importtime_mcp_ms": 517,
            "importtime_remote_mcp.server_ms": 647,
            "repeat": 3,
        },
        "tools_list_bytes": 10917,
    },
    "scaling": {
        "conditions": CONDITIONS,
        "meta": {
            "load_before": 0.41,
            "load_after": 0.73,
            "lines": 4000,
            "file_bytes": 1_370_000_000,
            "minutes": 1.7,
            "setup_s": 23,
            "repeat": 3,
            "link_rate_mb_s": 8,
            "link_rtt_ms": 20,
            "parallel_rtt_ms": 50,
            "idle_rss_mb": {"initialize": 61, "first_call": 73, "peak": 77},
        },
        "points": [
            {
                "series": "Read 20 lines at offset (1 GB file)",
                "x": 10,
                "ms": 47,
                "extra": {"received": 352},
            },
            {
                "series": "Read 20 lines at offset (1 GB file)",
                "x": 1000,
                "ms": 61,
                "extra": {"received": 368},
            },
            {
                "series": 'Grep "needle", files_with_matches over N files',
                "x": 1000,
                "ms": 81,
                "extra": {"received": 344},
            },
            {
                "series": "Glob **/*.txt (first 100 shown) over N files",
                "x": 1000,
                "ms": 67,
                "extra": {"received": 416},
            },
            {
                "series": "MultiRead of N files of 200 lines",
                "x": 1,
                "ms": 43,
                "extra": {"received": 400},
            },
            {
                "series": "MultiRead of N files of 200 lines",
                "x": 10,
                "ms": 151,
                "extra": {"received": 5000},
            },
            {
                "series": "N parallel Reads, pool of 3, RTT 50 ms",
                "x": 4,
                "ms": 173,
                "extra": {"rtts": 3.46},
            },
            {
                "series": "Bash printing N bytes",
                "x": 1000,
                "ms": 71,
                "extra": {"peak_rss_mb": 0.7, "received": 320},
            },
            {
                "series": "Upload, compression off",
                "x": 1,
                "ms": 297,
                "extra": {"payload_mb_s": 3.37, "of_link": 0.42, "wire_mb_s": 3.51},
            },
            {
                "series": "Write, compression off",
                "x": 1,
                "ms": 911,
                "extra": {"payload_mb_s": 1.1, "of_link": 0.137, "wire_mb_s": 0.61},
            },
        ],
    },
    "fleet": {
        "conditions": CONDITIONS,
        "meta": {
            "rtt_ms": 50,
            "repeat": 3,
            "one_connect_ms": 419,
            "load_before": 0.41,
            "load_after": 0.73,
            "cpus": 2,
            "sshds": 10,
        },
        "rows": [
            {
                "hosts": 1,
                "connect_ms": 431,
                "bash_ms": 67,
                "grep_ms": 63,
                "rss_mb": 58,
                "threads": 2,
                "failed": 0,
                "load": 0.4,
                "bash_cpu_ms": 9,
            },
            {
                "hosts": 100,
                "connect_ms": 3437,
                "bash_ms": 1286,
                "grep_ms": 959,
                "rss_mb": 91,
                "threads": 101,
                "failed": 1,
                "load": 7.3,
                "bash_cpu_ms": 420,
            },
        ],
    },
}  # fmt: skip -- one point or row a line reads as the table it is

VERDICTS = {
    "en": re.compile(r"^(\*\*met\*\*|\*\*missed\*\*(: .+)?|not measured|reported)$"),
    "zh": re.compile(r"^(\*\*达标\*\*|\*\*未达标\*\*(：.+)?|未测量|已报告)$"),
}


def _targets(page: str) -> list[list[str]]:
    section = page.split("\n## ")[1]
    assert section.startswith(("Targets", "目标"))
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_target_has_a_verdict_measured_or_not(lang: str) -> None:
    full = _targets(bench_report.render(FIXTURE, lang))
    empty = _targets(bench_report.render({}, lang))
    # The per-call, set-up, 10 MB Edit and fleet lines come per run; every
    # target is there with or without data, and nothing is judged without it.
    assert len(full) >= len(empty) >= 17
    assert all(VERDICTS[lang].match(row[-1]) for row in full), full
    assert {row[-1] for row in empty} == {"not measured" if lang == "en" else "未测量"}
    verdicts = " ".join(row[-1] for row in full)
    met, missed = ("**met**", "**missed**") if lang == "en" else ("**达标**", "**未达标**")
    assert met in verdicts and missed in verdicts
    # A miss names its measured cause: the fixture's remote work, the fleet's CPU.
    assert ("remote work 41 ms" if lang == "en" else "远端工作 41 ms") in verdicts
    assert "420 ms" in verdicts and "4.2 ms" in verdicts


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_calls_count_in_the_link_rtt_measured_through_the_proxy(lang: str) -> None:
    """Read's 64 ms at a nominal 50 ms RTT is 1.28 RTT, missed; when the
    link, measured through the proxy, gave 56 ms, it is 1.14 RTT, met, and
    the page says what the unit was."""
    data = copy.deepcopy(FIXTURE)
    (run,) = [r for r in data["calls"]["runs"] if r["rtt_ms"]]
    run["rows"] = [r for r in run["rows"] if r["name"] == "Read"]
    run["rows"][0]["median_ms"] = 64.0

    def read_row(page: str) -> str:
        (row,) = [
            line for line in page.splitlines() if line.startswith("| Read |") and "RTT |" in line
        ]
        return row

    nominal = bench_report.render(data, lang)
    assert ("**missed**" if lang == "en" else "**未达标**") in read_row(nominal)
    run["link_rtt_ms"] = 56.0
    measured = bench_report.render(data, lang)
    assert ("**met**" if lang == "en" else "**达标**") in read_row(measured)
    assert "56.00 ms" in measured and ("(56.0 measured)" in measured or "实测 56.0" in measured)
    assert "## Per call, RTT 50 ms" in measured or "## 单次调用，RTT 50 ms" in measured


def test_the_chinese_page_has_the_english_structure_in_chinese() -> None:
    en, zh = bench_report.render(FIXTURE, "en"), bench_report.render(FIXTURE, "zh")
    assert headings(zh) == headings(en)
    assert [b.text for b in blocks(zh)] == [b.text for b in blocks(en)]
    body = lambda text: "\n".join(text.split("\n")[3:])  # noqa: E731 -- after the switch line
    assert links(body(zh)) == links(body(en))
    tables = lambda text: [line.count("|") for line in text.splitlines() if line.startswith("|")]  # noqa: E731
    assert tables(zh) == tables(en)
    for english in ("**met**", "**missed**", "every single call", "remote work", "| tool |"):
        assert english not in zh, english
    assert "## 目标" in zh and "| 目标 | 条件 | 测量值 | 结论 |" in zh


def _prose_numbers(page: str) -> list[list[str]]:
    """The numbers of each line outside tables and code blocks."""
    text = re.sub(r"^```.*?^```$", "", page, flags=re.S | re.M)
    lines = [line for line in text.splitlines() if not line.startswith("|")]
    return [re.findall(NUMBER, line.replace("127.0.0.1", "localhost")) for line in lines]


NUMBER = r"\b\d+(?:\.\d+)?\b"


def _perturbed(value: Any, turn: list[int] | None = None) -> Any:
    """Every figure changed, each by its own factor (a common one would keep ratios)."""
    turn = [0] if turn is None else turn
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        turn[0] += 1
        if isinstance(value, int):
            return value * (2 + turn[0] * 7919 % 97) + 1  # a scattered factor per leaf
        return value * (1.1 + turn[0] * 7919 % 89 / 10) + 0.11
    if isinstance(value, dict):
        return {k: _perturbed(v, turn) for k, v in value.items()}
    return [_perturbed(v, turn) for v in value]


def _strings(value: Any) -> str:
    if isinstance(value, str):
        return value + " "
    if isinstance(value, dict):
        return "".join(_strings(k) + _strings(v) for k, v in value.items())
    if isinstance(value, list):
        return "".join(_strings(v) for v in value)
    return ""


# The fixed numbers the prose may hold: issue numbers and targets (1.15 RTT,
# 10 ms, 2.2 RTT, 60 ms, 64 KB, 80 ms, 11 KB...), "1 minute", "0 ms RTT".
CONSTANTS = {"0", "1", "2", "3", "5", "10", "11", "13", "15", "50", "60", "64", "80", "90", "100"}
CONSTANTS |= {"1.15", "2.2", "11000", "32"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_numbers_in_the_prose_come_from_the_data(lang: str) -> None:
    """Render twice, with every measured figure changed the second time: a
    number in the prose of both is a fixed sentence's, and must be a target
    or a number from the data's own text (a date, a call's name)."""
    data = copy.deepcopy(FIXTURE)
    for payload in data.values():  # the fixture's conditions are shared: keep the text
        payload["conditions"] = dict(CONDITIONS)
    first = _prose_numbers(bench_report.render(data, lang))
    # Two differently changed copies: a ratio may land on the same rounded value by chance.
    second = _prose_numbers(bench_report.render(_perturbed(data), lang))
    third = _prose_numbers(bench_report.render(_perturbed(data, [17]), lang))
    assert len(first) == len(second) == len(third)
    same = {
        a
        for one, two, three in zip(first, second, third, strict=True)
        for a, b, c in zip(one, two, three, strict=False)
        if a == b == c
    }
    from_text = set(re.findall(NUMBER, _strings(data)))
    unexplained = same - CONSTANTS - from_text
    assert not unexplained, f"numbers in the prose that do not follow the data: {unexplained}"
    assert {"207", "93", "10917"} <= {n for line in first for n in line}  # handshake, set-up...


def test_saved_data_loads_back_with_unmeasured_figures_as_null(tmp_path: Path) -> None:
    run = _run(50, 1)
    run["rows"][0]["phases"]["remote"] = float("nan")
    bench_report.save(tmp_path, "calls", {"conditions": CONDITIONS, "runs": [run]})
    text = (tmp_path / "calls.json").read_text()
    assert "NaN" not in text and json.loads(text)["runs"][0]["rows"][0]["phases"]["remote"] is None
    assert set(bench_report.load(tmp_path)) == {"calls"}
    with pytest.raises(ValueError, match="unknown benchmark data 'nope'"):
        bench_report.save(tmp_path, "nope", {})
    written = bench_report.write_pages(tmp_path / "data")
    assert [p.name for p in written] == ["benchmark.md", "benchmark.zh.md"]


def test_committed_report_is_what_its_committed_data_renders_to() -> None:
    for path, text in bench_report.pages(bench_report.DATA).items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale or edited by hand: run "
            "`python -m remote_mcp.bench_report` (or the bench that made its data)"
        )


def test_the_fleet_bench_publishes_its_rows_and_both_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from remote_mcp.bench_fleet import FleetRow

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # no plot: seconds saved, page the same

    rows = [
        FleetRow(1, 400, 60, 55, 58.0, 2, 0, 0.5, 9.0),
        FleetRow(100, 790, 99, 130, 91.0, 101, 0, 3.0, 420.0),
    ]
    meta = {"rtt_ms": 50.0, "repeat": 3, "one_connect_ms": 400.0, "load_before": (0.5, 0.4, 0.3)}
    meta |= {"load_after": (3.0, 1.0, 1.0), "cpus": 2, "sshds": 10}
    data = tmp_path / "reference" / "bench-data"
    written = bench_report.publish_fleet(data, rows, meta)
    assert [p.name for p in written] == ["fleet.json", "benchmark.md", "benchmark.zh.md"]
    saved = json.loads((data / "fleet.json").read_text())
    assert saved["meta"]["load_before"] == 0.5 and saved["rows"][1]["bash_cpu_ms"] == 420.0
    page = (tmp_path / "reference" / "benchmark.md").read_text()
    assert "| 100 | 790 (2.0x) | 99 (2.0) | 130 (2.6) | - (-) | 91 | 101 | 3.0 |" in page
    assert (
        "| fleet: Bash after connect ≤ 2 RTT at 100 hosts | 100 hosts, RTT 50 ms, load 3.0 " in page
    )
    assert "![Fleet wall times](benchmark-fleet.png)" in page


def test_invoke_bench_writes_the_report_unless_told_to_write_elsewhere() -> None:
    from invoke import MockContext, Result

    import tasks

    commands = []
    for kwargs in ({}, {"out": "/tmp/smoke.md"}, {"scaling": True}, {"fleet": True}):
        context = MockContext(run=Result(), repeat=True)
        tasks.bench.body(context, **kwargs)
        commands.append(context.run.call_args.args[0])
    report, elsewhere, scaling, fleet = commands
    assert report.endswith("-m remote_mcp.bench --delay-ms 25 0 --data docs/reference/bench-data")
    assert elsewhere.endswith("--out /tmp/smoke.md") and "--data" not in elsewhere
    assert scaling.endswith("-m remote_mcp.bench --scaling --data docs/reference/bench-data")
    assert fleet.endswith("-m remote_mcp.bench_fleet --data docs/reference/bench-data")
    # The data directory the tasks name is the one the report renders from.
    assert bench_report.DATA == ROOT / "docs/reference/bench-data"


def test_every_run_records_the_machine_pace_and_its_line_shows_it() -> None:
    """Runs on two machines of one kind differ; the pace line says by how much."""
    from remote_mcp.bench_report import conditions
    from remote_mcp.bench_report_words import conditions_line

    measured = conditions(0.5, "invoke bench")
    pace = measured["pace"]
    assert set(pace) == {"loop_ms", "spawn_ms", "python_ms", "fsync_10mb_ms"}
    assert all(value > 0 for value in pace.values())
    assert f"10⁶ Python loop steps {pace['loop_ms']:.0f} ms" in conditions_line("en", measured)
    assert "本机速度" in conditions_line("zh", measured)
    older = {k: v for k, v in measured.items() if k != "pace"}
    assert "pace" not in conditions_line("en", older)
