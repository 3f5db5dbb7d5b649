"""BashOutput's ``filter``, run in a child process with a time limit.

Python's ``re`` cannot be interrupted and holds the GIL: a pattern such as
``(a+)+$`` against a line of a's would freeze the whole server. So the lines
go to ``python -m remote_mcp.tools.line_filter PATTERN`` on stdin and the
matching ones come back on stdout; a filter that exceeds the limit is killed
and reported. The input is bounded by the caller (BashOutput's read cap).
"""

from __future__ import annotations

import re
import subprocess
import sys

from ..errors import ToolError

__all__ = ["FILTER_TIMEOUT_S", "filter_lines"]

FILTER_TIMEOUT_S = 5.0  # includes the child's start (~50 ms; more on a loaded machine)


def filter_lines(pattern: str, text: str) -> str:
    """The lines of ``text`` that ``pattern`` matches (case-insensitive), joined by newlines."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", __name__, pattern],
            input=text.encode("utf-8", "surrogateescape"),
            capture_output=True,
            timeout=FILTER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f'The filter "{pattern}" took too long (over {FILTER_TIMEOUT_S:g} s on '
            f"{len(text)} characters of output) and was stopped: nested repetition such as "
            "(a+)+ backtracks exponentially. Use a simpler pattern."
        ) from None
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise ToolError(f'The filter "{pattern}" could not run: {reason[0]}')
    return proc.stdout.decode("utf-8", "surrogateescape")


def _main() -> None:
    # UNCONFIRMED in CC whether the filter is case-insensitive; chosen: yes,
    # as its validation compiles the pattern with the "i" flag.
    regex = re.compile(sys.argv[1], re.IGNORECASE)
    text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    kept = "\n".join(line for line in text.split("\n") if regex.search(line))
    sys.stdout.buffer.write(kept.encode("utf-8", "surrogateescape"))


if __name__ == "__main__":
    _main()
