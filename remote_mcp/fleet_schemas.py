"""The tools of a group server: every single-host tool with one more optional
argument, ``hosts``. Built from the single-host models (one added field), so
the two can never drift apart; the single-host tools/list is untouched.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import Field, create_model

from .schemas import TOOLS, ToolSpec, _Args, input_schema, tool_annotations

__all__ = ["HOSTS_FIELD", "group_model", "group_tool_definitions", "tool_args"]

HOSTS_FIELD = "hosts"
_HOSTS_HELP = "Hosts of the group to act on: names or patterns like web[1-3] (default: every host)"
# What changes on a group server, said once per description.
GROUP_NOTE = "Runs on each selected host at once; identical results are listed once."


@cache
def group_model(name: str) -> type[_Args]:
    """Tool ``name``'s argument model plus ``hosts``."""
    base = TOOLS[name].model
    return create_model(
        f"Group{base.__name__}",
        __base__=base,
        hosts=(Annotated[list[str] | None, Field(description=_HOSTS_HELP)], None),
    )


def tool_args(name: str, arguments: dict[str, Any]) -> tuple[Any, list[str] | None]:
    """Validate a group call's arguments (ValidationError on a bad one): the
    single-host tool's arguments, and the ``hosts`` asked for (None: all)."""
    checked = group_model(name).model_validate(arguments)
    hosts = getattr(checked, HOSTS_FIELD)
    rest = {k: v for k, v in arguments.items() if k != HOSTS_FIELD}
    return TOOLS[name].model.model_validate(rest), hosts


def group_tool_definitions(
    label: str, *, hidden: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """tools/list of a group server; ``label`` names the hosts (``gpu[01-08]``)."""
    definitions = []
    for spec in TOOLS.values():
        if spec.name in hidden:
            continue
        grouped = ToolSpec(
            spec.name,
            group_model(spec.name),
            spec.description,
            spec.read_only,
            spec.destructive,
            spec.idempotent,
            spec.open_world,
        )
        definitions.append(
            {
                "name": spec.name,
                "description": spec.description.format(host=label) + " " + GROUP_NOTE,
                "input_schema": input_schema(grouped),
                "annotations": tool_annotations(spec),
            }
        )
    return definitions
