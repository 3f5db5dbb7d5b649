"""Guard rules and argument validation, tested without any sshd.

Which tools a host's guard settings hide, and which refuse, and how a bad
tool argument is worded, are pure functions of the config and the arguments;
the fast layer (``invoke test --fast``) checks them on every combination.
"""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from remote_mcp.config import HostConfig
from remote_mcp.errors import ToolError
from remote_mcp.schemas import (
    BashArgs,
    EditArgs,
    GrepArgs,
    ReadArgs,
    format_validation_error,
)
from remote_mcp.tools.base import ToolState
from remote_mcp.tools.guard import (
    BASH_TOOLS,
    MUTATING,
    check_bash,
    check_writable,
    hidden_tools,
    mode_note,
)

GUARDS = list(itertools.product([False, True], ["auto", "allow", "deny"]))


@pytest.mark.parametrize(("read_only", "bash"), GUARDS)
def test_hidden_tools_are_exactly_the_ones_that_would_refuse(read_only: bool, bash: str) -> None:
    host = HostConfig(name="h", hostname="h.example", read_only=read_only, bash=bash)
    state = ToolState(host_name="h", read_only=read_only, bash=bash)
    hidden = hidden_tools(host)
    for tool in MUTATING:
        refused = _refuses(lambda tool=tool: check_writable(state, tool))
        assert (tool in hidden) == refused == read_only, tool
    shell_off = bash == "deny" or (bash == "auto" and read_only)
    for tool in BASH_TOOLS:
        refused = _refuses(lambda tool=tool: check_bash(state, tool))
        assert (tool in hidden) == refused == shell_off, tool
    assert hidden <= set(MUTATING) | set(BASH_TOOLS)  # reading is never hidden
    # The tool descriptions say so whenever a guard is on, and only then.
    assert bool(mode_note(host)) == (read_only or shell_off)


def _refuses(call: object) -> bool:
    try:
        call()  # type: ignore[operator]
    except ToolError as err:
        text = str(err)
        assert text.startswith("Refused: ") and "\n" not in text, text
        return True
    return False


def test_mode_note_names_the_allowed_roots() -> None:
    host = HostConfig(name="h", hostname="x", allowed_paths=("/srv", "/tmp/w"))
    note = mode_note(host)
    assert "/srv, /tmp/w" in note and note.endswith(".") and note[0].isupper()


@pytest.mark.parametrize(
    ("model", "args", "issue"),
    [
        (ReadArgs, {}, "The required parameter `file_path` is missing"),
        (ReadArgs, {"file_path": "/x", "colour": 1}, "An unexpected parameter `colour`"),
        (ReadArgs, {"file_path": "/x", "offset": "ten"}, "The parameter `offset` is invalid"),
        (EditArgs, {"file_path": "/x", "old_string": "a"}, "`new_string` is missing"),
        (BashArgs, {"command": ["ls"]}, "The parameter `command` is invalid"),
        (GrepArgs, {"pattern": "x", "output_mode": "lines"}, "`output_mode` is invalid"),
    ],
)
def test_bad_arguments_are_worded_like_claude_code(
    model: type, args: dict[str, object], issue: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(args)
    text = format_validation_error(model.__name__, caught.value)
    head = f"InputValidationError: {model.__name__} failed due to the following issue"
    assert text.startswith(head), text
    assert issue in text, text


def test_several_bad_arguments_are_listed_one_per_line() -> None:
    with pytest.raises(ValidationError) as caught:
        ReadArgs.model_validate({"offset": "x", "extra": 1})
    lines = format_validation_error("Read", caught.value).splitlines()
    assert lines[0] == "InputValidationError: Read failed due to the following issues:"
    assert len(lines) == 4, lines  # file_path missing, offset invalid, extra unexpected
