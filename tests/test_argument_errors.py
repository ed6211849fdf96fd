"""Every schema violation of every tool answers one plain line per field, in both protocol eras."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp.client import Client
from pydantic import BaseModel, Field, ValidationError

from sf_mcp.server.mcp.arguments import describe

pytestmark = pytest.mark.anyio

LINE = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*|\[\d+\])*: \S.*$")
INTERNALS = ("type=", "http", "Arguments", "validation error", "pydantic", "Input should", "input_value", "Model")


def _text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return "\n".join(getattr(c, "text", "") for c in result.content)


def _assert_plain(text: str, field: str) -> None:
    lines = text.splitlines()
    assert lines, text
    for line in lines:
        assert LINE.match(line), f"not one plain line per field: {line!r}"
        assert not any(word in line for word in INTERNALS), line
    assert any(line.startswith((f"{field}:", f"{field}.", f"{field}[")) for line in lines), (field, text)


# -- valid and invalid values, derived from each tool's input schema ------------------------------

def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return defs[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _options(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, defs)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return [_resolve(b, defs) for b in branches if b.get("type") != "null"]
    return [schema]


def _valid(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    s = _options(schema, defs)[0]
    if "const" in s:
        return s["const"]
    if "enum" in s:
        return s["enum"][-1]
    kind = s.get("type")
    if kind == "integer":
        return max(int(s.get("minimum", 1)), 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {k: _valid(v, defs) for k, v in s.get("properties", {}).items() if k in s.get("required", [])}
    if s.get("pattern"):
        return "0x" + "ab" * 32
    return "a red fox"


def _bad_values(schema: dict[str, Any], defs: dict[str, Any]) -> list[Any]:
    """One value of a type the field never accepts, plus one breaking each of its limits."""
    options = _options(schema, defs)
    types = {o.get("type") for o in options} | {"object" for o in options if "properties" in o}
    bad: list[Any] = []
    for candidate, json_type in (({"x": 1}, "object"), ("many", "string"), ([1], "array"), (2.5, "number")):
        if json_type not in types and not ({"integer", "number"} & types and json_type == "number"):
            bad.append(candidate)
            break
    for o in options:
        if "enum" in o:
            bad.append("no-such-option")
        if "maximum" in o and o["maximum"] < 2**63:
            bad.append(o["maximum"] + 1)
        if "minimum" in o:
            bad.append(o["minimum"] - 1)
        if "maxLength" in o:
            bad.append("x" * (o["maxLength"] + 1))
        if o.get("minLength"):
            bad.append("")
        if "pattern" in o:
            bad.append("0x12 !")  # breaks the hash pattern and the request_id pattern alike
        if "maxItems" in o:
            bad.append([1] * (o["maxItems"] + 1))
        if "discriminator" in schema or o.get("properties", {}).get("method"):
            bad.append({"method": "bitcoin"})
    return bad


async def test_every_tool_answers_a_plain_line_for_every_bad_argument(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert len(tools) >= 10
    checked = 0
    for tool in tools:
        schema = tool.input_schema
        defs = schema.get("$defs", {})
        properties = schema.get("properties", {})
        base = {k: _valid(v, defs) for k, v in properties.items() if k in schema.get("required", [])}
        for name, prop in properties.items():
            for value in _bad_values(prop, defs):
                text = _text(await client.call_tool(tool.name, {**base, name: value}))
                _assert_plain(text, name)
                checked += 1
        for name in schema.get("required", []):
            text = _text(await client.call_tool(tool.name, {k: v for k, v in base.items() if k != name}))
            assert f"{name}: is required" in text.splitlines(), text
            checked += 1
    assert checked > 60


@pytest.mark.parametrize(
    ("tool", "arguments", "line"),
    [
        ("generate_image", {"width": 99999}, "width: must be at most 2048 (got 99999)"),
        ("generate_image", {"seed": -1}, "seed: must be at least 0 (got -1)"),
        ("generate_image", {"payment": {"method": "bitcoin"}},
         "payment.method: must be one of free, credits, crypto, x402 (got 'bitcoin')"),
        ("generate_image", {"payment": {"method": "crypto", "tx_hash": "0x12"}},
         "payment.tx_hash: must be a 0x-prefixed transaction hash of 64 hex digits (got '0x12')"),
        ("generate_image", {"payment": {"method": "crypto"}}, "payment.tx_hash: is required"),
        ("generate_image", {"payment": {}}, "payment.method: is required"),
        ("generate_video", {"duration_s": 31}, "duration_s: must be at most 30 (got 31)"),
        ("leaderboard", {"period": "month"}, "leaderboard period: must be one of week, all (got 'month')"),
        ("gallery", {"limit": -1}, "gallery limit: must be at least 1 (got -1)"),
        ("vote", {"generation_id": [1]}, "vote generation_id: must be a whole number or a string (got [1])"),
        ("stake", {"action": "stake", "token_ids": [1, -2]}, "stake token_ids[1]: must be at least 0 (got -2)"),
    ],
)
async def test_argument_errors_read_like_the_design(client: Client, tool: str, arguments: dict, line: str) -> None:
    base = {"prompt": "a red fox", "payment": {"method": "free"}} if tool.startswith("generate") else {}
    args = {**base, **arguments}
    expected = line.removeprefix(f"{tool} ")
    assert _text(await client.call_tool(tool, args)).splitlines() == [expected]


def test_describe_joins_several_fields_one_line_each() -> None:
    class Args(BaseModel):
        width: int = Field(le=2048)
        name: str = Field(max_length=3)

    with pytest.raises(ValidationError) as info:
        Args.model_validate({"width": "wide", "name": "abcdef"})
    assert describe(info.value, {"width": "wide", "name": "abcdef"}).splitlines() == [
        "width: must be a whole number (got 'wide')",
        "name: must have at most 3 characters (got 6)",
    ]
