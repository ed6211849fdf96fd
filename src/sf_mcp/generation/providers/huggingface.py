"""Hugging Face: Inference Providers through ``AsyncInferenceClient``, or a dedicated endpoint.

Two routes:

- no base URL: ``AsyncInferenceClient(provider=..., api_key=...)`` with the model
  id; the hub picks (or is told) the inference provider;
- ``SF_HF_BASE_URL`` set: model M is called at ``{base}/models/M`` in the
  hf-inference wire format (JSON ``{"inputs", "parameters"}`` in, bytes out).
  For images the hub client does exactly that when given the URL as the model;
  it has no hf-inference route for video, so video posts the same format itself
  over the hub's own async HTTP session (so ``set_async_client_factory`` still applies).

Every failure becomes a :class:`ProviderError` with an :class:`ErrorClass`;
messages never contain the token.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from huggingface_hub import AsyncInferenceClient, get_async_session
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from sf_mcp.generation.base import (
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Provider,
    ProviderError,
)
from sf_mcp.generation.providers._status import MODEL_PROBLEMS, classify_status

if TYPE_CHECKING:
    from sf_mcp.config import Settings

__all__ = ["HuggingFaceProvider"]

log = logging.getLogger(__name__)

_TASK = {GenerationKind.IMAGE: "text-to-image", GenerationKind.VIDEO: "text-to-video"}


class HuggingFaceProvider(Provider):
    """Text-to-image and text-to-video on Hugging Face, model by model."""

    name = "huggingface"

    def __init__(
        self,
        *,
        image_models: Sequence[str],
        video_models: Sequence[str] = (),
        token: str | None = None,
        inference_provider: str = "auto",
        base_url: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self._image_models = list(image_models)
        self._video_models = list(video_models)
        self._token = token or None
        self._inference_provider = inference_provider
        self._base_url = base_url.rstrip("/") if base_url else None
        self._timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> HuggingFaceProvider:
        token = settings.hf_token.get_secret_value() if settings.hf_token is not None else None
        return cls(image_models=settings.image_models, video_models=settings.video_models, token=token,
                   inference_provider=settings.hf_provider, base_url=settings.hf_base_url)

    def models(self, kind: GenerationKind) -> list[str]:
        if kind is GenerationKind.VIDEO and not self._base_url and not self._token:
            return []  # Inference Providers' video routes all need a token
        return list(self._image_models if kind is GenerationKind.IMAGE else self._video_models)

    def describe(self) -> str:
        route = f"endpoint {self._base_url}" if self._base_url else f"Inference Providers ({self._inference_provider})"
        return f"huggingface via {route}, token {'set' if self._token else 'not set'}"

    async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
        try:
            if request.kind is GenerationKind.VIDEO:
                data = await self._video(request, model)
                return GeneratedMedia(data=data, mime_type="video/mp4", provider=self.name, model=model)
            data = await self._image(request, model)
            # the true type is read from the bytes by validate_media; PNG is what hf-inference sends by default
            return GeneratedMedia(data=data, mime_type="image/png", provider=self.name, model=model)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._classify(exc, model) from None  # the cause may quote headers: keep it out of tracebacks

    # -- routes ------------------------------------------------------------------
    def _client(self) -> AsyncInferenceClient:
        provider = None if self._base_url else self._inference_provider
        return AsyncInferenceClient(provider=provider, api_key=self._token, timeout=self._timeout_s)  # type: ignore[arg-type]

    async def _image(self, request: GenerationRequest, model: str) -> bytes:
        target = f"{self._base_url}/models/{model}" if self._base_url else model
        if not self._base_url:
            await self._warm_routing(model, _TASK[request.kind])
        async with self._client() as client:
            image = await client.text_to_image(
                request.prompt, model=target, negative_prompt=request.negative_prompt, width=request.width,
                height=request.height, num_inference_steps=request.steps, seed=request.seed)
        return await anyio.to_thread.run_sync(_image_bytes, image)

    async def _video(self, request: GenerationRequest, model: str) -> bytes:
        if self._base_url:
            return await self._post_endpoint(model, request)
        await self._warm_routing(model, _TASK[request.kind])
        async with self._client() as client:
            return await client.text_to_video(
                request.prompt, model=model, negative_prompt=[request.negative_prompt] if request.negative_prompt
                else None, num_inference_steps=request.steps, seed=request.seed)

    async def _post_endpoint(self, model: str, request: GenerationRequest) -> bytes:
        url = f"{self._base_url}/models/{model}"
        parameters = {k: v for k, v in {"negative_prompt": request.negative_prompt, "num_inference_steps":
                                        request.steps, "seed": request.seed}.items() if v is not None}
        headers = {"accept": "video/mp4"}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        async with get_async_session() as client:
            response = await client.post(url, json={"inputs": request.prompt, "parameters": parameters},
                                         headers=headers, timeout=self._timeout_s)
            if response.status_code >= 400:
                raise ProviderError(self._http_message(response.status_code, response.text, model=model),
                                    error_class=classify_status(response.status_code, response.text))
            return response.content

    async def _warm_routing(self, model: str, task: str) -> None:
        """Resolve the model's provider mapping in a worker thread before the async call.

        huggingface_hub 2.4 looks the mapping up with a *blocking* HTTP call inside
        ``text_to_image`` (cached per model afterwards); doing it here first keeps
        the event loop free, and a per-attempt timeout can abandon it.
        """
        try:
            from huggingface_hub.inference._providers import _common, hf_inference
        except ImportError:  # a future layout: the client will look it up itself
            return
        log.debug("resolving the inference provider of %s in a worker thread", model)
        if self._inference_provider == "hf-inference":
            await anyio.to_thread.run_sync(hf_inference._check_supported_task, model, task, abandon_on_cancel=True)
        else:
            await anyio.to_thread.run_sync(_common._fetch_inference_provider_mapping, model,
                                           abandon_on_cancel=True)

    # -- errors ------------------------------------------------------------------
    def _classify(self, exc: Exception, model: str) -> ProviderError:
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            status = exc.response.status_code
            try:
                text = exc.response.text
            except httpx2.ResponseNotRead:
                text = ""
            return ProviderError(self._http_message(status, text, model=model),
                                 error_class=classify_status(status, text))
        if isinstance(exc, (InferenceTimeoutError, httpx2.TimeoutException, TimeoutError)):
            return ProviderError(f"{model} timed out at Hugging Face", error_class=ErrorClass.TIMEOUT)
        if isinstance(exc, httpx2.TransportError):
            return ProviderError(f"cannot reach Hugging Face for {model}: {type(exc).__name__}",
                                 error_class=ErrorClass.UNAVAILABLE)
        text = self._scrub(str(exc))
        if isinstance(exc, ValueError) and ("api_key" in text or "token" in text.lower()):
            return ProviderError(f"Hugging Face needs a token for {model}: set SF_HF_TOKEN or HF_TOKEN",
                                 error_class=ErrorClass.CONFIG)
        if isinstance(exc, ValueError) and any(p in text.lower() for p in MODEL_PROBLEMS):
            return ProviderError(f"{model}: {text}", error_class=ErrorClass.UNSUPPORTED)
        if isinstance(exc, (OSError, ValueError)):  # PIL could not read the answer, or a malformed reply
            return ProviderError(f"{model} sent an unusable answer: {text}", error_class=ErrorClass.BAD_OUTPUT)
        return ProviderError(f"{model}: unexpected {type(exc).__name__}: {text}", error_class=ErrorClass.UNAVAILABLE)

    def _http_message(self, status: int, text: str, *, model: str) -> str:
        if status in (401, 403):
            return (f"Hugging Face rejected the token (HTTP {status}) for {model}: "
                    "check SF_HF_TOKEN / HF_TOKEN and its inference permission")
        return f"Hugging Face answered HTTP {status} for {model}: {self._scrub(_error_text(text))}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _error_text(body: str) -> str:
    """The ``error`` field of an HF JSON error, else the body's start."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(payload, dict) and payload.get("error"):
        error = payload["error"]
        message = error if isinstance(error, str) else json.dumps(error)
        if "estimated_time" in payload:
            message += f" (estimated {payload['estimated_time']:.0f} s)"
        return message[:300]
    return body[:300]


def _image_bytes(image: Any) -> bytes:
    """The provider's own bytes, where the hub client's lazily opened image still holds them; else a PNG.

    Re-encoding costs ~40 ms at 512 px and ~130 ms at 1024 px (bench/bench_providers.py)
    and would turn a JPEG into a larger PNG; the bytes are validated afterwards either way.
    """
    source = getattr(image, "fp", None)
    if isinstance(source, io.BytesIO) and image.format in ("PNG", "JPEG", "WEBP"):
        return source.getvalue()
    return _encode_png(image)


def _encode_png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # fast; the bytes are stored once
    return out.getvalue()
