"""The wheel ships the shell templates and the Edit engine programs; they
render and load from an installed copy."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_renders_every_template(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = dist.glob("remote_mcp-*.whl")
    env_dir = tmp_path / "venv"
    # System site-packages supply the dependencies; the package itself comes
    # only from the wheel (and the checkout is not on sys.path: cwd=tmp_path).
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    script = (
        "import remote_mcp.templates as t, jinja2.meta as m, pathlib\n"
        "assert 'site-packages' in str(t.TEMPLATE_DIR), t.TEMPLATE_DIR\n"
        "names = t.template_names()\n"
        "env = t._environment()\n"
        "for n in names:\n"
        "    env.get_template(n)\n"  # parses: every template compiles from the wheel
        "print(len(names), t.render('stat.sh.j2', paths=['/x y']).count(\"'/x y'\"))\n"
        # The Edit engines are files under shell_templates/engines/, shipped too.
        "from remote_mcp.tools import edit\n"
        "print(edit.engine().REFUSED_EXIT, 'use strict;' in edit.perl_program())\n"
    )
    # Nor through PYTHONPATH, which a worktree checkout sets to itself.
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(python), "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    count, quoted, refused, perl_shipped = run.stdout.split()
    assert (refused, perl_shipped) == ("10", "True")
    shipped = sorted(p.name for p in (ROOT / "shell_templates").glob("*.sh.j2"))
    assert int(count) == len(shipped) and int(quoted) == 1
    cli = subprocess.run(
        [str(env_dir / "bin" / "remote-mcp"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.stdout.startswith("remote-mcp ")
