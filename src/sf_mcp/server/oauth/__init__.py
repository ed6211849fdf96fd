"""OAuth 2.1 authorization server for hosted assistants, with Sign-In with Ethereum as the login.

The MCP authorization spec (2025-11-25, 2026-07-28) on top of the SDK's
``mcp.server.auth``: metadata (RFC 8414, RFC 9728), authorization code with PKCE,
rotating refresh tokens with reuse detection, revocation (RFC 7009), resource
indicators (RFC 8707), ``iss`` in the authorization response (RFC 9207), clients by
metadata document or dynamic registration (RFC 7591), and per-tool scopes (defined in
``server/http/scopes.py``, beside the SIWE tokens that carry them too).
docs/oauth.md walks through it; ``OAuthServer`` is what the HTTP surface mounts.
"""

from sf_mcp.server.oauth.clients import ClientMetadataError, MetadataDocuments, OAuthClient, redirect_matches
from sf_mcp.server.oauth.provider import SfOAuthProvider
from sf_mcp.server.oauth.server import OAuthServer

__all__ = [
    "ClientMetadataError",
    "MetadataDocuments",
    "OAuthClient",
    "OAuthServer",
    "SfOAuthProvider",
    "redirect_matches",
]
