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


def _batch(before: list[str], data: bytes, after: list[str]) -> bytes:
    lines = "".join(f"{x}\n" for x in before).encode()
    tail = "".join(f"{x}\n" for x in after).encode()
    return b"B batch\n" + lines + b"B cat\n" + data + b"\nB after\n" + tail


def test_a_batch_is_split_by_the_sizes_stat_gave() -> None:
    stats = ["3 2026-01-01 00:00:00.1 +0000", "6 2026-01-01 00:00:00.2 +0000"]
    assert split_batch(_batch(stats, b"a\nbxyz\nB ", stats), b"B") == [
        (stats[0], b"a\nb"),
        (stats[1], b"xyz\nB "),
    ]


def test_a_batch_that_changed_while_it_was_read_is_not_trusted() -> None:
    stats = ["3 t1", "2 t2"]
    assert split_batch(_batch(stats, b"abcde", ["3 t1", "2 t3"]), b"B") is None  # mtime moved
    assert split_batch(_batch(stats, b"abcdef", stats), b"B") is None  # grew after stat
    assert split_batch(_batch(stats, b"abcde", stats[:1]), b"B") is None  # vanished
    assert split_batch(b"B batch\n3 t1\nB cat\nabc", b"B") is None  # cut short
    assert split_batch(b"", b"B") is None
