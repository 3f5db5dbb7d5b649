"""Shared pytest fixtures for remote-mcp's tests.

Sections:

1. Hermetic HOME (runs at import time, before fabric/paramiko read any config).
2. Markers.
3. The test sshd (`sshd`) and remote-state helpers (`remote_dir`, `remote`),
   built on `remote_mcp.testing` and independent of the product code.
4. Product fixtures (added by the product modules' owners, below section 3).
"""

from __future__ import annotations

# --------------------------------------------------------------------------
# 1. Hermetic HOME
#
# Must run before anything imports fabric or paramiko: they read ~/.ssh/config
# and known_hosts, and the product reads ~/.config/remote-mcp. Tests must
# never read or write the developer's real files, nor be helped by their ssh
# agent (a key in the agent could make a broken key_path setting pass).
# --------------------------------------------------------------------------
import atexit
import os
import shutil
import tempfile

TEST_HOME = tempfile.mkdtemp(prefix="remote-mcp-home-")
os.environ["HOME"] = TEST_HOME
os.environ["XDG_CONFIG_HOME"] = os.path.join(TEST_HOME, ".config")
os.environ.pop("SSH_AUTH_SOCK", None)
os.makedirs(os.path.join(TEST_HOME, ".ssh"), mode=0o700)
atexit.register(shutil.rmtree, TEST_HOME, ignore_errors=True)

import functools  # noqa: E402
import inspect  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from remote_mcp.testing import (  # noqa: E402
    Fleet,
    SshdError,
    SshdServer,
    remote_exec,
    start_fleet,
    start_sshd,
)

# --------------------------------------------------------------------------
# 2. Markers
# --------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running test (deselect with -m 'not slow')")
    config.addinivalue_line(
        "markers", "sshd: needs OpenSSH's sshd (set automatically; `invoke test --fast` skips)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts an sshd -- through the fixture, by hand, as a
    sandbox or in a fixture of its own -- so `-m "not sshd"` (``invoke test
    --fast``) runs the rest in seconds."""
    for item in items:
        functions = [getattr(item, "function", None)]
        info = getattr(item, "_fixtureinfo", None)
        if info is not None:
            functions += [d.func for defs in info.name2fixturedefs.values() for d in defs]
        if "sshd" in getattr(item, "fixturenames", ()) or any(map(_starts_sshd, functions)):
            item.add_marker(pytest.mark.sshd)


@functools.cache
def _starts_sshd(function: object) -> bool:
    try:
        source = inspect.getsource(function)  # type: ignore[arg-type]
    except (TypeError, OSError):
        return False
    return bool(_STARTS_SSHD.search(source))


_STARTS_SSHD = re.compile(r"\bstart_\w*(?:sshd|fleet)\(|\bensure_sandbox\(|\"sandbox\"")


# --------------------------------------------------------------------------
# 3. Test sshd and remote-state helpers
# --------------------------------------------------------------------------

# One per test process (pid), so parallel runs (xdist workers, two terminals)
# never share the remote area.
REMOTE_AREA = Path(f"/tmp/remote-mcp-remote-area-{os.getpid()}")
# An unprivileged remote account (created when the tests run as root): root's
# privileges hide every permission bug.
OTHER_USER = "rmcp-test"


def in_ci() -> bool:
    """True under CI (``CI`` set, as GitHub Actions and .ci/run do)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require_isolation(server: SshdServer) -> None:
    """Losing remote/local isolation must not pass silently.

    Without it a product bug that touches a local path instead of the remote
    one passes every test. Under CI, and as root (who always has mount
    namespaces unless a container withholds them), that fails the run; on a
    developer machine without namespaces the sshd tests skip, saying why.
    """
    if server.isolated:
        return
    why = (
        "sshd could not run in a private mount namespace (see the ISOLATION IS OFF "
        "warning above), so the tests cannot tell remote files from local ones"
    )
    server.stop()
    if in_ci() or os.geteuid() == 0:
        pytest.fail(
            f"{why}. Install util-linux (unshare) and, in a container, grant CAP_SYS_ADMIN "
            "(docker run --cap-add SYS_ADMIN)",
            pytrace=False,
        )
    pytest.skip(f"{why}; run as root or under CI where namespaces are available")


def require_program(name: str) -> str:
    """The path of a local program a test needs (dash, busybox...): missing,
    it fails the run under CI (.ci/run installs it) and skips elsewhere, so a
    test never passes having checked nothing."""
    path = shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is not installed; CI must install it (.ci/run)", pytrace=False)
        pytest.skip(f"{name} is not installed here")
    return path


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """A throwaway sshd on 127.0.0.1, known to the test HOME's ssh and remote-mcp config.

    sshd runs in its own mount namespace where ``REMOTE_AREA`` is a private
    tmpfs: files the product writes there "remotely" are invisible locally, so
    a product bug that uses a local path instead of SSH fails the tests.
    """
    server = start_sshd(
        tmp_path_factory.mktemp("sshd"), isolated_root=REMOTE_AREA, other_user=OTHER_USER
    )
    require_isolation(server)
    try:
        home = Path(TEST_HOME)
        ssh_dir = home / ".ssh"
        with open(ssh_dir / "known_hosts", "a") as f:
            f.write(server.known_hosts_line + "\n")
        key = ssh_dir / "id_ed25519"
        shutil.copyfile(server.client_key, key)
        key.chmod(0o600)
        config_dir = home / ".config" / "remote-mcp"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "config.yaml").write_text(
            "hosts:\n"
            "  test:\n"
            f"    hostname: {server.host}\n"
            f"    port: {server.port}\n"
            f"    user: {server.user}\n"
            f"    key_path: {key}\n"
            "default_host: test\n"
        )
        yield server
    finally:
        server.stop()


@pytest.fixture
def remote_dir(sshd: SshdServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty directory on the remote (under the isolated area); removed afterwards."""
    root = sshd.isolated_root or REMOTE_AREA
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:40]
    path = f"{root}/{name}-{uuid.uuid4().hex[:8]}"
    rc, _, err = remote_exec(sshd, f"mkdir -p -- {shlex.quote(path)}")
    assert rc == 0, f"remote mkdir {path} failed: {err!r}"
    yield path
    remote_exec(sshd, f"rm -rf -- {shlex.quote(path)}")


class RemoteHelper:
    """Checks remote state over an SSH channel of its own (see `remote_exec`).

    Every path is passed through `shlex.quote`, so hostile file names are safe.
    """

    def __init__(self, server: SshdServer) -> None:
        self.server = server

    def run(self, cmd: str, timeout: float = 30) -> tuple[int, bytes, bytes]:
        """Run a shell command; return ``(rc, stdout, stderr)``."""
        return remote_exec(self.server, cmd, timeout)

    def sh(self, cmd: str, timeout: float = 30) -> str:
        """Run a shell command that must succeed; return its stdout as text."""
        rc, out, err = self.run(cmd, timeout)
        assert rc == 0, f"remote command failed (rc {rc}): {cmd}\n{err.decode(errors='replace')}"
        return out.decode("utf-8", "surrogateescape")

    def read_bytes(self, path: str) -> bytes:
        rc, out, err = self.run(f"cat -- {shlex.quote(path)}")
        assert rc == 0, f"remote read {path!r} failed: {err!r}"
        return out

    def write_bytes(self, path: str, data: bytes) -> None:
        rc, _, err = remote_exec(self.server, f"cat > {shlex.quote(path)}", input=data)
        assert rc == 0, f"remote write {path!r} failed: {err!r}"

    def exists(self, path: str) -> bool:
        return self.run(f"test -e {shlex.quote(path)}")[0] == 0


@pytest.fixture(scope="session")
def remote(sshd: SshdServer) -> RemoteHelper:
    """Helper to read and change remote state without going through the product code."""
    return RemoteHelper(sshd)


FLEET_SIZE = 20
# Each fleet node mounts its own tmpfs here (one path, as on many hosts).
FLEET_AREA = Path(f"/tmp/remote-mcp-fleet-area-{os.getpid()}")


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """20 sshds that pass for distinct hosts ``node01``..``node20`` (see
    `remote_mcp.testing.fleet`): serve them with ``--config
    fleet.config_path --group fleet``. Tests must leave every node running
    and its files as they found them: the fleet is shared by the session."""
    try:
        nodes = start_fleet(tmp_path_factory.mktemp("fleet"), FLEET_SIZE, isolated_root=FLEET_AREA)
    except SshdError as exc:
        if in_ci() or os.geteuid() == 0:
            raise
        pytest.skip(f"the fleet needs mount namespaces: {exc}")
    with nodes:
        yield nodes


# --------------------------------------------------------------------------
# 4. Product fixtures
# --------------------------------------------------------------------------

from remote_mcp.config import HostConfig  # noqa: E402
from remote_mcp.session import Session  # noqa: E402
from remote_mcp.tools.base import ToolState  # noqa: E402


def make_host(server: SshdServer, **overrides: object) -> HostConfig:
    """A HostConfig for the test sshd; ``overrides`` set optional keys
    (for example ``grep_backend="grep"`` to force a fallback)."""
    values: dict[str, object] = {
        "name": "test",
        "hostname": server.host,
        "port": server.port,
        "user": server.user,
        "key_path": str(Path(TEST_HOME) / ".ssh" / "id_ed25519"),
    }
    values.update(overrides)
    return HostConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def host_config(sshd: SshdServer) -> HostConfig:
    return make_host(sshd)


@pytest.fixture(scope="session")
def session(host_config: HostConfig) -> Iterator[Session]:
    """A connected product Session (pooled worker shells) to the test sshd."""
    s = Session(host_config)
    s.connect()
    yield s
    s.close()


@pytest.fixture
def state(session: Session) -> ToolState:
    """Fresh per-test tool state (read tracking etc.) bound to the session's remote."""
    assert session.info is not None
    return ToolState(host_name="test", info=session.info, cwd=session.info.home)


@pytest.fixture(scope="session")
def session_nonroot(sshd: SshdServer) -> Iterator[Session]:
    """A product Session logged in as the unprivileged ``sshd.other_user``."""
    if sshd.other_user is None:
        pytest.skip("needs root to create the unprivileged remote user (CI runs as root)")
    s = Session(make_host(sshd, user=sshd.other_user))
    s.connect()
    yield s
    s.close()


@pytest.fixture
def state_nonroot(session_nonroot: Session) -> ToolState:
    """Fresh tool state for `session_nonroot`."""
    assert session_nonroot.info is not None
    info = session_nonroot.info
    return ToolState(host_name="test", info=info, cwd=info.home)


@pytest.fixture
def remote_dir_nonroot(sshd: SshdServer, remote_dir: str, session_nonroot: Session) -> str:
    """`remote_dir`, owned by the unprivileged user."""
    assert sshd.other_user is not None
    rc, _, err = remote_exec(sshd, f"chown {sshd.other_user}: -- {shlex.quote(remote_dir)}")
    assert rc == 0, err
    return remote_dir
