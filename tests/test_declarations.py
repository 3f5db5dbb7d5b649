"""Each tool is declared once (schemas.TOOLS): its model's fields ARE its
routine's parameters, unpacked generically by handlers.call_routine. These
checks need no sshd: they hold for every tool before any SSH test runs."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field

from remote_mcp.config import HostConfig
from remote_mcp.handlers import CONTEXT, CallEnv, call_routine, routine_for
from remote_mcp.schemas import TOOLS, FeedbackArgs, ToolSpec
from remote_mcp.tools.base import ToolOutput, ToolState


def declaration_problems(spec: ToolSpec, routine: Callable[..., Any]) -> list[str]:
    """How ``routine``'s parameters differ from ``spec.model``'s fields."""
    params = inspect.signature(routine).parameters
    problems = []
    for name, info in spec.model.model_fields.items():
        param = params.get(name)
        if param is None:
            problems.append(f"{spec.name}: field {name} is not a parameter of {spec.routine}")
        elif param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            problems.append(f"{spec.name}: parameter {name} cannot be passed by name")
        elif info.is_required() != (param.default is param.empty):
            problems.append(f"{spec.name}: {name} is required in one and optional in the other")
    for name, param in params.items():
        if name not in spec.model.model_fields and name not in CONTEXT:
            problems.append(f"{spec.name}: parameter {name} is neither a field nor context")
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            problems.append(f"{spec.name}: *{name} hides what the routine takes")
    return problems


@pytest.mark.parametrize("name", list(TOOLS))
def test_every_routine_resolves_and_takes_exactly_its_models_fields(name: str) -> None:
    spec = TOOLS[name]
    routine = routine_for(spec)
    assert callable(routine)
    assert routine.__module__ == f"remote_mcp.tools.{spec.routine.partition(':')[0]}"
    assert declaration_problems(spec, routine) == []


def test_the_declaration_check_finds_a_parameter_the_model_lacks() -> None:
    """The check above can fail: a routine with a stray or missing parameter."""

    def stray(runner: object, file_path: str, offset: int | None = None, *, colour: str) -> None:
        del runner, file_path, offset, colour

    assert declaration_problems(TOOLS["Read"], stray) == [
        "Read: field limit is not a parameter of files:read",
        "Read: parameter colour is neither a field nor context",
    ]

    def optional_path(file_path: str = "", offset: int = 0, limit: int = 0) -> None:
        del file_path, offset, limit

    assert declaration_problems(TOOLS["Read"], optional_path) == [
        "Read: file_path is required in one and optional in the other"
    ]


def test_every_context_name_is_provided_by_a_call() -> None:
    session, state, hooks = object(), ToolState(), [print]
    host = HostConfig(name="h", hostname="h.example")
    env = CallEnv(session=session, state=state, host=host, cancel_hooks=hooks)  # type: ignore[arg-type]
    assert {name: env.context(name) for name in CONTEXT} == {
        "runner": session,
        "session": session,
        "state": state,
        "progress": None,
        "cancel_hooks": hooks,
        "host_name": "h",
    }


def feedback_env() -> CallEnv:
    host = HostConfig(name="box", hostname="box.example")
    return CallEnv(session=object(), state=ToolState(host_name="box"), host=host)  # type: ignore[arg-type]


def test_call_routine_passes_fields_and_the_context_the_routine_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Feedback runs locally: its fields and ``host_name`` reach it by name."""
    log = tmp_path / "notes.jsonl"
    monkeypatch.setenv("REMOTE_MCP_FEEDBACK", str(log))
    out = call_routine(TOOLS["Feedback"], feedback_env(), FeedbackArgs(message="slow", tool="Grep"))
    assert isinstance(out, ToolOutput)
    entry = json.loads(log.read_text())
    assert (entry["host"], entry["tool"], entry["message"]) == ("box", "Grep", "slow")


def test_a_derived_model_with_more_fields_reaches_the_same_routine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group server adds a field (``hosts``) by deriving the model; it acts
    on that field itself and calls the same routine with the same spec."""

    class GroupFeedbackArgs(FeedbackArgs):
        hosts: Annotated[list[str] | None, Field(description="Hosts to act on")] = None

    log = tmp_path / "notes.jsonl"
    monkeypatch.setenv("REMOTE_MCP_FEEDBACK", str(log))
    args = GroupFeedbackArgs.model_validate({"message": "hi", "hosts": ["a", "b"]})
    call_routine(TOOLS["Feedback"], feedback_env(), args)
    assert json.loads(log.read_text())["message"] == "hi"
    assert "hosts" in GroupFeedbackArgs.model_json_schema()["properties"]
