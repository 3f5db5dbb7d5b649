"""Upload / Download over SFTP, and the local Feedback log."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.tools import feedback, transfer

BLOB = bytes(range(256)) * 300  # binary, 75 KB


def test_upload_then_download_is_byte_exact(session, state, remote, remote_dir, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(BLOB)
    out = transfer.upload(session, str(src), f"{remote_dir}/up.bin", state=state)
    assert out.text == f"Uploaded {src} to {remote_dir}/up.bin (75KB)."
    assert remote.read_bytes(f"{remote_dir}/up.bin") == BLOB
    dest = tmp_path / "back" / "down.bin"
    transfer.download(session, f"{remote_dir}/up.bin", str(dest), state=state)
    assert dest.read_bytes() == BLOB
    assert [p.name for p in dest.parent.iterdir()] == ["down.bin"]  # no temp file left


def test_upload_refuses_to_clobber_without_overwrite_and_keeps_mode(
    session, state, remote, remote_dir, tmp_path
):
    target = f"{remote_dir}/keep.sh"
    remote.write_bytes(target, b"old")
    remote.sh(f"chmod 750 '{target}'")
    src = tmp_path / "new.sh"
    src.write_bytes(b"new")
    with pytest.raises(ToolError, match="Remote file already exists: .*Set overwrite to true"):
        transfer.upload(session, str(src), target, state=state)
    assert remote.read_bytes(target) == b"old"
    transfer.upload(session, str(src), target, overwrite=True, state=state)
    assert remote.read_bytes(target) == b"new"
    assert remote.sh(f"stat -c %a '{target}'").strip() == "750"
    assert remote.sh(f"ls -A '{remote_dir}'").split() == ["keep.sh"]


def test_download_errors(session, state, remote_dir, tmp_path):
    with pytest.raises(ToolError, match="Remote file does not exist"):
        transfer.download(session, f"{remote_dir}/nope", str(tmp_path / "x"), state=state)
    with pytest.raises(ToolError, match="Remote path is not a regular file"):
        transfer.download(session, remote_dir, str(tmp_path / "x"), state=state)
    existing = tmp_path / "exists"
    existing.write_text("mine")
    with pytest.raises(ToolError, match="Local file already exists"):
        transfer.download(session, remote_dir, str(existing), state=state)
    assert existing.read_text() == "mine"


def test_upload_of_a_missing_local_file(session, state, remote_dir, tmp_path):
    with pytest.raises(ToolError, match="Local file does not exist"):
        transfer.upload(session, str(tmp_path / "nope"), f"{remote_dir}/x", state=state)


@pytest.fixture
def tiny_fs(remote, remote_dir):
    """A 64 KiB tmpfs on the remote (sshd's private mount namespace; root)."""
    area = f"{remote_dir}/tiny"
    remote.sh(f"mkdir -- {shlex.quote(area)}")
    remote.sh(f"mount -t tmpfs -o size=64k,mode=1777 tmpfs {shlex.quote(area)}")
    try:
        yield area
    finally:
        remote.run(f"umount -- {shlex.quote(area)}")


def test_an_upload_the_disk_cannot_hold_fails_and_replaces_nothing(
    session, state, remote, tiny_fs, tmp_path
):
    """paramiko's pipelined writes dropped the server's "Failure" replies: this
    Upload was reported done and a truncated file renamed over the target."""
    target = f"{tiny_fs}/kept.bin"
    remote.write_bytes(target, b"old\n")
    src = tmp_path / "big.bin"
    src.write_bytes(b"x" * 200_000)
    with pytest.raises(ToolError, match="was not replaced"):
        transfer.upload(session, str(src), target, overwrite=True, state=state)
    assert remote.read_bytes(target) == b"old\n"
    assert remote.sh(f"ls -A -- {shlex.quote(tiny_fs)}").split() == ["kept.bin"]


def test_feedback_appends_private_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    log = tmp_path / "state" / "feedback.jsonl"
    monkeypatch.setenv("REMOTE_MCP_FEEDBACK", str(log))
    feedback.feedback("Grep was slow", "Grep", host_name="prod")
    feedback.feedback("second note", host_name="prod")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["tool"], e["message"], e["host"]) for e in entries] == [
        ("Grep", "Grep was slow", "prod"),
        (None, "second note", "prod"),
    ]
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
