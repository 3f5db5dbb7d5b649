"""Write of large content over SFTP (tools/write_large.py) and the SFTP
sender under it and under Upload (sftp_put.py), against the real sshd."""

from __future__ import annotations

import os
import shlex
import threading
import time

import pytest

from remote_mcp import sftp_put
from remote_mcp.errors import ToolError
from remote_mcp.tools import files, write_large
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.write_large import LARGE_WRITE_BYTES


def q(path: str) -> str:
    return shlex.quote(path)


def big_text(size: int = LARGE_WRITE_BYTES + 1000) -> str:
    """Incompressible text (hex of random bytes) of ``size`` characters."""
    return os.urandom(size // 2 + 1).hex()[:size]


def _sent_by_write(session, state, path: str, content: str) -> int:
    before = session.stats.snapshot()[1]
    files.write(session, path, content, state=state)
    return session.stats.snapshot()[1] - before


def test_a_large_write_sends_the_bytes_once_not_base64(session, state, remote, remote_dir):
    """Inline, the content crosses the link base64-encoded inside the command."""
    content = big_text()
    path = f"{remote_dir}/big.txt"
    staged = _sent_by_write(session, state, path, content)
    assert remote.read_bytes(path) == content.encode()
    umask = int(session.run("umask").stdout.strip(), 8)
    assert remote.sh(f"stat -c %a -- {q(path)}").strip() == f"{0o666 & ~umask:o}"
    assert remote.sh(f"ls -A -- {q(remote_dir)}").split() == ["big.txt"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(write_large, "LARGE_WRITE_BYTES", 10 * len(content))
        inline = _sent_by_write(session, state, f"{remote_dir}/inline.txt", content)
    assert staged < 0.9 * inline


def test_a_large_new_file_is_reported_created(session, state, remote, remote_dir):
    path = f"{remote_dir}/big.txt"
    out = files.write(session, path, big_text(), state=state)
    assert out.text == f"File created successfully at: {path}"


def test_a_large_overwrite_needs_a_read_and_keeps_the_mode(session, state, remote, remote_dir):
    path = f"{remote_dir}/kept.sh"
    remote.write_bytes(path, b"old\n")
    remote.sh(f"chmod 750 -- {q(path)}")
    with pytest.raises(ToolError, match="has not been read yet"):
        files.write(session, path, big_text(), state=state)
    files.read(session, path, state=state)
    remote.write_bytes(path, b"changed behind our back\n")
    with pytest.raises(ToolError, match="modified since read"):
        files.write(session, path, big_text(), state=state)
    assert remote.read_bytes(path) == b"changed behind our back\n"
    files.read(session, path, state=state)
    content = big_text()
    out = files.write(session, path, content, state=state)
    assert out.text.startswith(f"The file {path} has been updated.")
    assert remote.read_bytes(path) == content.encode()
    assert remote.sh(f"stat -c %a -- {q(path)}").strip() == "750"
    assert remote.sh(f"ls -A -- {q(remote_dir)}").split() == ["kept.sh"]


def test_a_large_write_through_a_symlink_into_another_directory(session, state, remote, remote_dir):
    """The staged file lands beside the link; the commit moves it beside the target."""
    remote.sh(f"mkdir -- {q(remote_dir)}/a {q(remote_dir)}/b")
    target, link = f"{remote_dir}/b/target.txt", f"{remote_dir}/a/link.txt"
    remote.write_bytes(target, b"old\n")
    remote.sh(f"ln -s ../b/target.txt {q(link)}")
    files.read(session, link, state=state)
    content = big_text()
    files.write(session, link, content, state=state)
    assert remote.read_bytes(target) == content.encode()
    assert remote.sh(f"readlink -- {q(link)}").strip() == "../b/target.txt"
    assert remote.sh(f"ls -A -- {q(remote_dir)}/a {q(remote_dir)}/b").split() == [
        f"{remote_dir}/a:",
        "link.txt",
        f"{remote_dir}/b:",
        "target.txt",
    ]


def test_a_large_write_into_a_missing_directory_creates_it(session, state, remote, remote_dir):
    """SFTP cannot stage there: the inline path runs (mkdir -p) instead."""
    path = f"{remote_dir}/new/dir/big.txt"
    content = big_text()
    files.write(session, path, content, state=state)
    assert remote.read_bytes(path) == content.encode()


def test_a_large_write_outside_allowed_paths_leaves_nothing_there(session, remote, remote_dir):
    inside, outside = f"{remote_dir}/in", f"{remote_dir}/out"
    remote.sh(f"mkdir -- {q(inside)} {q(outside)}")
    assert session.info is not None
    state = ToolState(host_name="test", info=session.info, cwd=inside, allowed_paths=(inside,))
    with pytest.raises(ToolError, match="outside allowed_paths"):
        files.write(session, f"{outside}/big.txt", big_text(), state=state)
    assert remote.sh(f"ls -A -- {q(outside)}") == ""
    files.write(session, f"{inside}/big.txt", "x" * LARGE_WRITE_BYTES, state=state)
    assert remote.sh(f"ls -A -- {q(inside)}").split() == ["big.txt"]


def test_create_private_never_writes_into_a_planted_file(session, remote, remote_dir):
    planted = f"{remote_dir}/planted"
    remote.write_bytes(planted, b"someone else's\n")
    with session.sftp_client() as sftp, pytest.raises(OSError):
        sftp_put.create_private(sftp, planted)
    assert remote.read_bytes(planted) == b"someone else's\n"


@pytest.fixture
def tiny_fs(remote, remote_dir):
    """A 64 KiB tmpfs on the remote (sshd's private mount namespace; root)."""
    area = f"{remote_dir}/tiny"
    remote.sh(f"mkdir -- {q(area)} && mount -t tmpfs -o size=64k,mode=1777 tmpfs {q(area)}")
    try:
        yield area
    finally:
        remote.run(f"umount -- {q(area)}")


def test_a_write_the_disk_refuses_is_reported_not_dropped(session, remote, tiny_fs):
    """paramiko's pipelined SFTPFile never reads the replies to its writes: a full
    disk would pass unnoticed and a truncated file be renamed into place."""
    path = f"{tiny_fs}/full"
    with session.sftp_client() as sftp:
        new = sftp_put.create_private(sftp, path)
        with pytest.raises(OSError):
            sftp_put.finish(new, sftp_put.chunks_of(b"x" * 200_000), final_mode=0o644)
        sftp_put.create_private(sftp, f"{tiny_fs}/small")  # the client still works
    assert int(remote.sh(f"stat -c %s -- {q(path)}")) < 200_000


def test_finish_gives_the_final_mode_after_the_data(session, remote, remote_dir):
    path = f"{remote_dir}/sent"
    with session.sftp_client() as sftp:
        new = sftp_put.create_private(sftp, path)
        assert remote.sh(f"stat -c %a -- {q(path)}").strip() == "600"
        assert (
            sftp_put.finish(new, sftp_put.chunks_of(b"data" * 30_000), final_mode=0o640) == 120_000
        )
    assert remote.read_bytes(path) == b"data" * 30_000
    assert remote.sh(f"stat -c %a -- {q(path)}").strip() == "640"


def test_a_large_write_cut_while_sending_leaves_the_file_alone(
    sshd, remote, remote_dir, tmp_path
) -> None:
    """Cut mid-way through the content: the target is untouched, the error says
    so, the partial temp file is removed after a reconnect; the next Write applies."""
    from remote_mcp.session import Session
    from remote_mcp.testing import LinkProxy
    from tests.test_faults import proxied_host

    path = f"{remote_dir}/target.txt"
    remote.write_bytes(path, b"old\n")
    with LinkProxy("127.0.0.1", sshd.port) as proxy:
        known = tmp_path / "known_hosts"
        known.write_text(
            sshd.known_hosts_line.replace(f"]:{sshd.port} ", f"]:{proxy.port} ") + "\n"
        )
        proxy.known_hosts = str(known)  # type: ignore[attr-defined]
        session = Session(proxied_host(sshd, proxy))
        try:
            session.connect()
            assert session.info is not None
            state = ToolState(host_name="test", info=session.info, cwd=remote_dir)
            files.read(session, path, state=state)
            start = proxy.bytes_up

            def cut_mid_way() -> None:
                deadline = time.monotonic() + 60
                while proxy.bytes_up - start < 4_000_000 and time.monotonic() < deadline:
                    time.sleep(0.002)
                proxy.stall()
                proxy.cut()
                proxy.resume()

            cutter = threading.Thread(target=cut_mid_way)
            cutter.start()
            with pytest.raises(ToolError) as err:
                files.write(session, path, big_text(40_000_000), state=state)
            cutter.join()
            text = str(err.value)
            assert f"{path} was not changed" in text, text
            assert "its partial temp file was removed" in text
            assert remote.read_bytes(path) == b"old\n"
            assert remote.sh(f"ls -A -- {q(remote_dir)}").split() == ["target.txt"]
            content = big_text()
            files.write(session, path, content, state=state)
            assert remote.read_bytes(path) == content.encode()
        finally:
            session.close()


def test_chunks_of_bytes_and_of_a_file_are_the_same(tmp_path) -> None:
    data = os.urandom(3 * sftp_put.CHUNK + 5)
    source = tmp_path / "data"
    source.write_bytes(data)
    with source.open("rb") as fh:
        from_file = list(sftp_put.chunks_of(fh))
    assert list(sftp_put.chunks_of(data)) == from_file
    assert [len(c) for c in from_file] == [sftp_put.CHUNK] * 3 + [5]
    assert list(sftp_put.chunks_of(b"")) == []
