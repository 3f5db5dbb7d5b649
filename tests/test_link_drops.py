"""Parallel transfers and calls in flight when the link drops.

Upload/Download each get an SFTP channel of their own (a shared client
deadlocked or read another transfer's packets); a transfer cut mid-way says
what state it left; read-only calls cut in flight are retried after one
reconnect; no error text has an empty reason.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.server import RemoteServer
from remote_mcp.session import Session
from remote_mcp.shell.pool import START_WORKERS
from remote_mcp.testing import LinkProxy, SshdServer
from remote_mcp.tools import transfer
from remote_mcp.tools.base import ToolState
from tests.test_faults import call, proxied_host


@pytest.fixture
def proxy(sshd: SshdServer, tmp_path: Path) -> Iterator[LinkProxy]:
    """A LinkProxy before the test sshd, with a known_hosts naming its port."""
    with LinkProxy("127.0.0.1", sshd.port) as link:
        known = tmp_path / "known_hosts"
        known.write_text(sshd.known_hosts_line.replace(f"]:{sshd.port} ", f"]:{link.port} ") + "\n")
        link.known_hosts = str(known)  # type: ignore[attr-defined]
        yield link


def _state(session: Session) -> ToolState:
    assert session.info is not None
    return ToolState(host_name="test", info=session.info, cwd=session.info.home)


def test_parallel_uploads_and_downloads_are_byte_exact(
    session: Session, remote, remote_dir, tmp_path: Path
) -> None:
    blobs = [os.urandom(1_500_000 + i) for i in range(4)]
    sources = []
    for i, blob in enumerate(blobs):
        src = tmp_path / f"up{i}.bin"
        src.write_bytes(blob)
        sources.append(src)
    state = _state(session)
    with ThreadPoolExecutor(4) as pool:
        ups = [
            pool.submit(transfer.upload, session, str(src), f"{remote_dir}/u{i}.bin", state=state)
            for i, src in enumerate(sources)
        ]
        for f in ups:
            f.result(timeout=120)
        downs = [
            pool.submit(
                transfer.download,
                session,
                f"{remote_dir}/u{i}.bin",
                str(tmp_path / f"down{i}.bin"),
                state=state,
            )
            for i in range(4)
        ]
        for f in downs:
            f.result(timeout=120)
    for i, blob in enumerate(blobs):
        assert remote.read_bytes(f"{remote_dir}/u{i}.bin") == blob
        assert (tmp_path / f"down{i}.bin").read_bytes() == blob
    # And the session's transfers still work afterwards.
    out = transfer.upload(session, str(sources[0]), f"{remote_dir}/again.bin", state=state)
    assert out.structured["bytes"] == len(blobs[0])
    assert remote.read_bytes(f"{remote_dir}/again.bin") == blobs[0]


def test_a_download_cut_mid_way_leaves_the_local_file_alone(
    sshd: SshdServer, proxy: LinkProxy, remote, remote_dir, tmp_path: Path
) -> None:
    big = f"{remote_dir}/big.bin"
    remote.sh(f"head -c 48000000 /dev/urandom > {shlex.quote(big)}")
    (tmp_path / "dl").mkdir()
    local = tmp_path / "dl" / "big.bin"
    local.write_bytes(b"the old local copy\n")
    session = Session(proxied_host(sshd, proxy))
    try:
        session.connect()
        state = _state(session)
        start = proxy.bytes_down

        def stall_then_cut() -> None:
            deadline = time.monotonic() + 60
            while proxy.bytes_down - start < 4_000_000 and time.monotonic() < deadline:
                time.sleep(0.002)
            proxy.stall()
            proxy.cut()
            proxy.resume()

        cutter = threading.Thread(target=stall_then_cut)
        cutter.start()
        with pytest.raises(ToolError) as err:
            transfer.download(session, big, str(local), overwrite=True, state=state)
        cutter.join()
        text = str(err.value)
        assert "failed (the SSH connection to test dropped)" in text, text
        assert f"{local} was not changed" in text
        assert "EOFError" not in text and "Internal error" not in text
        assert local.read_bytes() == b"the old local copy\n"
        assert [p.name for p in local.parent.iterdir()] == ["big.bin"]  # no partial copy left
        # The next transfer reconnects and works, and the agent is told once.
        transfer.download(session, big, str(local), overwrite=True, state=state)
        assert local.stat().st_size == 48_000_000
        warning = session.take_warning()
        assert warning is not None and warning.startswith("[WARNING] SSH connection to test")
    finally:
        session.close()


def test_parallel_reads_cut_in_flight_all_succeed_after_one_reconnect(
    sshd: SshdServer, proxy: LinkProxy, remote, remote_dir
) -> None:
    paths = []
    for i in range(START_WORKERS):  # the shells open at connect: all in flight at once
        path = f"{remote_dir}/f{i}.txt"
        remote.write_bytes(path, f"file {i}\n".encode())
        paths.append(path)
    server = RemoteServer(proxied_host(sshd, proxy, workers=START_WORKERS))
    try:
        for path in paths:
            assert call(server, "Read", {"file_path": path})[0] is False
        sent = server.session.stats.commands
        proxy.stall()
        with ThreadPoolExecutor(START_WORKERS) as pool:
            futures = [pool.submit(call, server, "Read", {"file_path": p}) for p in paths]
            deadline = time.monotonic() + 30
            while server.session.stats.commands < sent + START_WORKERS:  # all are in flight
                assert time.monotonic() < deadline, "the reads never started"
                time.sleep(0.01)
            proxy.cut()
            proxy.resume()
            results = [f.result(timeout=120) for f in futures]
    finally:
        proxy.resume()  # a failed assertion must not leave the calls hanging
        proxy.cut()
        server.close()
    texts = [text for _, text in results]
    assert [is_error for is_error, _ in results] == [False] * START_WORKERS, texts
    for i, text in enumerate(texts):
        assert text.endswith(f"     1\u2192file {i}"), text
    assert sum(text.startswith("[WARNING] SSH connection to test") for text in texts) == 1
    assert server.session.reconnects == 1


def test_no_error_message_can_end_in_an_empty_reason() -> None:
    """`f"...: {exc}"` prints nothing for paramiko's bare EOFError(): the
    session layer words every exception with errors.reason() (describe()
    names the exception's type, so it is never empty either)."""
    root = Path(__file__).resolve().parent.parent / "remote_mcp"
    offenders = []
    names = ["connection.py", "session.py", "tools/transfer.py"]
    names += [f"shell/{path.name}" for path in sorted((root / "shell").glob("*.py"))]
    for name in names:
        for number, line in enumerate((root / name).read_text().splitlines(), 1):
            bare = line.replace("{type(exc).__name__}: {exc}", "")
            if re.search(r"\{(exc|err)\}", bare):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
