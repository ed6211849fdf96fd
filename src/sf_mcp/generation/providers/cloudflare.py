"""Cloudflare Workers AI: ``POST {base}/accounts/{id}/ai/run/{model}`` with a bearer token.

Workers AI answers text-to-image in two shapes, depending on the model: raw
image bytes (SDXL, SD 1.5) or JSON ``{"result": {"image": "<base64>"}, "success": true}``
(FLUX schnell). Errors are JSON ``{"success": false, "errors": [{"code", "message"}]}``;
the codes of the Workers AI errors page are read first (5007 no such model, 3040
out of capacity, 3036 daily allocation used up, 3007 timeout, 5016/5018/3041 no
access to one model, 3023 account blocked), the HTTP status only after. The input
is fitted to each model's published JSON schema (``generation.fitting``): FLUX
schnell takes no size, seed or negative prompt (``additionalProperties: false``).
The HTTP client is httpx2, the same stack as mcp and huggingface_hub; its
transport can be injected for tests.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx2

from sf_mcp.config import Settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation.base import (
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Provider,
    ProviderError,
)
from sf_mcp.generation.fitting import fit, limits_for
from sf_mcp.generation.providers._status import classify_status, retry_after_s

__all__ = ["CloudflareProvider"]

_AUTH_CODES = {10000, 10001, 9109}  # "Authentication error" and friends: the token or account is wrong

# Workers AI's documented error codes (developers.cloudflare.com/workers-ai/platform/errors):
# code -> (class, what it means for the user).
_CODES: dict[int, tuple[ErrorClass, str]] = {
    5007: (ErrorClass.UNSUPPORTED, "Workers AI has no such model or task (code 5007)"),
    3042: (ErrorClass.UNSUPPORTED, "the model name is invalid on Workers AI (code 3042)"),
    5005: (ErrorClass.UNSUPPORTED, "the model does not support LoRA inference (code 5005)"),
    5016: (ErrorClass.UNSUPPORTED, "the account has not agreed to this model's terms (code 5016): "
                                   "send it the prompt 'agree' once"),
    5018: (ErrorClass.UNSUPPORTED, "the account is not allowed to access this model (code 5018)"),
    3041: (ErrorClass.UNSUPPORTED, "the account is not allowed to access this model (code 3041)"),
    3023: (ErrorClass.CONFIG, "Cloudflare has blocked Workers AI for this account (code 3023)"),
    3036: (ErrorClass.RATE_LIMITED, "the account's daily free allocation of neurons is used up (code 3036): "
                                    "upgrade to Workers Paid or wait for 00:00 UTC"),
    3040: (ErrorClass.RATE_LIMITED, "Workers AI is out of capacity for this model (code 3040)"),
    3007: (ErrorClass.TIMEOUT, "Workers AI timed out (code 3007)"),
    3008: (ErrorClass.TIMEOUT, "Workers AI aborted the request (code 3008)"),
    3006: (ErrorClass.INVALID_INPUT, "the request is too large for Workers AI (code 3006)"),
    5004: (ErrorClass.INVALID_INPUT, "Workers AI rejected the input data (code 5004)"),
    3003: (ErrorClass.INVALID_INPUT, "Workers AI found the request incomplete (code 3003)"),
}


class CloudflareProvider(Provider):
    """Text-to-image on Workers AI; there is no text-to-video model there."""

    name = "cloudflare"

    def __init__(
        self,
        *,
        account_id: str,
        api_token: str,
        image_models: Sequence[str],
        base_url: str = "https://api.cloudflare.com/client/v4",
        timeout_s: float = 120.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._account_id = account_id
        self._token = api_token
        self._image_models = list(image_models)
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudflareProvider:
        if not settings.providers.cloudflare_account_id or settings.providers.cloudflare_api_token is None:
            raise ConfigError("Cloudflare needs both SF_CLOUDFLARE_ACCOUNT_ID and SF_CLOUDFLARE_API_TOKEN")
        return cls(account_id=settings.providers.cloudflare_account_id,
                   api_token=settings.providers.cloudflare_api_token.get_secret_value(),
                   image_models=settings.providers.cloudflare_image_models, base_url=settings.providers.cloudflare_base_url)

    def models(self, kind: GenerationKind) -> list[str]:
        return list(self._image_models) if kind is GenerationKind.IMAGE else []

    def describe(self) -> str:
        return f"cloudflare Workers AI at {self._base_url}, account {self._account_id}"

    def url(self, model: str) -> str:
        # Model names such as "@cf/black-forest-labs/flux-1-schnell" keep their slashes in the path.
        return f"{self._base_url}/accounts/{quote(self._account_id, safe='')}/ai/run/{quote(model, safe='@/')}"

    async def find(self, model: str) -> str:
        """Whether the account sees ``model`` in the Workers AI catalogue (``ai/models/search``): its task name.

        Used by ``sf-mcp providers check``; costs no neurons. Raises ProviderError: UNSUPPORTED
        when the catalogue has no such model, CONFIG when the token or account is refused.
        """
        url = f"{self._base_url}/accounts/{quote(self._account_id, safe='')}/ai/models/search"
        client = self._http()
        try:
            response = await client.get(url, params={"search": model},
                                        headers={"authorization": f"Bearer {self._token}"})
        except httpx2.TransportError as exc:
            raise ProviderError(f"cannot reach Cloudflare to look up {model}: {type(exc).__name__}",
                                error_class=ErrorClass.UNAVAILABLE) from None
        if response.status_code >= 400:
            raise self._error(response.status_code, response.content, model, response.headers)
        found = [m for m in response.json().get("result") or [] if isinstance(m, dict) and m.get("name") == model]
        if not found:
            raise ProviderError(f"Workers AI has no model {model} for this account", error_class=ErrorClass.UNSUPPORTED)
        task = found[0].get("task")
        return str(task.get("name") if isinstance(task, dict) else task or "model")

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(transport=self._transport, timeout=self._timeout_s)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
        if request.kind is not GenerationKind.IMAGE:
            raise ProviderError("Workers AI has no text-to-video model", error_class=ErrorClass.UNSUPPORTED)
        client = self._http()
        request, notice = fit(request, limits_for("cloudflare", model, request.kind), label=f"{model} on Workers AI")
        try:
            response = await client.post(self.url(model), json=_inputs(request, model),
                                               headers={"authorization": f"Bearer {self._token}"})
            content = await response.aread()
        except httpx2.TimeoutException:
            raise ProviderError(f"{model} timed out at Cloudflare", error_class=ErrorClass.TIMEOUT) from None
        except httpx2.TransportError as exc:
            raise ProviderError(f"cannot reach Cloudflare for {model}: {type(exc).__name__}",
                                error_class=ErrorClass.UNAVAILABLE) from None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code >= 400:
            raise self._error(response.status_code, content, model, response.headers)
        if content_type.startswith("image/"):
            return GeneratedMedia(data=content, mime_type=content_type, provider=self.name, model=model,
                                  notice=notice)
        return GeneratedMedia(data=_image_from_json(content, model), mime_type="image/png", provider=self.name,
                              model=model, notice=notice)

    def _error(self, status: int, content: bytes, model: str, headers: Mapping[str, str]) -> ProviderError:
        codes, message = _errors(content)
        detail = message.replace(self._token, "***")
        known = next((_CODES[c] for c in sorted(codes) if c in _CODES), None)
        if known is not None:
            error_class, meaning = known
            wait = retry_after_s(headers)
            if 3036 in codes:
                wait = _until_utc_midnight()  # a daily allocation: nothing changes before the day does
            return ProviderError(f"Cloudflare: {meaning} for {model}", error_class=error_class,
                                 retry_after_s=wait if error_class is ErrorClass.RATE_LIMITED else None)
        if status in (401, 403) or codes & _AUTH_CODES:
            return ProviderError(
                f"Cloudflare rejected the API token or account (HTTP {status}: {message}): check "
                "SF_CLOUDFLARE_API_TOKEN (Workers AI permission) and SF_CLOUDFLARE_ACCOUNT_ID",
                error_class=ErrorClass.CONFIG)
        return ProviderError(f"Cloudflare answered HTTP {status} for {model}: {detail}",
                             error_class=classify_status(status, detail),
                             retry_after_s=retry_after_s(headers) if status == 429 else None)


def _inputs(request: GenerationRequest, model: str) -> dict[str, Any]:
    """The body in the model's input schema; ``request`` is already fitted to its limits.

    FLUX schnell's schema has only ``prompt`` and ``steps`` and forbids anything else;
    the Stable Diffusion family takes ``width``, ``height``, ``num_steps``, ``seed`` and
    ``negative_prompt``.
    """
    if model == "@cf/black-forest-labs/flux-1-schnell":
        inputs: dict[str, Any] = {"prompt": request.prompt, "steps": request.steps}
    else:
        inputs = {"prompt": request.prompt, "width": request.width, "height": request.height,
                  "num_steps": request.steps, "negative_prompt": request.negative_prompt, "seed": request.seed}
    return {k: v for k, v in inputs.items() if v is not None}


def _until_utc_midnight() -> float:
    now = datetime.now(UTC)
    return (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC) - now).total_seconds()


def _errors(content: bytes) -> tuple[set[int], str]:
    try:
        payload = json.loads(content)
        errors = payload.get("errors") or []
        codes = {int(e.get("code", 0)) for e in errors if isinstance(e, dict)}
        message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)) or "no detail"
        return codes, message[:300]
    except (ValueError, AttributeError, TypeError):
        return set(), content[:300].decode(errors="replace")


def _image_from_json(content: bytes, model: str) -> bytes:
    try:
        payload = json.loads(content)
        if payload.get("success") is False:
            raise ProviderError(f"Cloudflare reported failure for {model}: {_errors(content)[1]}",
                                error_class=ErrorClass.UNAVAILABLE)
        return base64.b64decode(payload["result"]["image"], validate=True)
    except ProviderError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ProviderError(f"{model} answered neither an image nor {{'result': {{'image': base64}}}} ({exc})",
                            error_class=ErrorClass.BAD_OUTPUT) from None
