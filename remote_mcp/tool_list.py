"""How the tool declarations (``schemas.TOOLS``) become tools/list entries:
JSON schemas every MCP client can read, MCP's hints, and the host's name in
every description. Pure data: the server's cold start imports it."""

from __future__ import annotations

from typing import Any

from .schemas import TOOLS, ToolSpec

__all__ = ["input_schema", "tool_annotations", "tool_definitions"]


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The JSON schema sent in tools/list (aliases such as ``-A`` as names)."""
    schema = spec.model.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    tidy: dict[str, Any] = _tidy(_inline(schema, defs))
    return tidy


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace ``$ref`` by the definition: some MCP clients do not follow refs."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_NOISE = frozenset({"title", "additionalProperties"})


def _tidy(node: Any) -> Any:
    """Drop pydantic's ``title`` noise and collapse ``anyOf [T, null]`` to T:
    an optional argument is simply one that may be omitted. ``additionalProperties``
    goes too (every conversation pays for tools/list in tokens): an unknown
    argument is still refused, by the model's ``extra="forbid"``."""
    if isinstance(node, dict):
        node = {k: _tidy(v) for k, v in node.items() if k not in _NOISE}
        any_of = node.get("anyOf")
        if isinstance(any_of, list):
            kept = [s for s in any_of if s != {"type": "null"}]
            if len(kept) == 1:
                del node["anyOf"]
                node = {**kept[0], **node}
        if node.get("default", 0) is None:
            del node["default"]
        return node
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def tool_annotations(spec: ToolSpec) -> dict[str, bool]:
    """MCP's hints. The destructive and idempotent hints mean nothing for a
    read-only tool (MCP says so), so those tools leave them out."""
    hints = {"read_only_hint": spec.read_only, "open_world_hint": spec.open_world}
    if not spec.read_only:
        hints |= {"destructive_hint": spec.destructive, "idempotent_hint": spec.idempotent}
    return hints


def tool_definitions(
    host: str, *, hidden: frozenset[str] = frozenset(), note: str = ""
) -> list[dict[str, Any]]:
    """Name, description, schema and annotations of every tool, for ``host``.

    ``hidden`` tools are left out (a guard would refuse them) and ``note``,
    the host's guard mode, ends every description (tools/guard.py)."""
    return [
        {
            "name": spec.name,
            "description": spec.description.format(host=host) + (f" {note}" if note else ""),
            "input_schema": input_schema(spec),
            "annotations": tool_annotations(spec),
        }
        for spec in TOOLS.values()
        if spec.name not in hidden
    ]
