"""``invoke bench --scaling``: its tables, its plot without matplotlib, and one
quick run of every curve against a real sshd (the full run is not in the suite)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from remote_mcp import bench_scaling, bench_scaling_report
from remote_mcp.bench_scaling import Point

META = {
    "load_before": 1.0,
    "load_after": 2.0,
    "minutes": 0.5,
    "lines": 10,
    "file_bytes": 900,
    "idle_rss_mb": {"initialize": 60.0, "first_call": 70.0, "peak": 75.0},
}


def test_table_has_a_row_per_size_and_marks_what_was_not_measured() -> None:
    points = [
        Point(bench_scaling_report.READ, 1000, 12.3, {"received": 400}),
        Point(bench_scaling_report.READ, 10, 4.56, {"received": 400}),
        Point(bench_scaling_report.GREP, 1000, 20, {"received": 300}),
        Point("Upload, compression off", 10, 1500, {"payload_mb_s": 7.2, "of_link": 0.9}),
    ]
    text = bench_scaling_report.table(points, META)
    assert "| 10 | 4.6 | 400 |\n| 1000 | 12 | 400 |" in text  # sorted by size
    assert "| 1000 | 20 | 300 | - | - |" in text  # Glob not measured
    assert "| 10 | 7.20 (90%) | - | - | - |" in text
    assert "70 MB idle after the first Read" in text
    assert "MultiRead" not in text  # no points, no section


def test_plot_without_matplotlib_says_so_and_leaves_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    image = tmp_path / "plot.png"
    image.write_bytes(b"old")
    message = bench_scaling_report.plot([], image)
    assert "matplotlib is not installed" in message and "remote-mcp[bench]" in message
    assert image.read_bytes() == b"old"


@pytest.mark.sshd
@pytest.mark.timeout(600)
def test_quick_run_measures_every_curve_and_cleans_up() -> None:
    # Under /tmp, not pytest's 0700 base: the bench logs in as the plain account.
    with tempfile.TemporaryDirectory(prefix="remote-mcp-scaling-test-") as name:
        tmp_path = Path(name)
        points, meta = bench_scaling.measure(tmp_path, bench_scaling.QUICK, repeat=1)
        area_left = (tmp_path / "area").exists()
    series = {p.series for p in points}
    assert {
        bench_scaling_report.READ,
        bench_scaling_report.GREP,
        bench_scaling_report.GLOB,
        bench_scaling_report.MULTI,
        bench_scaling_report.BASH,
    } <= series
    assert {"Upload, compression on", "Write, compression off"} <= series
    assert any(s.startswith("N parallel Reads, pool of 3") for s in series)
    # Bytes received for a Read do not grow with the offset (20 lines either way).
    received = [p.extra["received"] for p in points if p.series == bench_scaling_report.READ]
    assert len(received) == 2 and max(received) < 2 * min(received)
    assert meta["file_bytes"] > 0
    assert all(p.ms > 0 for p in points)
    # The remote area is gone (same box: the path is visible locally too).
    assert not area_left


def test_only_names_sections_and_refuses_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_scaling._sections(" transfers, parallel") == {"transfers", "parallel"}
    with pytest.raises(SystemExit):
        bench_scaling.main(["--only", "transfers,bogus"])
    assert "unknown section bogus: choose from reads, searches" in capsys.readouterr().err
