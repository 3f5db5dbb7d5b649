"""``invoke bench --scaling``: how time, bytes and local memory grow with size.

Each curve runs the tool routines on an open ``Session`` against a throwaway
sshd on 127.0.0.1, as the server runs them: Read at growing offsets of a 1 GB
file, Grep and Glob over 10^3..10^5 files, MultiRead of 1..100 files, 1..32
parallel calls over a 50 ms RTT link (a fixed pool of 3 workers, and pools
growing from 3 to 6, the default, and to 16), Bash output of 1 KB..100 MB
(peak local RSS), and Write/Upload of 1..100 MB over a bandwidth-limited link
(``LinkProxy``'s rate limit), with SSH compression off and on. ``--only``
measures some sections only. `bench_scaling_report` turns the points into
the Markdown table and the plot; the idle RSS of the server process is
measured last. The machine is shared, so the load average is recorded with
the points.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from .bench_memory import peak_during
from .bench_startup import bench_sshd, hand_over, login_user
from .config import HostConfig
from .session import Session
from .templates import render
from .testing import LinkProxy, SshdServer, remote_exec
from .tools.base import ToolState

__all__ = ["Point", "main", "measure"]

PARALLEL_DELAY_S = 0.025  # one way: RTT 50 ms
LINK_RATE = 8_000_000  # bytes/s (64 Mbit/s)
LINK_DELAY_S = 0.010  # one way: RTT 20 ms
MB = 1_000_000


@dataclass(frozen=True)
class Sizes:
    """The x values of every curve."""

    lines: int = 11_000_000  # about 92 bytes each: a 1.0 GB file
    offsets: tuple[int, ...] = (10**3, 10**4, 10**5, 10**6, 10**7)
    trees: tuple[tuple[str, int], ...] = (
        ("tree/r4/r3", 10**3),
        ("tree/r4", 10**4),
        ("tree", 10**5),
    )
    multi: tuple[int, ...] = (1, 3, 10, 30, 100)
    parallel: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    pools: tuple[int, ...] = (3, 6, 16)  # 3: fixed (3 open at the start); more: grows
    bash_bytes: tuple[int, ...] = (10**3, 10**6, 10**7, 10**8)
    upload_mb: tuple[int, ...] = (1, 10, 100)
    write_mb: tuple[int, ...] = (1, 10, 100)


QUICK = Sizes(
    lines=2000,
    offsets=(10, 1000),
    trees=(("tree/r4/r3", 10**3),),
    multi=(1, 10),
    parallel=(1, 4),
    pools=(3,),
    bash_bytes=(1000,),
    upload_mb=(1,),
    write_mb=(1,),
)


@dataclass
class Point:
    """One measured point of a curve: ``x`` in the series' unit, the median
    wall time, and what else the series records (bytes, MB/s, peak RSS...)."""

    series: str
    x: float
    ms: float
    extra: dict[str, float] = field(default_factory=dict)


def _load() -> float:
    return os.getloadavg()[0]


def _timed(session: Session, fn: Callable[[], Any], repeat: int) -> tuple[float, int, int]:
    """Median ms of ``repeat`` calls, and the bytes sent and received by the last."""
    times = []
    sent = received = 0
    for _ in range(repeat):
        _, s0, r0 = session.stats.snapshot()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        _, s1, r1 = session.stats.snapshot()
        sent, received = s1 - s0, r1 - r0
    return statistics.median(times), sent, received


def _host(server: SshdServer, tmp: Path, port: int | None = None, **overrides: Any) -> HostConfig:
    """A HostConfig for ``server``, reached directly or through a proxy on ``port``."""
    known = tmp / f"known_hosts-{port or server.port}"
    line = server.known_hosts_line
    if port is not None:
        line = line.replace(f"]:{server.port} ", f"]:{port} ")
    known.write_text(line + "\n")
    return HostConfig(
        name="bench",
        hostname="127.0.0.1",
        port=port or server.port,
        user=login_user(server),
        key_path=str(server.client_key),
        known_hosts=str(known),
        **overrides,
    )


@contextmanager
def _open(host: HostConfig, area: str) -> Iterator[tuple[Session, ToolState]]:
    session = Session(host)
    try:
        info = session.connect()
        session.pool.warm()
        yield session, ToolState(host_name="bench", info=info, cwd=area)
    finally:
        session.close()


def _warm_up(session: Session, state: ToolState, area: str) -> None:
    """First calls load the tool modules and start the Bash shell: not what the curves show."""
    from .tools import bash, files, search

    files.read(session, f"{area}/many/m0.txt", limit=1, state=state)
    search.glob(session, "*.txt", f"{area}/many", state=state)
    bash.bash(session, "true", state=state)


def reads(session: Session, state: ToolState, area: str, sizes: Sizes, repeat: int) -> list[Point]:
    from .tools import files

    points = []
    for offset in sizes.offsets:
        call = partial(
            files.read, session, f"{area}/lines.txt", offset=offset, limit=20, state=state
        )
        ms, sent, received = _timed(session, call, repeat)
        points.append(
            Point(
                "Read 20 lines at offset (1 GB file)",
                offset,
                ms,
                {"sent": sent, "received": received},
            )
        )
    return points


def searches(
    session: Session, state: ToolState, area: str, sizes: Sizes, repeat: int
) -> list[Point]:
    from .tools import search

    points = []
    for root, count in sizes.trees:
        path = f"{area}/{root}"
        calls = {
            'Grep "needle", files_with_matches': lambda p=path: search.grep(
                session, "needle", p, output_mode="files_with_matches", state=state
            ),
            "Glob **/*.txt (first 100 shown)": lambda p=path: search.glob(
                session, "**/*.txt", p, state=state
            ),
        }
        for name, fn in calls.items():
            ms, sent, received = _timed(session, fn, repeat)
            points.append(
                Point(f"{name} over N files", count, ms, {"sent": sent, "received": received})
            )
    return points


def multi_reads(
    session: Session, state: ToolState, area: str, sizes: Sizes, repeat: int
) -> list[Point]:
    from .tools import files

    points = []
    for count in sizes.multi:
        wanted: list[dict[str, object]] = [
            {"file_path": f"{area}/many/m{i}.txt"} for i in range(count)
        ]
        call = partial(files.multi_read, session, wanted, state=state)
        ms, sent, received = _timed(session, call, repeat)
        points.append(
            Point(
                "MultiRead of N files of 200 lines", count, ms, {"sent": sent, "received": received}
            )
        )
    return points


def parallel(host: HostConfig, area: str, sizes: Sizes, repeat: int) -> list[Point]:
    """Wall time of N Reads started at once, over a 50 ms RTT link; the pool
    size decides how many run at a time, the rest queue for a worker."""
    from .tools import files

    points = []
    for workers in sizes.pools:
        with _open(replace(host, workers=workers), area) as (session, state):
            path = f"{area}/many/m0.txt"
            with ThreadPoolExecutor(max_workers=max(sizes.parallel)) as threads:
                for n in sizes.parallel:

                    def burst(n: int = n, path: str = path) -> None:
                        calls = [
                            threads.submit(files.read, session, path, state=state) for _ in range(n)
                        ]
                        for call in calls:
                            call.result()

                    ms, _, _ = _timed(session, burst, repeat)
                    rtt_ms = 2000 * PARALLEL_DELAY_S
                    points.append(
                        Point(
                            f"N parallel Reads, pool of {workers}, RTT 50 ms",
                            n,
                            ms,
                            {"rtts": ms / rtt_ms},
                        )
                    )
    return points


def bash_outputs(session: Session, state: ToolState, sizes: Sizes) -> list[Point]:
    """Peak local RSS growth while the Bash tool runs a command printing N bytes."""
    from .tools import bash

    points = []
    for size in sizes.bash_bytes:
        command = f"yes 'scaling benchmark output: one line of about fifty bytes' | head -c {size}"
        r0 = session.stats.snapshot()[2]
        peak_mb, _, seconds = peak_during(partial(bash.bash, session, command, state=state))
        received = session.stats.snapshot()[2] - r0
        points.append(
            Point(
                "Bash printing N bytes",
                size,
                seconds * 1000,
                {"peak_rss_mb": peak_mb, "received": received},
            )
        )
    return points


def transfers(
    server: SshdServer, tmp: Path, area: str, sizes: Sizes, repeat: int = 1
) -> list[Point]:
    """Upload and Write of 1..100 MB over a link of LINK_RATE bytes/s each way.

    Each point creates a new file (no precondition to check), on a session
    whose SFTP channel is already open (as after any earlier transfer); up
    to 10 MB the median of ``repeat`` runs, 100 MB once."""
    from .tools import files, transfer

    source = tmp / "upload.bin"
    points = []
    names = iter(range(10**9))
    with LinkProxy(
        "127.0.0.1", server.port, delay_s=LINK_DELAY_S, rate_bytes_per_s=LINK_RATE
    ) as proxy:
        for compression in (False, True):
            label = "on" if compression else "off"
            host = _host(server, tmp, proxy.port, compression=compression)
            with _open(host, area) as (session, state):
                with session.sftp_client():
                    pass  # the SFTP channel: opened once per session, ~3 RTT
                for mb in sizes.upload_mb:
                    with source.open("wb") as fh:  # incompressible, as most big uploads are
                        for _ in range(mb):
                            fh.write(os.urandom(MB))

                    def up(mb: int = mb, label: str = label) -> None:
                        dest = f"{area}/up-{label}-{mb}-{next(names)}.bin"
                        transfer.upload(session, str(source), dest, state=state)

                    ms, sent, _ = _timed(session, up, repeat if mb <= 10 else 1)
                    points.append(_throughput(f"Upload, compression {label}", mb, ms, sent))
                for mb in sizes.write_mb:
                    # Text from random bytes: hex, which compresses to about 1/2.
                    content = os.urandom(mb * MB // 2).hex()

                    def write(mb: int = mb, label: str = label, content: str = content) -> None:
                        dest = f"{area}/write-{label}-{mb}-{next(names)}.txt"
                        files.write(session, dest, content, state=state)

                    ms, sent, _ = _timed(session, write, repeat if mb <= 10 else 1)
                    del write
                    points.append(_throughput(f"Write, compression {label}", mb, ms, sent))
                    del content
                with session.sftp_client() as sftp:  # the disk is shared: free it now
                    for name in sftp.listdir(area):
                        if name.startswith(("up-", "write-")):
                            sftp.remove(f"{area}/{name}")
    source.unlink(missing_ok=True)
    return points


def _throughput(series: str, mb: int, ms: float, sent: int) -> Point:
    """MB/s of payload, its share of the link, and the ideal: the bytes at
    link rate plus one round trip (the last byte's acknowledgement)."""
    payload = mb * MB / (ms / 1000)
    ideal_ms = mb * MB / LINK_RATE * 1000 + 2000 * LINK_DELAY_S
    return Point(
        series,
        mb,
        ms,
        {
            "payload_mb_s": payload / MB,
            "of_link": payload / LINK_RATE,
            "wire_mb_s": sent / (ms / 1000) / MB,
            "ideal_ms": ideal_ms,
            "rtts_over_ideal": (ms - ideal_ms) / (2000 * LINK_DELAY_S),
        },
    )


SECTIONS = ("reads", "searches", "multiread", "bash", "parallel", "transfers")


def measure(
    tmp: Path, sizes: Sizes, repeat: int = 3, only: frozenset[str] = frozenset(SECTIONS)
) -> tuple[list[Point], dict[str, Any]]:
    """The curves of the ``only`` sections (all by default), on one throwaway
    sshd; its files are removed afterwards."""
    if not only & {"reads", "searches", "multiread", "bash"}:  # no 1 GB file, no big tree
        sizes = replace(sizes, lines=QUICK.lines, trees=QUICK.trees)
    server = bench_sshd(tmp / "sshd")  # logs in as the plain account, as bench.py does
    area = f"{tmp}/area"
    meta: dict[str, Any] = {
        "load_before": _load(),
        "lines": sizes.lines,
        "repeat": repeat,
        "link_rate_mb_s": LINK_RATE / MB,
        "link_rtt_ms": 2000 * LINK_DELAY_S,
        "parallel_rtt_ms": 2000 * PARALLEL_DELAY_S,
        "only": sorted(only),
    }
    try:
        started = time.monotonic()
        rc, out, err = remote_exec(
            server,
            render(
                "bench_scaling_setup.sh.j2",
                area=area,
                lines=sizes.lines,
                full_tree=len(sizes.trees) > 1,
            ),
            900,
        )
        assert rc == 0, err
        hand_over(server, tmp, area)
        meta["setup_s"] = time.monotonic() - started
        meta["file_bytes"] = int(out.split()[-1])
        points: list[Point] = []
        with _open(_host(server, tmp), area) as (session, state):
            _warm_up(session, state, area)
            if "reads" in only:
                points += reads(session, state, area, sizes, repeat)
            if "searches" in only:
                points += searches(session, state, area, sizes, repeat)
            if "multiread" in only:
                points += multi_reads(session, state, area, sizes, repeat)
            if "bash" in only:
                points += bash_outputs(session, state, sizes)
        if "parallel" in only:
            with LinkProxy("127.0.0.1", server.port, delay_s=PARALLEL_DELAY_S) as proxy:
                points += parallel(_host(server, tmp, proxy.port), area, sizes, repeat)
        if "transfers" in only:
            points += transfers(server, tmp, area, sizes, repeat)
        meta["load_after"] = _load()
        meta["minutes"] = (time.monotonic() - started) / 60
        return points, meta
    finally:
        remote_exec(server, render("bench_scaling_setup.sh.j2", area=area, cleanup=True), 300)
        server.stop()


def _sections(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(chosen - set(SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown section {', '.join(unknown) or '(none given)'}: choose from "
            f"{', '.join(SECTIONS)}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    from .bench_report import conditions, publish
    from .bench_scaling_report import idle_rss, plot, table

    parser = argparse.ArgumentParser(prog="python -m remote_mcp.bench --scaling")
    parser.add_argument("--repeat", type=int, default=3)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out", default="bench-scaling.md", help="Markdown tables (and .json) of this run alone"
    )
    where.add_argument(
        "--data",
        type=Path,
        help="the report's data directory (docs/reference/bench-data): write scaling.json, "
        "redraw benchmark-scaling.png next to it and re-render the benchmark pages",
    )
    parser.add_argument("--plot", help="the plot (default: next to --out, or the report's)")
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument("--from-json", help="redraw the tables and plot from a saved run")
    parser.add_argument(
        "--only",
        type=_sections,
        default=frozenset(SECTIONS),
        help=f"comma-separated sections to measure (default all): {','.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        raw = json.loads(Path(args.from_json).read_text())
        points, meta = [Point(**p) for p in raw["points"]], raw["meta"]
    else:
        load_before = _load()
        with tempfile.TemporaryDirectory(prefix="remote-mcp-scaling-") as tmp:
            sizes = QUICK if args.quick else Sizes()
            points, meta = measure(Path(tmp), sizes, args.repeat, args.only)
            if args.only == frozenset(SECTIONS):
                meta["idle_rss_mb"] = idle_rss(Path(tmp))
        raw = {
            "conditions": conditions(load_before, "python -m remote_mcp.bench --scaling"),
            "meta": meta,
            "points": [asdict(p) for p in points],
        }
    if args.data:
        if args.only != frozenset(SECTIONS):
            parser.error("--data publishes the whole report: measure every section (no --only)")
        args.data.mkdir(parents=True, exist_ok=True)
        print(plot(points, Path(args.plot or args.data.parent / "benchmark-scaling.png")))
        for path in publish(args.data, "scaling", raw):
            print(f"wrote {path}")
        return 0
    if not args.from_json:
        Path(args.out).with_suffix(".json").write_text(json.dumps(raw, indent=1))
    text = table(points, meta)
    Path(args.out).write_text(text)
    print(text)
    print(plot(points, Path(args.plot or Path(args.out).with_suffix(".png"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
