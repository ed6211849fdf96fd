"""The OAuth endpoints: the SDK's routes, with the few things the SDK lacks added around them.

From ``mcp.server.auth.routes.create_auth_routes``: ``/authorize``, ``/token``,
``/register`` (RFC 7591), ``/revoke`` (RFC 7009) and the RFC 8414 metadata. Extended here,
each in the smallest place that holds it:

* metadata: also ``client_id_metadata_document_supported``, ``authorization_response_iss_parameter_supported``,
  public clients (``none``) and the scopes, which the SDK's ``build_metadata`` does not set;
* ``/authorize``: ``iss`` added to every redirect back to the client, errors included
  (RFC 9207; the SDK adds it nowhere), and a metadata document's problem shown by name;
* ``/revoke``: public clients need not send an empty ``client_secret``;
* ``/token``: a ``resource`` other than this ``/mcp`` refused with ``invalid_target``
  (RFC 8707; the SDK's token handler does not pass it to the provider);
* the RFC 9728 protected-resource metadata, with the scopes (the SDK lists only required ones).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import ClientAuthenticator
from mcp.server.auth.routes import build_metadata, build_resource_metadata_url, cors_middleware, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.datastructures import FormData
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response

from sf_mcp.server.http.scopes import ALL_SCOPES
from sf_mcp.server.oauth.clients import ClientMetadataError
from sf_mcp.server.oauth.provider import SfOAuthProvider, same_resource

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def registration_options() -> ClientRegistrationOptions:
    return ClientRegistrationOptions(enabled=True, valid_scopes=list(ALL_SCOPES), default_scopes=list(ALL_SCOPES))


def authorization_server_metadata(issuer: str) -> OAuthMetadata:
    # Strings, not AnyHttpUrl objects: the models then keep the issuer exactly as the PRM names it
    # (no trailing slash), which RFC 8414 and RFC 9207 compare character for character.
    metadata = build_metadata(issuer, None, registration_options(), RevocationOptions(enabled=True))  # type: ignore[arg-type]
    metadata.token_endpoint_auth_methods_supported = ["none", "client_secret_post", "client_secret_basic"]
    metadata.revocation_endpoint_auth_methods_supported = ["none", "client_secret_post", "client_secret_basic"]
    metadata.client_id_metadata_document_supported = True
    metadata.authorization_response_iss_parameter_supported = True
    return metadata


def resource_metadata(resource: str, issuer: str) -> ProtectedResourceMetadata:
    return ProtectedResourceMetadata(
        resource=resource, authorization_servers=[issuer],  # strings: the model keeps them exactly as given
        scopes_supported=list(ALL_SCOPES), resource_name="sf-mcp",
    )


class IssuingAuthorizationHandler(AuthorizationHandler):
    """The SDK's /authorize plus RFC 9207 ``iss`` on redirects and named metadata-document problems."""

    def __init__(self, provider: SfOAuthProvider) -> None:
        super().__init__(provider)
        self._sf = provider

    async def handle(self, request: Request) -> Response:
        params = request.query_params if request.method == "GET" else await request.form()
        client_id = params.get("client_id")
        if isinstance(client_id, str) and client_id.startswith(("https://", "http://")):
            try:
                await self._sf.resolve_client(client_id)  # cached for the SDK's own lookup below
            except ClientMetadataError as exc:
                return JSONResponse({"error": "invalid_client", "error_description": str(exc)}, 400, headers=_NO_STORE)
        response = await super().handle(request)
        location = response.headers.get("location")
        if location and not location.startswith(self._sf.issuer + "/"):
            response.headers["location"] = _with_iss(location, self._sf.issuer)
        return response


def _with_iss(location: str, issuer: str) -> str:
    parts = urlsplit(location)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("iss", issuer)])))


class ResourceBoundTokenHandler(TokenHandler):
    """The SDK's /token, refusing a ``resource`` that is not this server's /mcp (RFC 8707)."""

    def __init__(self, provider: SfOAuthProvider) -> None:
        super().__init__(provider, ClientAuthenticator(provider))
        self._resource = provider.resource

    async def handle(self, request: Request) -> Response:
        form = await request.form()  # Starlette caches it for the SDK's handler
        resource = form.get("resource")
        if isinstance(resource, str) and resource and not same_resource(resource, self._resource):
            return JSONResponse(
                {"error": "invalid_target", "error_description": f"resource: tokens here are only for {self._resource}"},
                400, headers=_NO_STORE,
            )
        response: Response = await super().handle(request)
        return response


class PublicClientRevocationHandler(RevocationHandler):
    """The SDK's /revoke, for public clients too: its request model requires ``client_secret``,
    which RFC 7009 does not ask of a client without one. An absent secret reads as empty; the
    client authenticator has already checked the secret of clients that have one."""

    def __init__(self, provider: SfOAuthProvider) -> None:
        super().__init__(provider, ClientAuthenticator(provider))

    async def handle(self, request: Request) -> Response:
        form = await request.form()
        if "client_secret" not in form:
            request._form = FormData([*form.multi_items(), ("client_secret", "")])  # the cache the SDK reads
        return await super().handle(request)


def oauth_routes(provider: SfOAuthProvider) -> list[BaseRoute]:
    """Every OAuth route; put them before the SDK's own so these take precedence."""
    issuer = provider.issuer
    sdk = create_auth_routes(provider, AnyHttpUrl(issuer), client_registration_options=registration_options(),
                             revocation_options=RevocationOptions(enabled=True))
    ours: dict[str, Any] = {
        "/.well-known/oauth-authorization-server": cors_middleware(
            MetadataHandler(authorization_server_metadata(issuer)).handle, ["GET", "OPTIONS"]),
        "/authorize": RequestBodyLimitMiddleware(
            request_response(IssuingAuthorizationHandler(provider).handle), DEFAULT_MAX_REQUEST_BODY_SIZE),
        "/revoke": CORSMiddleware(
            RequestBodyLimitMiddleware(
                request_response(PublicClientRevocationHandler(provider).handle), DEFAULT_MAX_REQUEST_BODY_SIZE),
            allow_origins="*", allow_methods=["POST", "OPTIONS"], allow_headers=["mcp-protocol-version"]),
        "/token": CORSMiddleware(
            RequestBodyLimitMiddleware(
                request_response(ResourceBoundTokenHandler(provider).handle), DEFAULT_MAX_REQUEST_BODY_SIZE),
            allow_origins="*", allow_methods=["POST", "OPTIONS"], allow_headers=["mcp-protocol-version"]),
    }
    routes: list[BaseRoute] = []
    for route in sdk:
        if isinstance(route, Route) and route.path in ours:
            routes.append(Route(route.path, endpoint=ours[route.path], methods=list(route.methods or [])))
        else:
            routes.append(route)
    prm_path = urlsplit(str(build_resource_metadata_url(AnyHttpUrl(provider.resource)))).path
    prm = ProtectedResourceMetadataHandler(resource_metadata(provider.resource, issuer))
    routes.append(Route(prm_path, endpoint=cors_middleware(prm.handle, ["GET", "OPTIONS"]), methods=["GET", "OPTIONS"]))
    return routes
