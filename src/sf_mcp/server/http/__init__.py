"""The HTTP extras around /mcp: sign-in (SIWE bearer tokens), rate limits, observability and readiness."""

from sf_mcp.server.http.surface import HttpSurface

__all__ = ["HttpSurface"]
