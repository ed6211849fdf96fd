"""Tool argument errors a person can read: one line per field, the one place they are worded.

The SDK validates a call's arguments against the tool's pydantic signature and, when
they do not fit, answers with pydantic's own report (model names, ``type=`` codes,
links to pydantic's site). :class:`SfMcpServer` overrides ``MCPServer.call_tool``, the
SDK's public entry for a call, and rewords that report with :func:`describe`, e.g.::

    width: must be at most 2048 (got 99999)
    payment.method: must be one of free, credits, crypto (got 'bitcoin')

Field paths follow the arguments as the caller wrote them: union members pydantic
adds to the path (``payment.crypto.tx_hash``) are left out (``payment.tx_hash``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

__all__ = ["SfMcpServer", "describe"]

# What a string pattern means, for the patterns the tools use; any other says "has the wrong format".
_PATTERNS = {
    r"^0x[0-9a-fA-F]{64}$": "must be a 0x-prefixed transaction hash of 64 hex digits",
    r"^[A-Za-z0-9._:-]+$": "must be letters, digits and . _ : - only",
}
_KINDS = {
    "int": "a whole number",
    "float": "a number",
    "string": "a string",
    "bool": "true or false",
    "list": "a list",
    "dict": "an object",
    "model": "an object",
    "model_attributes": "an object",
    "tuple": "a list",
    "set": "a list",
    "bytes": "a string",
    "none": "null",
}
_MAX_SHOWN = 60  # characters of a rejected value repeated back


class SfMcpServer(MCPServer):
    """``MCPServer`` whose argument errors read like ``width: must be at most 2048 (got 99999)``."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(describe(exc.__cause__, arguments)) from exc.__cause__
            raise


def describe(error: ValidationError, arguments: Mapping[str, Any] | None = None) -> str:
    """One line per invalid field: ``path: what it must be (got value)``.

    ``arguments`` (what the caller sent) lets the path skip union member names. Several
    errors for one field (each member of ``int | str`` refusing a list) become one line.
    """
    lines: dict[str, list[str]] = {}
    for err in error.errors(include_url=False):
        path = _path(err, arguments or {})
        lines.setdefault(path, [])
        message = _message(err)
        if message not in lines[path]:
            lines[path].append(message)
    return "\n".join(f"{path}: {_join(messages)}" for path, messages in lines.items())


def _join(messages: list[str]) -> str:
    """Several messages for one field: ``must be a whole number`` + ``must be a string (got [1])``
    -> ``must be a whole number or a string (got [1])``."""
    if len(messages) == 1:
        return messages[0]
    got = ""
    parts = []
    for m in messages:
        head, sep, tail = m.partition(" (got ")
        got = got or (sep + tail if sep else "")
        parts.append(head)
    if all(p.startswith("must be ") for p in parts):
        return "must be " + " or ".join(p.removeprefix("must be ") for p in parts) + got
    return "; ".join(parts) + got


def _path(err: ErrorDetails, arguments: Mapping[str, Any]) -> str:
    """The field path as the caller wrote it; pydantic's union member names are dropped."""
    out: list[str] = []
    value: Any = arguments
    loc = err["loc"]
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(part, int) and isinstance(value, Sequence) and not isinstance(value, str):
            out.append(f"[{part}]")
            value = value[part] if 0 <= part < len(value) else None
        elif isinstance(value, Mapping) and (part in value or (last and err["type"] == "missing")):
            out.append(("." if out else "") + str(part))
            value = value.get(part)
        elif not out:  # the top level is always an argument name
            out.append(str(part))
            value = None
        # else: a union member (the tag "crypto", "constrained-int"): not part of what the caller wrote
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        out.append("." + str(err.get("ctx", {}).get("discriminator", "")).strip("'\""))
    return "".join(out) or "arguments"


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {})
    got = _got(err.get("input"))
    if kind == "missing":
        return "is required"
    if kind == "union_tag_invalid":
        got = _got(ctx.get("tag"))
    if kind in ("union_tag_invalid", "literal_error", "enum"):
        options = ctx.get("expected_tags") or ctx.get("expected") or ""
        return f"must be one of {_options(str(options))}{got}"
    if kind == "union_tag_not_found":
        return "is required"
    if kind in ("less_than_equal", "less_than", "greater_than_equal", "greater_than"):
        word = {"less_than_equal": "at most", "less_than": "less than",
                "greater_than_equal": "at least", "greater_than": "more than"}[kind]
        bound = next(iter(ctx.values()), "")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # a float field's limit 30.0 reads as 30
        return f"must be {word} {bound}{got}"
    if kind in ("string_too_long", "string_too_short", "too_long", "too_short"):
        limit = ctx.get("max_length", ctx.get("min_length"))
        word = "at most" if kind.endswith("long") else "at least"
        unit = "characters" if kind.startswith("string") else "items"
        length = f" (got {_length(err.get('input'))})" if err.get("input") is not None else ""
        return f"must have {word} {limit} {unit}{length}"
    if kind == "string_pattern_mismatch":
        return f"{_PATTERNS.get(str(ctx.get('pattern')), 'has the wrong format')}{got}"
    if kind in ("int_from_float", "int_parsing_size"):
        return f"must be a whole number{got}"
    if kind == "extra_forbidden":
        return "is not an argument of this tool"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    for prefix, noun in _KINDS.items():
        if kind.startswith(prefix + "_") and kind.endswith(("_type", "_parsing")):
            return f"must be {noun}{got}"
    return str(err["msg"])[:1].lower() + str(err["msg"])[1:]


def _got(value: Any) -> str:
    if isinstance(value, (dict, list)) and len(repr(value)) > _MAX_SHOWN:
        return f" (got {'an object' if isinstance(value, dict) else 'a list'})"
    shown = repr(value)
    if len(shown) > _MAX_SHOWN:
        shown = shown[: _MAX_SHOWN - 4] + "...'"
    return f" (got {shown})"


def _length(value: Any) -> str:
    try:
        return str(len(value))
    except TypeError:
        return repr(value)[:_MAX_SHOWN]


def _options(expected: str) -> str:
    """pydantic's ``'free', 'credits', 'crypto'`` or ``'week' or 'all'`` -> ``free, credits, crypto``."""
    parts = expected.replace(" or ", ", ").split(", ")
    return ", ".join(p.strip().strip("'\"") for p in parts if p.strip())
