"""Fleet output (tools/fleet_output.py): dshbak-style grouping of per-host
results, the header line, failures last, and the size cap (issue 15, item 4).
Pure: no sshd. The expected texts are exact: they pin the format."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from remote_mcp.hostlist import expand
from remote_mcp.tools.bash import MAX_OUTPUT_CHARS
from remote_mcp.tools.fleet_output import HostOutcome, render_fleet

H = HostOutcome


def render(outcomes: list[HostOutcome], limit: int = MAX_OUTPUT_CHARS) -> str:
    return render_fleet(outcomes, limit_chars=limit)


def test_identical_results_share_one_block_different_ones_follow_failures_last() -> None:
    outcomes = [H(f"gpu{i:02d}", "Linux 6.1\n", 0) for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11)]
    outcomes += [
        H("gpu12", "", failure="Connection refused"),
        H("gpu10", "cat: /x: No such file or directory", 1),
    ]
    assert render(outcomes) == (
        "12 hosts: 10 identical, 1 different, 1 failed\n"
        "== gpu[01-09,11] (10 hosts) exit code 0 ==\n"
        "Linux 6.1\n"
        "== gpu10 exit code 1 ==\n"
        "cat: /x: No such file or directory\n"
        "== gpu12 failed: Connection refused =="
    )


def test_blocks_most_hosts_first_ties_in_natural_host_order() -> None:
    outcomes = [
        H("web10", "b"),
        H("web2", "b"),  # two hosts
        H("web9", "c"),
        H("web11", "c"),  # two hosts too: web2 comes before web9
        H("web3", "a"),
        H("web4", "a"),
        H("web5", "a"),  # three hosts
        H("web1", "d"),
    ]
    assert render(outcomes) == (
        "8 hosts: 3 identical, 5 different in 3 other outputs\n"
        "== web[3-5] (3 hosts) ==\n"
        "a\n"
        "== web[2,10] (2 hosts) ==\n"
        "b\n"
        "== web[9,11] (2 hosts) ==\n"
        "c\n"
        "== web1 ==\n"
        "d"
    )


def test_the_same_output_with_different_exit_codes_is_two_blocks() -> None:
    outcomes = [H("a1", "x", 0), H("a2", "x", 1), H("a3", "x", 0)]
    assert render(outcomes) == (
        "3 hosts: 2 identical, 1 different\n"
        "== a[1,3] (2 hosts) exit code 0 ==\n"
        "x\n"
        "== a2 exit code 1 ==\n"
        "x"
    )


def test_empty_output_is_shown_explicitly_and_trailing_newlines_do_not_split_groups() -> None:
    outcomes = [H("n1", "", 0), H("n2", "\n", 0), H("n3", "up\n", 0), H("n4", "up", 0)]
    assert render(outcomes) == (
        "4 hosts: 2 identical, 2 different in 1 other output\n"
        "== n[1-2] (2 hosts) exit code 0 ==\n"
        "(no output)\n"
        "== n[3-4] (2 hosts) exit code 0 ==\n"
        "up"
    )


def test_an_output_that_reads_like_the_empty_mark_is_not_grouped_with_empty_ones() -> None:
    outcomes = [H("n1", ""), H("n2", "(no output)")]
    assert (
        render(outcomes) == "2 hosts: all different\n== n1 ==\n(no output)\n== n2 ==\n(no output)"
    )


def test_failures_group_by_reason_and_ignore_their_text() -> None:
    outcomes = [
        H("db3", "ignored", failure="timed out after 30s"),
        H("db1", "", failure="Connection refused"),
        H("db2", "", failure="Connection\n  refused"),  # one line, spaces collapsed
    ]
    assert render(outcomes) == (
        "3 hosts: all failed\n"
        "== db[1-2] (2 hosts) failed: Connection refused ==\n"
        "== db3 failed: timed out after 30s =="
    )


def test_header_wording() -> None:
    def header(outcomes: list[HostOutcome]) -> str:
        return render(outcomes).split("\n")[0]

    down = H("z9", "", failure="down")
    assert header([H("a", "x")]) == "1 host: ok"
    assert header([down]) == "1 host: failed"
    assert header([H("a1", "x"), H("a2", "x")]) == "2 hosts: all identical"
    assert header([H("a1", "x"), H("a2", "x"), down]) == "3 hosts: 2 identical, 1 failed"
    assert header([H("a1", "x"), down]) == "2 hosts: 1 ok, 1 failed"
    assert header([H("a1", "x"), H("a2", "y")]) == "2 hosts: all different"
    assert header([H("a1", "x"), H("a2", "y"), down]) == "3 hosts: 2 different, 1 failed"
    assert header([]) == "0 hosts: no hosts"


def test_a_host_name_no_pattern_can_hold_is_listed_as_it_is() -> None:
    assert (
        render([H("a[1]", "x"), H("b", "x")]) == "2 hosts: all identical\n== a[1],b (2 hosts) ==\nx"
    )


def test_over_the_cap_the_largest_outputs_are_cut_first_and_it_says_whose() -> None:
    small = "ok"
    big = "\n".join(f"line {i:03d} " + "x" * 40 for i in range(100))
    bigger = big + "\n" + big
    assert (len(big), len(bigger)) == (4999, 9999)
    outcomes = [H("s1", small, 0), H("b1", big, 0), H("b2", big, 0), H("c1", bigger, 2)]
    text = render(outcomes, limit=2000)
    assert len(text) <= 2000
    lines = text.split("\n")
    assert lines[0] == "4 hosts: 2 identical, 2 different; 2 outputs cut to fit 2000 characters"
    assert lines[1] == "== b[1-2] (2 hosts) exit code 0 =="
    # both large outputs were cut to the same whole-line length; the small one is whole
    b_note = next(line for line in lines if line.startswith("... [b[1-2]: "))
    c_note = next(line for line in lines if line.startswith("... [c1: "))
    kept_b = 4999 - int(b_note.split(": ")[1].split(" of ")[0])
    kept_c = 9999 - int(c_note.split(": ")[1].split(" of ")[0])
    assert kept_b == kept_c > 0
    assert b_note.endswith(" of 4999 characters cut]")
    assert c_note.endswith(" of 9999 characters cut]")
    assert text.endswith("== s1 exit code 0 ==\nok")
    assert big[:kept_b] + "\n" + b_note in text


def test_under_the_cap_nothing_is_cut() -> None:
    outcomes = [H("n1", "x" * 100), H("n2", "y" * 100)]
    text = render(outcomes, limit=10_000)
    assert "cut" not in text
    assert len(render(outcomes, limit=len(text))) == len(text)  # exactly at the cap: whole
    assert "cut" in render(outcomes, limit=len(text) - 1)


def test_thousands_of_distinct_outputs_still_fit_and_say_what_is_missing() -> None:
    outcomes = [H(f"n{i:04d}", f"out {i}") for i in range(3000)]
    text = render(outcomes, limit=2000)
    assert len(text) <= 2000
    assert text.startswith("3000 hosts: all different")
    assert text.split("\n")[-1].endswith(
        "more lines not shown: the answer is capped at 2000 characters]"
    )


_outcome = st.builds(
    HostOutcome,
    host=st.sampled_from([f"h{i}" for i in range(30)] + ["login", "gpu01", "gpu1"]),
    text=st.sampled_from(["", "a", "b\n", "x" * 300, "line\n" * 80, "z" * 5000]),
    exit_code=st.sampled_from([None, 0, 1]),
    failure=st.sampled_from([None, None, None, "Connection refused", "timed out"]),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_outcome, max_size=25, unique_by=lambda o: o.host), st.integers(0, 12_000))
def test_any_result_fits_the_cap_and_does_not_depend_on_the_order(
    outcomes: list[HostOutcome], limit: int
) -> None:
    text = render(outcomes, limit)
    assert len(text) <= limit
    shuffled = outcomes[:]
    random.Random(limit).shuffle(shuffled)
    assert render(shuffled, limit) == text
    whole = render(outcomes, 10**9)
    if len(whole) <= limit:
        assert text == whole
        titles = [line.split()[1] for line in text.split("\n") if line.startswith("== ")]
        named = [host for title in titles for host in expand(title)]
        assert sorted(named) == sorted(o.host for o in outcomes)  # each host once
    else:
        assert "cut" in text or "not shown" in text or len(text) < 60
