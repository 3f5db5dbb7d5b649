"""One answer for many hosts, readable at a glance (issue 15, item 4).

A group server runs a tool on every selected host and gets one result per
host. Twenty copies of the same ``nvidia-smi`` table would bury the one host
that differs, so, as ``dshbak -c`` does, hosts with identical results share
one block headed by their names in compact form (``gpu[01-09,11]``). Pure:
no MCP, no SSH.

The text, pinned by tests/test_fleet_output.py::

    12 hosts: 10 identical, 1 different, 1 failed
    == gpu[01-09,11] (10 hosts) exit code 0 ==
    <the shared output>
    == gpu10 exit code 1 ==
    <its output>
    == gpu12 failed: Connection refused ==

- The header line counts hosts: ``identical`` are the hosts of the most
  common result, ``different`` the other hosts that answered (``in N other
  outputs`` when some of those share one), ``failed`` the hosts that gave no
  result; ``all identical``, ``all different`` and ``all failed`` say it
  shorter.
- Result blocks come first, the most hosts first, ties in natural host order
  (of each block's first host); then failures, grouped by reason, in the same
  order. A failure's block is its header line: the reason is one line.
- ``exit code N`` appears when the tool has one (Bash); an empty output is
  written ``(no output)``.
- The whole text stays within ``limit_chars``: the longest outputs are cut
  first, all to the same length, so short ones stay whole; each cut block
  ends with a note naming its hosts and how much was cut, and the header says
  how many outputs were cut.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from ..hostlist import HostPatternError, compress, natural_key

__all__ = ["HostOutcome", "render_fleet"]

NO_OUTPUT = "(no output)"


@dataclass(frozen=True)
class HostOutcome:
    """One host's result: its output text and exit code (Bash), or, when
    ``failure`` is set, the one-line reason it has none (unreachable, timed
    out, refused...; ``text`` is then ignored)."""

    host: str
    text: str
    exit_code: int | None = None
    failure: str | None = None


@dataclass(frozen=True)
class _Block:
    hosts: tuple[str, ...]  # natural order
    text: str  # output without trailing newlines (results) or reason (failures)
    exit_code: int | None
    failed: bool

    @functools.cached_property  # asked once per size tried (_fit)
    def title(self) -> str:
        names = _names(self.hosts)
        count = f" ({len(self.hosts)} hosts)" if len(self.hosts) > 1 else ""
        if self.failed:
            return f"== {names}{count} failed: {self.text} =="
        code = f" exit code {self.exit_code}" if self.exit_code is not None else ""
        return f"== {names}{count}{code} =="


def _names(hosts: Sequence[str]) -> str:
    """Compact form; a name no pattern can hold is listed as it is."""
    try:
        return compress(hosts)
    except HostPatternError:
        return ",".join(hosts)


def render_fleet(outcomes: Sequence[HostOutcome], *, limit_chars: int) -> str:
    """The grouped text for ``outcomes`` (one per host; see the module
    docstring), at most ``limit_chars`` long. Deterministic: the same
    outcomes in any order give the same text."""
    results, failures = _group(outcomes)
    header = _header(results, failures, len(outcomes))
    bodies = [block.text or NO_OUTPUT for block in results]
    kept = _fit(header, results, failures, bodies, limit_chars)
    cut = sum(1 for body, keep in zip(bodies, kept, strict=True) if keep < len(body))
    if cut:
        header += f"; {cut} {_plural(cut, 'output')} cut to fit {limit_chars} characters"
    lines = [header]
    for block, body, keep in zip(results, bodies, kept, strict=True):
        lines.append(block.title)
        lines.append(body[:keep] if keep >= len(body) else _cut_text(block, body, keep))
    lines.extend(block.title for block in failures)
    return _hard_cap("\n".join(lines), limit_chars)


def _group(outcomes: Sequence[HostOutcome]) -> tuple[list[_Block], list[_Block]]:
    by_result: dict[tuple[str, int | None], list[str]] = {}
    by_reason: dict[str, list[str]] = {}
    for o in outcomes:
        if o.failure is not None:
            by_reason.setdefault(_one_line(o.failure), []).append(o.host)
        else:
            by_result.setdefault((o.text.rstrip("\n"), o.exit_code), []).append(o.host)
    results = [
        _Block(tuple(sorted(hosts, key=natural_key)), text, code, failed=False)
        for (text, code), hosts in by_result.items()
    ]
    failures = [
        _Block(tuple(sorted(hosts, key=natural_key)), reason, None, failed=True)
        for reason, hosts in by_reason.items()
    ]
    return sorted(results, key=_order), sorted(failures, key=_order)


def _order(block: _Block) -> tuple[object, ...]:
    """Most hosts first; ties by the first host's natural order (hosts are
    distinct, so two blocks never tie)."""
    return (-len(block.hosts), natural_key(block.hosts[0]))


def _one_line(reason: str) -> str:
    return " ".join(reason.split()) or "no reason given"


def _header(results: list[_Block], failures: list[_Block], total: int) -> str:
    sizes = [len(block.hosts) for block in results]
    answered, failed = sum(sizes), total - sum(sizes)
    parts: list[str] = []
    if len(sizes) == 1:
        if answered == 1:
            parts.append("ok" if not failed else "1 ok")
        else:
            parts.append("all identical" if not failed else f"{answered} identical")
    elif sizes and sizes[0] == 1:
        parts.append("all different" if not failed else f"{answered} different")
    elif sizes:
        others, outputs = answered - sizes[0], len(sizes) - 1
        shared = f" in {outputs} other {_plural(outputs, 'output')}" if others > outputs else ""
        parts.append(f"{sizes[0]} identical, {others} different{shared}")
    if failed:
        parts.append(
            "failed" if total == 1 else "all failed" if not answered else f"{failed} failed"
        )
    return f"{total} {_plural(total, 'host')}: {', '.join(parts) or 'no hosts'}"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


# -- size cap ----------------------------------------------------------------------


def _cut_note(block: _Block, total: int, kept: int) -> str:
    return f"... [{_names(block.hosts)}: {total - kept} of {total} characters cut]"


def _cut_text(block: _Block, body: str, keep: int) -> str:
    """``body`` cut to ``keep`` characters, back to the last whole line when
    there is one, then the note saying whose output and how much was cut."""
    head = body[:keep]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    note = _cut_note(block, len(body), len(head))
    return f"{head}\n{note}" if head else note


def _fit(
    header: str,
    results: list[_Block],
    failures: list[_Block],
    bodies: list[str],
    limit: int,
) -> list[int]:
    """How many characters of each output to keep: all if everything fits;
    otherwise one level L, found by bisection, such that cutting every
    longer output to L fits (water-filling: the largest are cut first)."""
    lengths = [len(body) for body in bodies]
    if _size(header, results, failures, bodies, lengths, limit) <= limit:
        return lengths
    low, high = 0, max(lengths, default=0)  # size(low) may not fit; size(high) does not
    while low < high:
        mid = (low + high + 1) // 2
        kept = [min(n, mid) for n in lengths]
        if _size(header, results, failures, bodies, kept, limit) <= limit:
            low = mid
        else:
            high = mid - 1
    return [min(n, low) for n in lengths]


def _size(
    header: str,
    results: list[_Block],
    failures: list[_Block],
    bodies: list[str],
    kept: list[int],
    limit: int,
) -> int:
    """The rendered length when each output keeps ``kept[i]`` characters."""
    cut = sum(1 for body, keep in zip(bodies, kept, strict=True) if keep < len(body))
    if cut:
        header += f"; {cut} {_plural(cut, 'output')} cut to fit {limit} characters"
    size = len(header)
    for block, body, keep in zip(results, bodies, kept, strict=True):
        text = body if keep >= len(body) else _cut_text(block, body, keep)
        size += 1 + len(block.title) + 1 + len(text)
    size += sum(1 + len(block.title) for block in failures)
    return size


def _hard_cap(text: str, limit: int) -> str:
    """Last resort when even the headers and notes do not fit (thousands of
    distinct outputs): whole lines up to the cap, then how many were left."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    kept: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        left = len(lines) - i
        note = f"... [{left} more lines not shown: the answer is capped at {limit} characters]"
        if size + len(line) + 1 + len(note) > limit:
            return "\n".join([*kept, note])[:limit]
        kept.append(line)
        size += len(line) + 1
    return text[:limit]
