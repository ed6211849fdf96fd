"""Turning sf-mcp errors into tool errors a person can act on."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from sf_mcp.errors import SfMcpError

P = ParamSpec("P")
R = TypeVar("R")


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report our own errors as is_error results with their message (the SDK hides unknown ones)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except SfMcpError as exc:
            hint = " (temporary: try again)" if exc.retryable else ""
            raise ToolError(f"{exc}{hint}") from exc

    wrapper.__doc__ = inspect.cleandoc(fn.__doc__ or "")  # the description an assistant reads
    return wrapper
