"""Inputs that must get a clear answer (issue 9, item 10): misnamed images,
huge line numbers, NUL characters in search patterns."""

from __future__ import annotations

import base64

import pytest

from remote_mcp.errors import ToolError
from remote_mcp.tools import files, search

ARROW = "\u2192"
NOT_IMAGE = "It has an image file extension but is not a PNG, JPEG, GIF or WEBP image."
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def test_a_text_file_named_like_an_image_is_read_as_text(session, state, remote, remote_dir):
    path = f"{remote_dir}/fake.png"
    remote.write_bytes(path, b"not a picture\n")
    out = files.read(session, path, state=state)
    assert not out.images
    assert out.text == (
        f"     1{ARROW}not a picture\n\n<system-reminder>{NOT_IMAGE} It was read as text."
        "</system-reminder>"
    )


def test_binary_bytes_named_like_an_image_are_refused_clearly(session, state, remote, remote_dir):
    path = f"{remote_dir}/noise.jpg"
    remote.write_bytes(path, b"\x00\x01\x02garbage\x00")
    with pytest.raises(ToolError) as err:
        files.read(session, path, state=state)
    assert str(err.value).startswith("This tool cannot read binary files.")
    assert str(err.value).endswith(NOT_IMAGE)


@pytest.mark.parametrize(
    ("name", "head", "mime"),
    [
        ("a.png", PNG, "image/png"),
        ("a.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 20, "image/jpeg"),
        ("a.gif", b"GIF89a" + b"\0" * 20, "image/gif"),
        ("a.webp", b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 20, "image/webp"),
    ],
)
def test_real_images_are_still_images(session, state, remote, remote_dir, name, head, mime):
    path = f"{remote_dir}/{name}"
    remote.write_bytes(path, head)
    out = files.read(session, path, state=state)
    assert [(i.mime_type, base64.b64decode(i.data_b64)) for i in out.images] == [(mime, head)]


def test_multiread_reads_a_misnamed_image_as_text(session, state, remote, remote_dir):
    fake, real = f"{remote_dir}/fake.gif", f"{remote_dir}/real.png"
    remote.write_bytes(fake, b"hello\n")
    remote.write_bytes(real, PNG)
    out = files.multi_read(session, [{"file_path": fake}, {"file_path": real}], state=state)
    assert f"==> {fake} <==\n     1{ARROW}hello\n\n<system-reminder>{NOT_IMAGE}" in out.text
    assert [i.mime_type for i in out.images] == ["image/png"]


@pytest.mark.parametrize("name", ["offset", "limit"])
@pytest.mark.parametrize("value", [2**53, 2**63, 2**63 + 5, 2**64 + 1])
def test_huge_line_numbers_get_a_clear_error(session, state, remote, remote_dir, name, value):
    path = f"{remote_dir}/a.txt"
    remote.write_bytes(path, b"one\ntwo\n")
    with pytest.raises(ToolError) as err:
        files.read(session, path, state=state, **{name: value})
    assert str(err.value) == (
        f"{name} {value} is too large: line numbers and counts go up to 9007199254740991 "
        "(2^53 - 1), far more lines than any file has."
    )


def test_the_largest_offset_is_past_the_end(session, state, remote, remote_dir):
    path = f"{remote_dir}/a.txt"
    remote.write_bytes(path, b"one\ntwo\n")
    out = files.read(session, path, offset=2**53 - 1, limit=2**53 - 1, state=state)
    assert "shorter than the provided offset (9007199254740991). The file has 2 lines" in out.text


def nul_message(name: str) -> str:
    return (
        f"{name} contains a NUL character (\\0), which no file name or search pattern on the "
        "remote can contain. Remove it and try again."
    )


def test_a_nul_in_a_glob_pattern_is_a_clear_error(session, state, remote_dir):
    with pytest.raises(ToolError) as err:
        search.glob(session, "*.py\0x", remote_dir, state=state)
    assert str(err.value) == nul_message("pattern")


@pytest.mark.parametrize("where", ["pattern", "glob", "type"])
def test_a_nul_in_a_grep_argument_is_a_clear_error(session, state, remote_dir, where):
    args = {"pattern": "x", "glob": None, "type": None, where: "a\0b"}
    with pytest.raises(ToolError) as err:
        search.grep(session, args.pop("pattern"), remote_dir, state=state, **args)
    assert str(err.value) == nul_message(where)
