"""The docs' examples run, and the reference pages match the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from remote_mcp.testing import SshdServer

ROOT = Path(__file__).resolve().parent.parent


def test_adhoc_fabric_example_runs(sshd: SshdServer, remote, remote_dir: str) -> None:
    remote.write_bytes(f"{remote_dir}/notes.txt", b"first\nsecond\nthird\nfourth\n")
    host = f"{sshd.user}@{sshd.host}:{sshd.port}"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "docs/how-to/adhoc_fabric_script.py"),
            host,
            f"{remote_dir}/notes.txt",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stat: 0 file 26 644 " in proc.stdout
    assert "     3\u2192third" in proc.stdout and "fourth" not in proc.stdout
    assert f"File created successfully at: {remote_dir}/adhoc-copy.txt" in proc.stdout
    assert remote.read_bytes(f"{remote_dir}/adhoc-copy.txt") == b"hi\n"


def test_claude_md_fragment_is_the_server_instructions() -> None:
    fragment = (ROOT / "docs/CLAUDE.md.fragment.md").read_text()
    assert fragment == (ROOT / "remote_mcp/instructions.md").read_text()


def test_reference_pages_are_generated_from_the_code() -> None:
    from remote_mcp.reference import DOCS, PAGES

    for name, make in PAGES.items():
        assert (DOCS / name).read_text() == make(), (
            f"docs/reference/{name} is stale: run `python -m remote_mcp.reference`"
        )


def test_security_model_cites_only_tests_that_exist() -> None:
    """docs/explanation/security-model.md backs each promise with test names;
    a renamed or deleted test must fail here, not leave the page lying."""
    import re

    page = (ROOT / "docs/explanation/security-model.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page)
    assert len(cited) >= 20, "the page should cite the tests of each promise"
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (ROOT / path).is_file()
        or not re.search(rf"^\s*def {name}\(", (ROOT / path).read_text(), re.M)
    ]
    assert not missing, f"security-model.md cites tests that do not exist: {missing}"


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    from remote_mcp.reference_code import ENV_HELP, env_reads

    read = set(env_reads())
    assert read == set(ENV_HELP), (
        f"undocumented: {sorted(read - set(ENV_HELP))}, no longer read: "
        f"{sorted(set(ENV_HELP) - read)} (edit ENV_HELP in remote_mcp/reference_code.py)"
    )


def test_error_reference_finds_messages_in_tables_and_constants() -> None:
    from remote_mcp.reference_code import error_sites

    texts = [site.text for site in error_sites()]
    # a message split over two string literals (search.py), a local table of
    # f-strings (refusals.py), a constant from base.py inside it
    assert any(t.startswith("Cannot search '{shown}': it is a FIFO") for t in texts)
    assert "[missing-glob] Directory does not exist: {path}" in texts
    assert "[notread] File has not been read yet. Read it first before writing to it." in texts
    assert "{where}: {key} must be between {low} and {high}, got {value}." in texts
