"""The example answer in docs/how-to/run-on-many-hosts.md is real: this test
makes it again from the nodes of the test fleet (the command's output on
each, and the product's error for a host that is down) with render_fleet,
and compares it with the page (issue 15)."""

from __future__ import annotations

import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from remote_mcp.config import HostConfig
from remote_mcp.errors import describe
from remote_mcp.session import Session
from remote_mcp.testing import Fleet, SshdServer, free_port, remote_exec
from remote_mcp.tools.bash import MAX_OUTPUT_CHARS
from remote_mcp.tools.fleet_output import HostOutcome, render_fleet
from tests.conftest import FLEET_AREA

PAGE = Path(__file__).resolve().parent.parent / "docs/how-to/run-on-many-hosts.md"
SHOWN_PORT = 2222  # the down host's port as the page shows it (a free port varies per run)
ALL_FILES = "epoch-09.pt epoch-10.pt"
LAGGING, EMPTY = ("node07", "node13"), "node16"  # one checkpoint behind; none yet


def run_on(name: str, node: SshdServer) -> HostOutcome:
    """The node's answer to ``ls -1 checkpoints`` in a run directory made
    for it (and removed after), as Bash shows it: stdout without its
    trailing newlines. One exec per node: setting up, running, cleaning up."""
    files = "" if name == EMPTY else "epoch-09.pt" if name in LAGGING else ALL_FILES
    run_dir = shlex.quote(f"{FLEET_AREA}/run42-{name}")
    touch = f"touch {files} && " if files else ""
    script = (
        f"mkdir -p {run_dir}/checkpoints && cd {run_dir}/checkpoints && {touch}cd .. && "
        f"ls -1 checkpoints; rc=$?; rm -rf {run_dir}; exit $rc"
    )
    rc, out, err = remote_exec(node, script)
    assert rc == 0 and not err, err
    return HostOutcome(name, out.decode().rstrip("\n"), exit_code=rc)


def down_host(name: str, port: int) -> HostOutcome:
    """What the product reports for a host nobody listens on."""
    session = Session(HostConfig(name=name, hostname="127.0.0.1", port=port, connect_timeout_s=5))
    try:
        session.connect()
    except Exception as exc:  # the failure is the point
        return HostOutcome(name, "", failure=" ".join(describe(exc).split()))
    finally:
        session.close()
    raise AssertionError(f"something listens on 127.0.0.1:{port}")


def documented_example() -> str:
    blocks = re.findall(r"^```text\n(.*?)^```$", PAGE.read_text(), re.M | re.S)
    examples = [b for b in blocks if b.startswith("21 hosts:")]
    assert len(examples) == 1, f"{PAGE.name} should show one fleet answer"
    return examples[0].rstrip("\n")


def test_the_how_to_shows_a_real_fleet_answer(fleet: Fleet) -> None:
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(run_on, fleet.names, fleet))
    down_port = free_port()
    outcomes.append(down_host("node21", down_port))
    text = render_fleet(outcomes, limit_chars=MAX_OUTPUT_CHARS)
    text = text.replace(str(down_port), str(SHOWN_PORT))
    assert text == documented_example(), f"update the example in {PAGE.name} to:\n{text}"
