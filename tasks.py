"""Developer tasks: ``invoke --list``.

``test`` and ``lint`` are what CI runs; ``smoke`` checks a real host;
``sandbox`` gives a throwaway local sshd to try everything against;
``bench`` measures round trips, latency and bytes under an emulated slow link
and regenerates the benchmark report (see its docstring: three commands).
"""

from __future__ import annotations

import sys

from invoke import Context, task


@task(
    help={
        "args": "extra pytest arguments, e.g. '-k Read -x'",
        "fast": "only the tests that need no sshd and are not slow (seconds, not minutes)",
    }
)
def test(c: Context, args: str = "", fast: bool = False) -> None:
    """Run the test suite (starts its own private sshd; needs openssh-server)."""
    select = "-m 'not sshd and not slow' " if fast else ""
    c.run(f"{sys.executable} -m pytest {select}{args}", pty=False)


@task
def lint(c: Context) -> None:
    """ruff (lint + format check) and mypy, as CI runs them."""
    c.run("ruff check remote_mcp tests tasks.py docs shell_templates/engines")
    c.run("ruff format --check remote_mcp tests tasks.py docs shell_templates/engines")
    c.run(f"{sys.executable} -m mypy remote_mcp")


@task(help={"host": "host name from the config", "config": "config file (optional)"})
def smoke(c: Context, host: str, config: str = "") -> None:
    """Exercise every tool against HOST and print a table of results and timings."""
    from remote_mcp.cli import setup_logging
    from remote_mcp.config import load_config
    from remote_mcp.selftest import run_steps

    setup_logging()  # paramiko's tracebacks only with REMOTE_MCP_LOG=debug
    host_cfg = load_config(config or None).host(host)
    results, destination = run_steps(host_cfg)
    print(f"remote-mcp smoke test: {host} ({destination})")
    print(f"{'tool':<12} {'result':<6} {'ms':>8}  detail")
    for r in results:
        print(f"{r.tool:<12} {'ok' if r.ok else 'FAIL':<6} {r.seconds * 1000:>8.1f}  {r.detail}")
    if not all(r.ok for r in results) or len(results) < 2:
        raise SystemExit(1)


@task(help={"stop": "stop the sandbox sshd instead of starting it"})
def sandbox(c: Context, stop: bool = False) -> None:
    """Start a throwaway local sshd, run --test against it, print the claude line
    (the same as `remote-mcp sandbox`, which installed users have too)."""
    c.run(f"{sys.executable} -m remote_mcp sandbox{' --stop' if stop else ''}", pty=False)


@task(
    help={
        "delay_ms": "one-way delay added by the proxy (RTT = 2x)",
        "out": "write a Markdown report of this run there instead (docs/ is left alone)",
        "fleet": "measure one call on 1-100 hosts instead (remote_mcp.bench_fleet)",
        "scaling": "the scaling curves instead (~10 min, 1 GB of disk)",
    }
)
def bench(
    c: Context,
    delay_ms: int = 25,
    out: str = "",
    fleet: bool = False,
    scaling: bool = False,
) -> None:
    """Measure the tools and update the benchmark report (docs/reference/benchmark.md, .zh.md).

    Each form writes its own JSON into docs/reference/bench-data/ and re-renders
    both pages from all of it (remote_mcp.bench_report), so the full report is
    these three commands, best run on a quiet machine:

        invoke bench             # per call at RTT 2 x DELAY_MS and 0, memory, start-up
        invoke bench --scaling   # the scaling curves and their plot
        invoke bench --fleet     # one call on 1, 10, 50 and 100 hosts, and its plot

    With --out FILE, only that file is written (a report of this run alone).
    """
    data = "docs/reference/bench-data"
    where = f"--out {out}" if out else f"--data {data}"
    if fleet:
        c.run(f"{sys.executable} -m remote_mcp.bench_fleet {where}", pty=False)
        return
    if scaling:
        c.run(f"{sys.executable} -m remote_mcp.bench --scaling {where}", pty=False)
        return
    c.run(f"{sys.executable} -m remote_mcp.bench --delay-ms {delay_ms} 0 {where}", pty=False)
