"""Shell templates: every interpolation is quoted, every template parses, and
rendering hostile values yields a script that runs without executing them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest

from remote_mcp.templates import TEMPLATE_DIR, render, template_names
from remote_mcp.tools.base import FileRecord
from tests.conftest import require_program

# nbytes/counted: a command sent as raw bytes after `read -N` (_frame.sh.j2).
SAFE_FILTERS = {"q", "int", "word", "b64", "b64lines", "nbytes", "counted"}
EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
CANARY = "/tmp/remote-mcp-template-canary"
HOSTILE = f'it\'s $(touch {CANARY}) `touch {CANARY}`; touch {CANARY} \n-rf "x" * ~ é'


def test_every_interpolation_ends_in_a_safe_filter() -> None:
    offenders = []
    for name in template_names():
        source = (TEMPLATE_DIR / name).read_text()
        for expr in EXPRESSION.findall(source):
            last_filter = expr.rsplit("|", 1)[-1].strip().split("(")[0].strip()
            if "|" not in expr or last_filter not in SAFE_FILTERS:
                offenders.append(f"{name}: {{{{{expr}}}}}")
    assert not offenders, "unquoted interpolation:\n" + "\n".join(offenders)


def test_undefined_values_are_errors_not_empty_strings() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("read.sh.j2")


def test_quote_filter_rejects_nul_and_untyped_values() -> None:
    with pytest.raises(ValueError):
        render("stat.sh.j2", paths=["a\0b"], allowed=[])
    with pytest.raises(ValueError):
        render("_frame.sh.j2", command="x", sentinel="not a word; rm", pidmark="P", subshell=True)
    with pytest.raises(ValueError):
        render("_frame.sh.j2", command="a\0b", sentinel="S", pidmark="P", subshell=True, bulk=True)


# Hostile values for each template that takes input (partials are covered by
# the templates that include them). A new template must be added here.
def _values() -> dict[str, dict[str, Any]]:
    path = f"{{dir}}/{HOSTILE}"
    # The allowed_paths guard is rendered in: a hostile root, and {dir} so the
    # operations themselves still run.
    allowed = [path, "{dir}"]
    return {
        "read.sh.j2": dict(
            path=path,
            start=1,
            end=10,
            mode="text",
            check_size=1,
            max_size=1000,
            hash_max=1000,
            line_bytes=8000,
            slice_bytes=100000,
            allowed=allowed,
        ),
        "multiread.sh.j2": dict(
            files=[dict(path=path, start=1, end=5, mode="text", check_size=0, max_size=10)] * 2,
            boundary="B_0123",
            hash_max=1000,
            line_bytes=8000,
            slice_bytes=100000,
            allowed=[],
        ),
        "write.sh.j2": dict(
            path=path,
            content=HOSTILE,
            expect="any",
            token="EOF_1",
            allowed=allowed,
            engine="shell",
            program="",
            refused=10,
        ),
        "stat.sh.j2": dict(paths=[path, "{dir}"], allowed=allowed),
        "_guard.sh.j2": dict(allowed=allowed),
        "guard_path.sh.j2": dict(path=path, allowed=allowed),
        "probe.sh.j2": {},
        "bench_setup.sh.j2": dict(area=f"{{dir}}/{HOSTILE}"),
        "_read_fn.sh.j2": {},
        "_sha256_fn.sh.j2": {},
        "_engine_call.sh.j2": dict(token="EOF_1", engine_key="ekey"),
        "engine_prelude.sh.j2": dict(program=HOSTILE, idle_s=1),
        "bench_pace.sh.j2": dict(count=3),
        "shell_start.sh.j2": dict(marker="M_1"),
        "_frame.sh.j2": dict(
            command=f"echo {HOSTILE!r}", sentinel="S_1", pidmark="S_1_pid", subshell=True
        ),
        "_precondition.sh.j2": dict(expect=FileRecord("0" * 64, HOSTILE, 1)),
        "_commit.sh.j2": dict(token="EOF_1"),
    }


def _render_for(name: str, directory: str) -> str | None:
    values = _values().get(name)
    if values is None:
        return None

    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace("{dir}", directory)
        if isinstance(v, list):
            return [fill(x) for x in v]
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        return v

    return render(name, **fill(values))


def test_every_template_has_hostile_values() -> None:
    from tests.template_values import EXTRA_VALUES

    missing = [n for n in template_names() if n not in _values() and n not in EXTRA_VALUES]
    assert not missing, f"add hostile values for: {missing}"


# Partials only ever run under bash (here-document bodies written by bash_start).
BASH_ONLY = {"_bash_state_save_bash.sh.j2"}


@pytest.mark.parametrize("shell", ["sh", "bash", "busybox sh"])
def test_rendered_templates_parse(shell: str) -> None:
    argv = shell.split()
    require_program(argv[0])
    for name in template_names():
        if name in BASH_ONLY and shell != "bash":
            continue
        script = _render_for(name, "/tmp/x") or _render_extra(name, "/tmp/x")
        if script is None:
            continue
        proc = subprocess.run(
            [*argv, "-n"],
            input=script.encode("utf-8", "surrogateescape"),
            capture_output=True,
            check=False,
        )
        assert proc.returncode == 0, f"{name} does not parse in {shell}: {proc.stderr!r}"


def _render_extra(name: str, directory: str) -> str | None:
    from tests.template_values import EXTRA_VALUES, render_extra

    return render_extra(name, directory) if name in EXTRA_VALUES else None


def test_rendered_templates_run_without_executing_values(session, remote, remote_dir) -> None:
    remote.sh(f"rm -f {CANARY}")
    for name in template_names():
        if name.startswith("_") or name == "shell_start.sh.j2":
            continue  # partials / the channel's exec request, run by every other test
        script = _render_for(name, remote_dir) or _render_extra(name, remote_dir)
        if script is None:
            continue
        result = session.run(script, warn=True)
        # Templates answer in status words on stdout; a non-zero exit here means
        # a hostile value broke the script (a syntax error, a failed command).
        assert result.exited == 0, f"{name}: rc {result.exited}: {result.stderr}"
    assert not remote.exists(CANARY), "a template executed a hostile value"


def test_template_dir_is_the_source_or_the_installed_copy() -> None:
    assert (Path(TEMPLATE_DIR) / "read.sh.j2").is_file()


@pytest.mark.parametrize("sha256sum", [True, False])
def test_a_hash_precondition_without_sha256sum_compares_size_and_mtime(
    tmp_path: Path, sha256sum: bool
) -> None:
    """A Read's hash may be taken locally; a host with no sha256sum must
    still accept the file it was taken from and refuse one changed since."""
    import hashlib
    import os

    target = tmp_path / "f.txt"
    target.write_bytes(b"one\ntwo\n")
    stat = subprocess.run(
        ["stat", "-L", "-c", "%s %y", str(target)], capture_output=True, text=True, check=True
    )
    size, mtime = stat.stdout.strip().split(" ", 1)
    record = FileRecord(hashlib.sha256(b"one\ntwo\n").hexdigest(), mtime, int(size))
    tools = tmp_path / "bin"  # the host's PATH: stat, with or without sha256sum
    tools.mkdir()
    for program in ("stat", "sha256sum") if sha256sum else ("stat",):
        found = shutil.which(program)
        assert found is not None
        os.symlink(found, tools / program)
    assert _precondition_verdict(target, record, tools) == "fresh"
    target.write_bytes(b"one\ntwo\nthree\n")
    assert _precondition_verdict(target, record, tools) == "stale"


def _precondition_verdict(target: Path, record: FileRecord, tools: Path) -> str:
    sh = shutil.which("sh")
    assert sh is not None
    check = (
        f"rmcp_p={target}\n"
        + render("_sha256_fn.sh.j2")
        + render("_precondition.sh.j2", expect=record)
        + "\necho fresh\n"
    )
    run = subprocess.run(
        [sh, "-c", check], capture_output=True, text=True, env={"PATH": str(tools)}
    )
    return run.stdout.strip()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
@pytest.mark.parametrize("broken_openssl", [False, True])
def test_a_big_file_is_hashed_by_openssl_where_it_exists(
    tmp_path: Path, broken_openssl: bool
) -> None:
    """Above 1 MiB the precondition hashes with openssl (several times faster
    than sha256sum); an openssl that answers nonsense leaves it to sha256sum.
    The PATH has no stat, so the size-and-mtime fallback could only say stale."""
    import hashlib

    content = b"x" * (2 << 20)
    target = tmp_path / "big.bin"
    target.write_bytes(content)
    record = FileRecord(hashlib.sha256(content).hexdigest(), "-", len(content))
    tools = tmp_path / "bin"
    tools.mkdir()
    if broken_openssl:
        (tools / "openssl").write_text("#!/bin/sh\necho 1234 '*stdin'\n")
        (tools / "openssl").chmod(0o755)
        (tools / "sha256sum").symlink_to(shutil.which("sha256sum") or "/missing")
    else:
        (tools / "openssl").symlink_to(shutil.which("openssl") or "/missing")
    assert _precondition_verdict(target, record, tools) == "fresh"
    target.write_bytes(content[:-1] + b"y")
    assert _precondition_verdict(target, record, tools) == "stale"
