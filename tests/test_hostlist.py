"""Host patterns (remote_mcp.hostlist): expansion, errors, natural order,
and compress as expand's inverse (issue 15). Pure: no sshd."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remote_mcp.hostlist import MAX_HOSTS, HostPatternError, compress, expand, natural_key


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("login1", ["login1"]),
        ("gpu[01-04]", ["gpu01", "gpu02", "gpu03", "gpu04"]),
        ("web[1-3,7]", ["web1", "web2", "web3", "web7"]),
        ("n[8-11]", ["n8", "n9", "n10", "n11"]),
        ("n[08-11]", ["n08", "n09", "n10", "n11"]),
        ("n[098-101]", ["n098", "n099", "n100", "n101"]),
        ("rack[1-2]-node[01-02]", ["rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02"]),
        ("[1-2].example.org", ["1.example.org", "2.example.org"]),
        ("b2, a1 ,gpu[1-2]", ["b2", "a1", "gpu1", "gpu2"]),
        ("a,b,a,gpu[1,1-2]", ["a", "b", "gpu1", "gpu2"]),
        ("n[ 1 , 3 ]", ["n1", "n3"]),
        ("root@[::1]:2222,root@h[1-2]", ["root@[::1]:2222", "root@h1", "root@h2"]),
    ],
)
def test_expand(pattern: str, names: list[str]) -> None:
    assert expand(pattern) == names


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("gpu[01-16", "'[' at position 3 is not closed"),
        ("gpu01]", "']' at position 5 closes no bracket"),
        ("gpu[1-[2]]", "'[' at position 6 is inside another bracket"),
        ("gpu[]", "empty brackets"),
        ("gpu[a-c]", "holds 'a-c', not a number or range lo-hi"),
        ("gpu[1-]", "holds '1-', not a number"),
        ("gpu[1-2-3]", "holds '1-2-3'"),
        ("gpu[9-2]", "the range 9-2 goes backwards (write 2-9)"),
        ("gpu[1-05]", "pads its ends differently"),
        ("a,,b", "an empty name between commas"),
        ("a,", "an empty name between commas"),
        ("gpu 1", "contains whitespace"),
        ("n[\u0661-\u0663]", "not a number"),  # Arabic-Indic digits are not ranges
    ],
)
def test_a_bad_pattern_says_what_is_wrong_and_how_to_write_it(pattern: str, says: str) -> None:
    with pytest.raises(HostPatternError) as caught:
        expand(pattern)
    message = str(caught.value)
    assert says in message
    assert "\n" not in message
    assert "gpu[01-16]" in message or "expands to" in message or "is empty" in message


@pytest.mark.parametrize(
    "pattern", ["n[1-10001]", "n[0-9999],x", "a[1-100]b[1-101]", "a[1-5000],b[1-5001]"]
)
def test_an_expansion_beyond_the_cap_is_refused(pattern: str) -> None:
    with pytest.raises(HostPatternError, match=f"expands to more than {MAX_HOSTS} names"):
        expand(pattern)


def test_an_expansion_at_the_cap_is_allowed() -> None:
    assert len(expand("n[1-10000]")) == MAX_HOSTS
    assert len(expand("a[1-100]b[1-100]")) == MAX_HOSTS


def test_natural_order() -> None:
    names = ["gpu10", "gpu2", "gpu01", "gpu1", "login", "gpu1a", "a10b2", "a9b10", "a9b9"]
    assert sorted(names, key=natural_key) == [
        "a9b9",
        "a9b10",
        "a10b2",
        "gpu1",
        "gpu01",
        "gpu1a",
        "gpu2",
        "gpu10",
        "login",
    ]


@pytest.mark.parametrize(
    ("names", "pattern"),
    [
        ([], ""),
        (["login1"], "login1"),
        (["gpu03", "gpu01", "login1", "gpu02", "gpu05"], "gpu[01-03,05],login1"),
        (["web1", "web2", "web3", "web7"], "web[1-3,7]"),
        (["n8", "n9", "n10", "n11"], "n[8-11]"),
        (["n08", "n09", "n10", "n11"], "n[08-11]"),
        (["n1", "n01", "n2"], "n[1,01,2]"),
        (expand("rack[1-2]-node[01-04]"), "rack[1-2]-node[01-04]"),
        (
            expand("rack[1-3]-node[1-2]") + ["rack2-node3"],
            "rack1-node[1-2],rack2-node[1-3],rack3-node[1-2]",
        ),
        (expand("rack[1,3]-n1"), "rack[1,3]-n1"),
        (["gpu1", "gpu1a", "gpu2"], "gpu1,gpu1a,gpu2"),  # only neighbours fold
        (["b", "a", "a"], "a,b"),
        (expand("10.0.0.[1-4]"), "10.0.0.[1-4]"),
    ],
)
def test_compress(names: list[str], pattern: str) -> None:
    assert compress(names) == pattern


@pytest.mark.parametrize("name", ["", "a b", "gpu[1]", "a,b", "tab\there"])
def test_compress_refuses_a_name_it_could_not_write_back(name: str) -> None:
    with pytest.raises(HostPatternError, match="cannot be listed in a host pattern"):
        compress(["ok1", name])


# Names built from pieces that exercise the folding: shared prefixes, numbers
# with and without padding, several number fields.
_piece = st.one_of(
    st.sampled_from(["gpu", "rack", "-node", ".", "a", "b-", "x"]),
    st.integers(0, 12).map(str),
    st.integers(0, 12).map(lambda n: str(n).zfill(2)),
    st.integers(0, 120).map(lambda n: str(n).zfill(3)),
)
_name = st.lists(_piece, min_size=1, max_size=5).map("".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(_name, max_size=40))
def test_expand_undoes_compress_in_natural_order(names: list[str]) -> None:
    pattern = compress(names)
    expected = sorted(set(names), key=natural_key)
    assert (expand(pattern) if names else []) == expected
    assert compress(reversed(names)) == pattern  # the input order does not matter


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 150), min_size=1, max_size=60), st.sampled_from([1, 2, 3]))
def test_compress_folds_one_number_field_into_one_bracket(numbers: list[int], width: int) -> None:
    names = [f"node{str(n).zfill(width)}" for n in numbers]
    pattern = compress(names)
    assert expand(pattern) == sorted(set(names), key=natural_key)
    assert re.fullmatch(r"node([0-9]+|\[[0-9,-]+\])", pattern)  # one item, one bracket
