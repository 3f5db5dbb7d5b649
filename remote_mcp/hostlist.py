"""Host patterns: ``gpu[01-16]`` <-> ``gpu01 ... gpu16`` (pdsh/Slurm style).

A group in the config lists its members as names or patterns, and fleet
output lists the hosts that share a result in the same compact form, so the
agent reads ``gpu[01-12,14]`` instead of thirteen names. Pure: no SSH.

Syntax (``expand``):

- ``a,b,c`` -- several patterns separated by commas outside brackets;
  whitespace around each is ignored.
- ``gpu[01-16]`` -- a bracket holds numbers and ranges ``lo-hi`` separated by
  commas (``web[1-3,7]``). Numbers are zero-padded to the width of ``lo``:
  ``[01-10]`` gives ``01 ... 10``, ``[8-10]`` gives ``8 9 10``.
- ``rack[1-2]-node[01-04]`` -- several brackets: every combination, the first
  bracket varying slowest.
- a name without brackets stands for itself, and so does a bracketed IPv6
  address (``root@[fe80::1]:2222``), as ``--host`` writes one.

The result keeps the pattern's order and drops repeats. ``compress`` writes
names back in that syntax, in natural order (``gpu2`` before ``gpu10``), so
``expand(compress(names))`` gives the names sorted by :func:`natural_key`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import product

__all__ = ["MAX_HOSTS", "HostPatternError", "compress", "expand", "natural_key"]

MAX_HOSTS = 10_000  # a pattern that expands further is a typo, not a fleet
_HOW = "write ranges like gpu[01-16], web[1-3,7] or rack[1-2]-node[01-04]"
_SPECIAL = re.compile(r"[\[\],\s]")  # cannot appear in a host name we can write back
_DIGITS = re.compile(r"([0-9]+)")  # ASCII only: int() would also read other scripts' digits
_ELEMENT = re.compile(r"([0-9]+)(?:-([0-9]+))?")


class HostPatternError(ValueError):
    """A host pattern that cannot be read; the message says what to fix."""


# -- expand ------------------------------------------------------------------------


def expand(pattern: str) -> list[str]:
    """The host names ``pattern`` stands for (see the module docstring)."""
    if not pattern.strip():
        raise HostPatternError(f"Host pattern {pattern!r} is empty; {_HOW}.")
    items = [_parse_item(pattern, item.strip()) for item in _split_top(pattern)]
    total = 0
    for fields in items:
        total += _count(fields)
        if total > MAX_HOSTS:
            raise _too_many(pattern)
    names: dict[str, None] = {}  # ordered set
    for fields in items:
        for combo in product(*fields):
            names["".join(combo)] = None
    return list(names)


def _split_top(pattern: str) -> list[str]:
    """Split at the commas outside brackets; check the brackets pair up."""
    items, start, opened = [], 0, -1
    for i, ch in enumerate(pattern):
        if ch == "[":
            if opened >= 0:
                raise _error(pattern, f"'[' at position {i} is inside another bracket")
            opened = i
        elif ch == "]":
            if opened < 0:
                raise _error(pattern, f"']' at position {i} closes no bracket")
            opened = -1
        elif ch == "," and opened < 0:
            items.append(pattern[start:i])
            start = i + 1
    if opened >= 0:
        raise _error(pattern, f"'[' at position {opened} is not closed")
    items.append(pattern[start:])
    for item in items:
        if not item.strip():
            raise _error(pattern, "it has an empty name between commas")
    return items


def _parse_item(pattern: str, item: str) -> list[list[str]]:
    """One comma-free pattern as a list of fields, each a list of choices."""
    fields: list[list[str]] = []
    for i, part in enumerate(re.split(r"\[([^\]]*)\]", item)):
        if i % 2 == 0:
            if re.search(r"\s", part):
                raise _error(pattern, f"{item!r} contains whitespace")
            if part:
                fields.append([part])
        elif ":" in part:  # an IPv6 address, as in user@[::1]:2222: a name, not a range
            fields.append([f"[{part}]"])
        else:
            fields.append(_parse_bracket(pattern, part))
    return fields


def _parse_bracket(pattern: str, inside: str) -> list[str]:
    if not inside.strip():
        raise _error(pattern, "it has empty brackets []")
    choices: list[str] = []
    for element in inside.split(","):
        element = element.strip()
        match = _ELEMENT.fullmatch(element)
        if not match:
            raise _error(pattern, f"[{inside}] holds {element!r}, not a number or range lo-hi")
        lo, hi = match.group(1), match.group(2) or match.group(1)
        if int(hi) < int(lo):
            raise _error(pattern, f"the range {element} goes backwards (write {hi}-{lo})")
        if len(hi) != len(lo) and hi.startswith("0"):
            raise _error(pattern, f"the range {element} pads its ends differently")
        width = len(lo)  # zero padding follows the low end
        if len(choices) + int(hi) - int(lo) >= MAX_HOSTS:
            raise _too_many(pattern)
        choices.extend(str(n).zfill(width) for n in range(int(lo), int(hi) + 1))
    return choices


def _count(fields: list[list[str]]) -> int:
    total = 1
    for choices in fields:
        total *= len(choices)
    return total


def _too_many(pattern: str) -> HostPatternError:
    return HostPatternError(
        f"Host pattern {pattern!r} expands to more than {MAX_HOSTS} names; "
        "check the ranges (a typo like [1-100000]?) or split the group."
    )


def _error(pattern: str, what: str) -> HostPatternError:
    return HostPatternError(f"Host pattern {pattern!r}: {what}; {_HOW}.")


# -- natural order -----------------------------------------------------------------


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key putting ``gpu2`` before ``gpu10``: numbers compare as numbers;
    only between names equal but for padding does it matter (``gpu1`` before
    ``gpu01``), so distinct names never tie."""
    parts = _DIGITS.split(name)
    values = tuple(part if i % 2 == 0 else int(part) for i, part in enumerate(parts))
    return (values, tuple(len(part) for part in parts[1::2]))


# -- compress ----------------------------------------------------------------------

# A compressed item: the text between numbers, and per number field the
# ordered digit strings it takes (one string until folded into a bracket).
_Item = tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]


def compress(names: Iterable[str]) -> str:
    """The shortest-reading pattern for ``names`` (repeats dropped), in
    natural order: ``gpu[01-03,05],login1``.

    Only neighbours in natural order are folded together, so expanding the
    result lists the names in exactly that order. Numbers fold right to left:
    ``rack1-node01 ... rack2-node04`` becomes ``rack[1-2]-node[01-04]``.
    """
    unique = sorted(set(names), key=natural_key)
    for name in unique:
        if not name or _SPECIAL.search(name):
            raise HostPatternError(
                f"Host name {name!r} cannot be listed in a host pattern "
                "(it is empty or contains '[', ']', ',' or whitespace)."
            )
    items: list[_Item] = []
    for name in unique:
        parts = _DIGITS.split(name)
        items.append((tuple(parts[0::2]), tuple((d,) for d in parts[1::2])))
    widest = max((len(numbers) for _, numbers in items), default=0)
    for from_right in range(1, widest + 1):
        items = _fold(items, from_right)
    return ",".join(_write(texts, numbers) for texts, numbers in items)


def _fold(items: list[_Item], from_right: int) -> list[_Item]:
    """Merge neighbouring items that differ only in number field
    ``-from_right`` (and that field can extend the bracket)."""
    out: list[_Item] = []
    for texts, numbers in items:
        if out and len(numbers) >= from_right:
            last_texts, last_numbers = out[-1]
            k = len(numbers) - from_right
            if (
                last_texts == texts
                and len(last_numbers) == len(numbers)
                and last_numbers[:k] == numbers[:k]
                and last_numbers[k + 1 :] == numbers[k + 1 :]
            ):
                merged = last_numbers[k] + numbers[k]
                out[-1] = (texts, (*numbers[:k], merged, *numbers[k + 1 :]))
                continue
        out.append((texts, numbers))
    return out


def _write(texts: tuple[str, ...], numbers: tuple[tuple[str, ...], ...]) -> str:
    out = [texts[0]]
    for digits, text in zip(numbers, texts[1:], strict=True):
        out.append(digits[0] if len(digits) == 1 else f"[{_ranges(digits)}]")
        out.append(text)
    return "".join(out)


def _ranges(digits: tuple[str, ...]) -> str:
    """``01 02 03 05`` -> ``01-03,05``: a run continues while the next number
    is one more and written at the run's padding (``[lo-hi]`` pads to ``lo``)."""
    runs: list[list[str]] = []
    for d in digits:
        if runs:
            run = runs[-1]
            if int(d) == int(run[-1]) + 1 and str(int(d)).zfill(len(run[0])) == d:
                run.append(d)
                continue
        runs.append([d])
    return ",".join(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
