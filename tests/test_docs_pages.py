"""The documentation pages: links resolve, shell and config snippets run, and
every page has a Simplified Chinese sibling with the same structure.

Snippet rule: every ```sh block of the tutorial and the how-to guides runs
(bash -e, from the repository root, in a private HOME whose config maps the
docs' host names to a sandbox sshd), unless the line before its fence is
``<!-- not-run: REASON -->``. Every ```yaml block with a ``hosts:`` key, on
any page, must load as a remote-mcp config.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Pages written in English only, and why.
ENGLISH_ONLY = {
    "CHANGELOG.md": "a release log; Keep a Changelog entries are not translated",
    "docs/CLAUDE.md.fragment.md": "the server's MCP instructions verbatim, read by the model",
}
# Link targets that land with another branch; the lead removes an entry when it merges.
PENDING_TARGETS: dict[str, str] = {}
# Host names the executed snippets use; all of them reach the sandbox sshd.
# CONFIG_HOSTS are entries of config.yaml; every name is also a Host alias of
# ~/.ssh/config, so the snippets that add a host from ssh_config (add-host
# gpu1, add-host myserver) find it there and not yet in config.yaml.
CONFIG_HOSTS = ("prod", "staging", "faraway")
SSH_ALIASES = (*CONFIG_HOSTS, "myserver", "gpu1", "web")
NOT_RUN = re.compile(r"^<!-- not-run: (\S.*\S) -->$")
FENCE = re.compile(r"^```(\S*)\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SWITCH_EN = "English | [简体中文]({name}.zh.md)"
SWITCH_ZH = "[English]({name}.md) | 简体中文"


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int
    not_run: str | None  # the reason, if marked


def english_pages() -> list[Path]:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
    pages += sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".zh.md"))
    return pages


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def zh_sibling(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".md") + ".zh.md")


def blocks(text: str) -> list[Block]:
    found, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        marker = NOT_RUN.match(lines[start - 1]) if start else None
        found.append(Block(m.group(1), "\n".join(body), start + 1, marker and marker.group(1)))
        i += 1
    return found


def prose(text: str) -> str:
    """The page without its fenced blocks (links and headings live here)."""
    return re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)


def headings(text: str) -> list[int]:
    return [len(m.group(1)) for m in re.finditer(r"^(#{1,6}) ", prose(text), re.M)]


def links(text: str) -> list[str]:
    return LINK.findall(prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*|_(?=\W)|\[|\]\([^)]*\)", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


# --------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------


def all_pages() -> list[Path]:
    pages = english_pages()
    return pages + [zh_sibling(p) for p in pages if zh_sibling(p).exists()]


@pytest.mark.parametrize("page", all_pages(), ids=rel)
def test_relative_links_resolve(page: Path) -> None:
    bad = []
    for target in links(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if rel(dest) in PENDING_TARGETS and not dest.exists():
            continue
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md":
            anchors = {slug(h) for h in re.findall(r"^#{1,6} (.*)$", prose(dest.read_text()), re.M)}
            if anchor not in anchors:
                bad.append(f"{target}: no heading with anchor #{anchor}")
    assert not bad, f"{rel(page)}: broken links: {bad}"


# --------------------------------------------------------------------------
# Bilingual parity
# --------------------------------------------------------------------------


def translated_pages() -> list[Path]:
    return [p for p in english_pages() if rel(p) not in ENGLISH_ONLY]


def test_every_page_has_a_chinese_sibling() -> None:
    missing = [rel(zh_sibling(p)) for p in translated_pages() if not zh_sibling(p).exists()]
    assert not missing, f"write the Simplified Chinese sibling of: {missing}"
    orphans = [
        rel(p)
        for p in [*ROOT.glob("*.zh.md"), *DOCS.rglob("*.zh.md")]
        if not p.with_name(p.name.removesuffix(".zh.md") + ".md").exists()
    ]
    assert not orphans, f"Chinese pages without an English original: {orphans}"


def _switch_line(text: str) -> str:
    lines = text.split("\n")
    return lines[2] if len(lines) > 2 else ""


def _mapped(page: Path, target: str) -> str:
    """An English page's link as its Chinese sibling should have it."""
    if re.match(r"^[a-z]+:", target):
        return target
    path = target.partition("#")[0]
    if not path.endswith(".md"):
        return path
    zh = path.removesuffix(".md") + ".zh.md"
    exists = (page.parent / zh).exists() or rel((page.parent / zh).resolve()) in PENDING_TARGETS
    return zh if exists else path


@pytest.mark.parametrize("page", translated_pages(), ids=rel)
def test_chinese_sibling_has_the_same_structure(page: Path) -> None:
    zh = zh_sibling(page)
    if not zh.exists():
        pytest.fail(f"{rel(zh)} is missing")
    en_text, zh_text = page.read_text(), zh.read_text()
    name = page.name.removesuffix(".md")
    assert _switch_line(en_text) == SWITCH_EN.format(name=name), (
        f"{rel(page)}: line 3 must be the language switch {SWITCH_EN.format(name=name)!r}"
    )
    assert _switch_line(zh_text) == SWITCH_ZH.format(name=name), (
        f"{rel(zh)}: line 3 must be the language switch {SWITCH_ZH.format(name=name)!r}"
    )
    assert headings(zh_text) == headings(en_text), f"{rel(zh)}: heading levels differ"
    en_blocks = [(b.lang, b.text, b.not_run is not None) for b in blocks(en_text)]
    zh_blocks = [(b.lang, b.text, b.not_run is not None) for b in blocks(zh_text)]
    assert zh_blocks == en_blocks, f"{rel(zh)}: code blocks differ from {rel(page)}"
    body = lambda text: "\n".join(text.split("\n")[3:])  # noqa: E731 -- after the switch
    en_links = Counter(_mapped(page, t) for t in links(body(en_text)))
    zh_links = Counter(t.partition("#")[0] if ":" not in t else t for t in links(body(zh_text)))
    assert zh_links == en_links, (
        f"{rel(zh)}: links differ: {en_links - zh_links} / {zh_links - en_links}"
    )


# --------------------------------------------------------------------------
# Executed snippets
# --------------------------------------------------------------------------

EXECUTED = sorted([*DOCS.glob("tutorials/*.md"), *DOCS.glob("how-to/*.md")])
EXECUTED = [p for p in EXECUTED if not p.name.endswith(".zh.md")]


def _sandbox(env: dict[str, str], action: str) -> str:
    code = {
        "start": "from remote_mcp.sandbox import ensure_sandbox; print(ensure_sandbox())",
        "stop": "from remote_mcp.sandbox import stop_sandbox; stop_sandbox()",
    }[action]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class DocsHome:
    """A private HOME where the docs' host names reach the sandbox sshd."""

    def __init__(self, home: Path) -> None:
        self.home = home
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local/state"),
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        }
        for name in (
            "REMOTE_MCP_CONFIG",
            "REMOTE_MCP_SANDBOX_DIR",
            "REMOTE_MCP_FEEDBACK",
            "REMOTE_MCP_SSH_CONFIG",
            "SSH_AUTH_SOCK",
        ):
            self.env.pop(name, None)
        self.config_text = ""

    def ready(self) -> None:
        """Start the sandbox if a snippet stopped it, and point the hosts at it."""
        import yaml

        config = Path(_sandbox(self.env, "start"))
        text = config.read_text()
        if text == self.config_text:
            return
        self.config_text = text
        sandbox = yaml.safe_load(text)["hosts"]["sandbox"]
        hosts = {name: dict(sandbox) for name in CONFIG_HOSTS}
        target = self.home / ".config/remote-mcp/config.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump({"hosts": hosts, "default_host": "prod"}))
        ssh = self.home / ".ssh"
        ssh.mkdir(mode=0o700, exist_ok=True)
        (ssh / "config").write_text(
            "".join(
                f"Host {name}\n  HostName {sandbox['hostname']}\n  Port {sandbox['port']}\n"
                f"  User {sandbox['user']}\n  IdentityFile {sandbox['key_path']}\n"
                f"  UserKnownHostsFile {sandbox['known_hosts']}\n"
                for name in SSH_ALIASES
            )
        )


@pytest.fixture(scope="module")
def docs_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsHome]:
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.skip("needs OpenSSH's sshd")
    home = DocsHome(tmp_path_factory.mktemp("docs-home"))
    try:
        yield home
    finally:
        _sandbox(home.env, "stop")


@pytest.mark.sshd
@pytest.mark.parametrize("page", EXECUTED, ids=rel)
def test_shell_snippets_run(page: Path, docs_home: DocsHome) -> None:
    shell_blocks = [b for b in blocks(page.read_text()) if b.lang in ("sh", "bash", "shell")]
    assert all(b.lang == "sh" for b in shell_blocks), f"{rel(page)}: tag shell blocks ```sh"
    for block in shell_blocks:
        if block.not_run:
            continue
        docs_home.ready()
        proc = subprocess.run(
            ["bash", "-e", "-c", block.text],
            cwd=ROOT,
            env=docs_home.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{rel(page)}:{block.line}: snippet failed ({proc.returncode}):\n{block.text}\n"
            f"--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-2000:]}"
        )


def test_not_run_markers_only_precede_code_blocks() -> None:
    stray = []
    for page in all_pages():
        lines = page.read_text().split("\n")
        for i, line in enumerate(lines):
            if line.startswith("<!-- not-run") and (
                NOT_RUN.match(line) is None
                or i + 1 >= len(lines)
                or not lines[i + 1].startswith("```")
            ):
                stray.append(f"{rel(page)}:{i + 1}")
    assert not stray, f"a not-run marker needs a reason and a code block right after it: {stray}"


@pytest.mark.parametrize("page", english_pages(), ids=rel)
def test_config_snippets_load(page: Path, tmp_path: Path) -> None:
    from remote_mcp.config import load_config

    for block in blocks(page.read_text()):
        if block.lang != "yaml" or "hosts:" not in block.text or block.not_run:
            continue
        path = tmp_path / f"line{block.line}.yaml"
        path.write_text(block.text + "\n")
        config = load_config(str(path))
        for name in config.hosts:
            assert config.host(name).name == name
