"""read_slice: a small file sent whole must read exactly as the remote's
slicing would read it, and a MultiRead batch is only trusted if unchanged."""

from __future__ import annotations

import hashlib

from remote_mcp.tools.read_slice import slice_whole, split_batch

BIG = 10**9


def test_lines_start_to_end_keep_their_newlines_and_the_hash_is_of_the_file() -> None:
    data = b"one\ntwo\r\nthree\nfour"
    cut = slice_whole(data, 2, 3, BIG, BIG)
    assert (cut.body, cut.total) == (b"two\r\nthree\n", None)
    assert cut.sha256 == hashlib.sha256(data).hexdigest()


def test_a_missing_final_newline_stays_missing_and_a_final_cr_stays() -> None:
    assert slice_whole(b"a\nb", 1, 2000, BIG, BIG).body == b"a\nb"
    assert slice_whole(b"a\nb\r", 2, 2000, BIG, BIG).body == b"b\r"
    assert slice_whole(b"a\nb\n", 1, 2000, BIG, BIG).body == b"a\nb\n"


def test_past_the_end_gives_the_line_count_counting_an_unterminated_last_line() -> None:
    assert slice_whole(b"1\n2\n3", 10, 20, BIG, BIG).total == 3
    assert slice_whole(b"1\n2\n3\n", 4, 20, BIG, BIG).total == 3
    assert slice_whole(b"1\n2\n3\n", 3, 20, BIG, BIG).total is None
    assert slice_whole(b"", 1, 20, BIG, BIG).total == 0
    assert slice_whole(b"\n", 1, 20, BIG, BIG).body == b"\n"


def test_lines_are_cut_to_line_bytes_and_the_slice_to_slice_bytes() -> None:
    data = b"x" * 10 + b"\n" + b"y" * 3 + b"\n" + b"z" * 10
    assert slice_whole(data, 1, 3, 4, BIG).body == b"xxxx\nyyy\nzzzz"
    assert slice_whole(data, 1, 3, 4, 7).body == b"xxxx\nyy"


def _batch(files: list[tuple[bytes, str, bytes]], sizes: list[int] | None = None) -> bytes:
    """The section multiread.sh.j2 prints for (name, mtime, content) files,
    with stat's sizes (default: the contents' lengths)."""
    sizes = sizes or [len(content) for _, _, content in files]
    rows = b"".join(
        b"%d %d %s\n" % (len(name), size, mtime.encode())
        for (name, mtime, _), size in zip(files, sizes, strict=True)
    )
    body = b"\n".join(b"==> %s <==\n%s" % (name, content) for name, _, content in files)
    return b"B batch\n" + rows + b"B head\n" + body + b"\n"


def test_a_batch_is_split_by_the_sizes_stat_gave() -> None:
    files = [(b"/a", "t1", b"a\nb"), (b"/x <==\n==> y", "t2", b"xyz\n==> /z <==\n")]
    assert split_batch(_batch(files), b"B") == [
        ("3 t1", b"a\nb"),
        ("15 t2", b"xyz\n==> /z <==\n"),
    ]


def test_a_batch_that_changed_while_it_was_read_is_not_trusted() -> None:
    files = [(b"/a", "t1", b"abc"), (b"/b", "t2", b"de")]
    assert split_batch(_batch(files), b"B") is not None
    assert split_batch(_batch(files, [2, 3]), b"B") is None  # one shrank, one grew
    assert split_batch(_batch(files, [4, 2]), b"B") is None  # /sys: says more than it holds
    assert split_batch(_batch(files, [3, 1]), b"B") is None  # grew after stat
    assert split_batch(_batch(files)[:-4], b"B") is None  # cut short
    assert split_batch(b"B batch\n1 3 t1\nB head\n==> /a <==\nabc\n", b"B") is None  # name
    assert split_batch(b"", b"B") is None
