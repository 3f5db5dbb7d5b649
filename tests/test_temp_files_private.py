"""Write and Edit never expose new content to other users while it is written.

The content goes first to a temp file beside the target; that file must be
private (0600) from its creation until it is complete, and only then get the
file's mode. (Before: it was created under the user's umask, typically 0644,
and chmod'ed afterwards, so other users could read a 0600 file's new content
meanwhile.) The shell templates run here locally under sh with a PATH
wrapper around the program that fills the temp file (base64): the wrapper
records the temp file's mode at that moment, which is deterministic
evidence, no timing involved. The engines' own temp files (python3, perl):
test_edit_engines.py, test_python_engine_creates_its_temp_file_private and
test_perl_engine_creates_its_temp_file_private.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from remote_mcp.templates import render
from tests.conftest import require_program

# The wrapper logs the mode of the file being written: base64's stdout (kept
# as fd 9 before stat's own stdout goes to the log).
_WRAPPERS = {
    "base64": 'stat -L -c %a /proc/self/fd/9 9>&1 >> "$RMCP_TEST_LOG"\nexec {real} "$@"\n',
}


def _run(tmp_path: Path, program: str, script: str, umask: int = 0o022) -> list[str]:
    """Run ``script`` under sh with ``program`` wrapped; the modes it saw."""
    require_program(program)
    wrap = tmp_path / "wrap"
    wrap.mkdir(exist_ok=True)
    wrapper = wrap / program
    real = shutil.which(program)
    wrapper.write_text("#!/bin/sh\n" + _WRAPPERS[program].format(real=real))
    wrapper.chmod(0o755)
    log = tmp_path / "modes.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{wrap}:{os.environ['PATH']}", "RMCP_TEST_LOG": str(log)}
    run = subprocess.run(
        ["sh", "-c", script],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: os.umask(umask),
    )
    assert run.returncode == 0, run.stderr
    assert b"done " in run.stdout or b"created " in run.stdout or b"updated " in run.stdout, (
        run.stdout
    )
    return log.read_text().split()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("exists", [True, False], ids=["update", "create"])
def test_write_fills_a_private_temp_file(tmp_path: Path, exists: bool) -> None:
    target = tmp_path / "secret.txt"
    if exists:
        target.write_bytes(b"old\n")
        target.chmod(0o600)
    script = render(
        "write.sh.j2",
        path=str(target),
        content=b"new secret\n",
        expect="any",
        token="RMCP_EOF_test",
        allowed=[],
        engine="shell",  # the python3 engine's own: test_edit_engines.py
        program="",
        refused=10,
    )
    assert _run(tmp_path, "base64", script) == ["600"]
    assert target.read_bytes() == b"new secret\n"
    assert _mode(target) == (0o600 if exists else 0o644)  # a new file: 0666 minus the umask


def test_edit_fills_a_private_temp_file(tmp_path: Path) -> None:
    """The local fallback's upload (the engines: test_edit_engines.py)."""
    target = tmp_path / "secret.txt"
    target.write_bytes(b"old\n")
    target.chmod(0o640)
    script = render(
        "edit.sh.j2",
        path=str(target),
        engine="upload",
        engine_expect="any",
        content=b"new\n",
        edits=[{"old": b"old", "new": b"new", "replace_all": 0, "clash": 0}],
        expect="any",
        hash_max=1 << 20,
        create=0,
        notebook=0,
        max_size=1 << 20,
        token="RMCP_EOF_test",
        refused=10,
        allowed=[],
    )
    assert _run(tmp_path, "base64", script) == ["600"]
    assert target.read_bytes() == b"new\n"
    assert _mode(target) == 0o640


def test_a_file_created_by_edit_gets_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "made.txt"
    script = render(
        "edit.sh.j2",
        path=str(target),
        engine="upload",
        engine_expect="any",
        content=b"made\n",
        expect="any",
        hash_max=1 << 20,
        create=1,
        notebook=0,
        max_size=1 << 20,
        token="RMCP_EOF_test",
        refused=10,
        allowed=[],
    )
    assert _run(tmp_path, "base64", script, umask=0o027) == ["600"]
    assert target.read_bytes() == b"made\n"
    assert _mode(target) == 0o640
