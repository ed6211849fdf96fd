"""Hugging Face: Inference Providers through huggingface_hub's provider helpers, or a dedicated endpoint.

Two routes:

- no base URL (Inference Providers): the route is chosen from the Hub's
  provider mapping, asked with the token (``hub_routes``); the arguments are
  fitted to that route's limits (``generation.fitting``); huggingface_hub's
  helper for that provider and task builds the request (URL through the
  router, headers, the provider's own payload shape), and we send it over the
  hub's async HTTP session (so ``set_async_client_factory`` applies). Answers
  are read by the helper, except on the two routes whose helper would hide
  something from us or outlive our attempt: fal (the ``has_nsfw_concepts``
  flag, and a queue it polls with blocking sleeps in a thread nobody can
  stop) and replicate (which gives up after 60 s of ``Prefer: wait``, so any
  video failed). There we poll ourselves, inside the attempt's time, and
  cancel the job at the provider when the attempt is abandoned;
- ``SF_HF_BASE_URL`` set: model M is called at ``{base}/models/M`` in the
  hf-inference wire format (JSON ``{"inputs", "parameters"}`` in, bytes out).
  For images the hub client does exactly that when given the URL as the model;
  it has no hf-inference route for video, so video posts the same format itself.

Every failure becomes a :class:`ProviderError` with an :class:`ErrorClass`;
messages never contain the token.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from huggingface_hub import AsyncInferenceClient, get_async_session
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from sf_mcp.config import Settings
from sf_mcp.generation.base import (
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Provider,
    ProviderError,
)
from sf_mcp.generation.fitting import fit, limits_for
from sf_mcp.generation.providers._status import MODEL_PROBLEMS, classify_status, retry_after_s
from sf_mcp.generation.providers.hub_routes import HubRoute, HubRoutes
from sf_mcp.generation.safety import BLACKED_OUT

__all__ = ["HuggingFaceProvider"]

log = logging.getLogger(__name__)

_TASK = {GenerationKind.IMAGE: "text-to-image", GenerationKind.VIDEO: "text-to-video"}
_CANCEL_TIMEOUT_S = 5.0  # telling the provider to stop a job we abandoned must not hold the chain up


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
        poll_interval_s: float = 2.0,
        routes: HubRoutes | None = None,
    ) -> None:
        self._image_models = list(image_models)
        self._video_models = list(video_models)
        self._token = token or None
        self._inference_provider = inference_provider
        self._base_url = base_url.rstrip("/") if base_url else None
        self._timeout_s = timeout_s
        self._poll_interval_s = poll_interval_s
        self.routes = routes or HubRoutes(token=self._token, preferred=inference_provider)

    @classmethod
    def from_settings(cls, settings: Settings) -> HuggingFaceProvider:
        token = settings.providers.hf_token.get_secret_value() if settings.providers.hf_token is not None else None
        return cls(image_models=settings.providers.image_models, video_models=settings.providers.video_models, token=token,
                   inference_provider=settings.providers.hf_provider, base_url=settings.providers.hf_base_url)

    def models(self, kind: GenerationKind) -> list[str]:
        if kind is GenerationKind.VIDEO and not self._base_url and not self._token:
            return []  # Inference Providers' video routes all need a token
        return list(self._image_models if kind is GenerationKind.IMAGE else self._video_models)

    @property
    def uses_endpoint(self) -> bool:
        """True when SF_HF_BASE_URL sends every model to one endpoint instead of Inference Providers."""
        return self._base_url is not None

    def describe(self) -> str:
        route = f"endpoint {self._base_url}" if self._base_url else f"Inference Providers ({self._inference_provider})"
        return f"huggingface via {route}, token {'set' if self._token else 'not set'}"

    async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
        try:
            if self._base_url:
                return await self._endpoint(request, model)
            return await self._inference_providers(request, model)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._classify(exc, model) from None  # the cause may quote headers: keep it out of tracebacks

    # -- Inference Providers ------------------------------------------------------
    async def _inference_providers(self, request: GenerationRequest, model: str) -> GeneratedMedia:
        task = _TASK[request.kind]
        route = await self.routes.choose(model, task)
        label = f"{model} on {route.provider}"
        fitted, notice = fit(request, limits_for(route.provider, model, request.kind), label=label)
        params = await anyio.to_thread.run_sync(self._prepare, route, fitted, abandon_on_cancel=True)
        async with get_async_session() as client:
            answer = await self._send(client, params.url, params.json, params.headers, model, route)
            if route.provider == "fal-ai":
                data = await self._fal(client, answer, params, request.kind, model)
            elif route.provider == "replicate":
                data = await self._replicate(client, answer, params, model)
            else:
                # Some helpers poll in here with blocking sleeps (wavespeed): when our attempt times out the
                # thread is abandoned, not waited for, so the chain moves on in time.
                data = await anyio.to_thread.run_sync(self._read, route, answer.content, params,
                                                      abandon_on_cancel=True)
        mime = "video/mp4" if request.kind is GenerationKind.VIDEO else "image/png"  # validate_media reads the truth
        return GeneratedMedia(data=data, mime_type=mime, provider=self.name, model=model, notice=notice)

    def _prepare(self, route: HubRoute, request: GenerationRequest) -> Any:
        """The provider's request, built by huggingface_hub's helper for that provider and task."""
        from huggingface_hub.inference._providers import get_provider_helper

        helper = get_provider_helper(route.provider, _TASK[request.kind], route.model)  # type: ignore[arg-type]
        parameters: dict[str, Any] = {"num_inference_steps": request.steps, "seed": request.seed}
        if request.kind is GenerationKind.IMAGE:
            parameters |= {"width": request.width, "height": request.height,
                           "negative_prompt": request.negative_prompt}
        elif route.provider in ("fal-ai", "replicate"):  # their video models' schemas take one string
            parameters["negative_prompt"] = request.negative_prompt
        else:  # the task spec's shape: a list of negative prompts
            parameters["negative_prompt"] = [request.negative_prompt] if request.negative_prompt else None
        headers = {"accept": "image/png"} if request.kind is GenerationKind.IMAGE else {}
        try:
            return helper.prepare_request(inputs=request.prompt, parameters=parameters, headers=headers,
                                          model=route.model, api_key=self._token)
        except ValueError as exc:
            raise self._classify(exc, route.model) from None

    @staticmethod
    def _read(route: HubRoute, content: bytes, params: Any) -> bytes:
        from huggingface_hub.inference._providers import get_provider_helper

        helper = get_provider_helper(route.provider, params.task, route.model)  # type: ignore[arg-type]
        return helper.get_response(content, params)  # type: ignore[no-any-return]

    async def _send(self, client: httpx2.AsyncClient, url: str, payload: Any, headers: dict[str, Any], model: str,
                    route: HubRoute | None = None, *, method: str = "POST") -> httpx2.Response:
        response = await client.request(method, url, json=payload, headers=headers, timeout=self._timeout_s)
        if response.status_code >= 400:
            where = f" via {route.provider}" if route else ""
            raise ProviderError(self._http_message(response.status_code, response.text, model=model) + where,
                                error_class=classify_status(response.status_code, response.text),
                                retry_after_s=retry_after_s(response.headers)
                                if response.status_code == 429 else None)
        return response

    async def _fetch(self, client: httpx2.AsyncClient, url: str, model: str) -> bytes:
        """The output file a provider points to (a CDN URL without our token, or a data: URL)."""
        if url.startswith("data:"):
            return base64.b64decode(url.split(",", 1)[1])
        response = await client.get(url, timeout=self._timeout_s)
        if response.status_code >= 400:
            raise ProviderError(f"{model}: the output file answered HTTP {response.status_code}",
                                error_class=ErrorClass.BAD_OUTPUT)
        return response.content

    # -- fal: the safety flag, and a queue polled within our attempt ----------------------------
    async def _fal(self, client: httpx2.AsyncClient, answer: httpx2.Response, params: Any, kind: GenerationKind,
                   model: str) -> bytes:
        body = answer.json()
        if kind is GenerationKind.VIDEO:
            body = await self._fal_queue(client, body, params, model)
        if any(body.get("has_nsfw_concepts") or ()):
            raise ProviderError(f"fal flagged the output of {model} (has_nsfw_concepts): {BLACKED_OUT}",
                                error_class=ErrorClass.REFUSED)
        output = body["video"] if kind is GenerationKind.VIDEO else body["images"][0]
        return await self._fetch(client, output["url"], model)

    async def _fal_queue(self, client: httpx2.AsyncClient, queued: dict[str, Any], params: Any,
                         model: str) -> dict[str, Any]:
        """fal's queue: GET {response_url}/status until COMPLETED, then the result; PUT .../cancel if abandoned.

        Through the router the job's paths live under ``/fal-ai`` on the router's host.
        """
        parsed = urlsplit(params.url)
        router_host = urlsplit(hub_constants.INFERENCE_PROXY_TEMPLATE.format(provider="fal-ai")).netloc
        router = "/fal-ai" if parsed.netloc == router_host else ""
        base = f"{parsed.scheme}://{parsed.netloc}{router}{urlsplit(queued['response_url']).path}"
        query = f"?{parsed.query}" if parsed.query else ""
        status = queued.get("status")
        try:
            while status != "COMPLETED":
                await anyio.sleep(self._poll_interval_s)
                status = (await self._send(client, f"{base}/status{query}", None, params.headers, model,
                                           method="GET")).json().get("status")
            result: dict[str, Any] = (await self._send(client, f"{base}{query}", None, params.headers, model,
                                                       method="GET")).json()
            return result
        except BaseException:
            if status != "COMPLETED":
                await self._cancel(client, "PUT", f"{base}/cancel{query}", params.headers, model)
            raise

    # -- replicate: poll the prediction past the 60 s of Prefer: wait -------------------------------
    async def _replicate(self, client: httpx2.AsyncClient, answer: httpx2.Response, params: Any, model: str) -> bytes:
        prediction = answer.json()
        base = params.url.split("/v1/", 1)[0]
        url = f"{base}/v1/predictions/{prediction.get('id')}"
        try:
            while prediction.get("status") not in ("succeeded", "failed", "canceled") and prediction.get(
                    "output") is None:
                await anyio.sleep(self._poll_interval_s)
                prediction = (await self._send(client, url, None, params.headers, model, method="GET")).json()
        except BaseException:
            await self._cancel(client, "POST", f"{url}/cancel", params.headers, model)
            raise
        if prediction.get("status") in ("failed", "canceled") or prediction.get("output") is None:
            raise ProviderError(f"replicate's prediction of {model} {prediction.get('status')}: "
                                f"{self._scrub(str(prediction.get('error') or 'no output'))[:300]}",
                                error_class=ErrorClass.UNAVAILABLE)
        output = prediction["output"]
        return await self._fetch(client, output if isinstance(output, str) else output[0], model)

    async def _cancel(self, client: httpx2.AsyncClient, method: str, url: str, headers: dict[str, Any],
                      model: str) -> None:
        """Ask the provider to stop a job we no longer wait for; best effort, bounded, never raises."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_TIMEOUT_S):
            try:
                await client.request(method, url, headers=headers)
                log.info("cancelled the abandoned job of %s at the provider", model)
            except httpx2.HTTPError as exc:
                log.warning("could not cancel the abandoned job of %s: %s", model, type(exc).__name__)

    # -- dedicated endpoint -----------------------------------------------------------------
    async def _endpoint(self, request: GenerationRequest, model: str) -> GeneratedMedia:
        fitted, notice = fit(request, limits_for("hf-endpoint", model, request.kind), label=model)
        if request.kind is GenerationKind.VIDEO:
            data = await self._post_endpoint(model, fitted)
            return GeneratedMedia(data=data, mime_type="video/mp4", provider=self.name, model=model, notice=notice)
        async with AsyncInferenceClient(api_key=self._token, timeout=self._timeout_s) as client:
            image = await client.text_to_image(
                fitted.prompt, model=f"{self._base_url}/models/{model}", negative_prompt=fitted.negative_prompt,
                width=fitted.width, height=fitted.height, num_inference_steps=fitted.steps, seed=fitted.seed)
        data = await anyio.to_thread.run_sync(_image_bytes, image)
        # the true type is read from the bytes by validate_media; PNG is what hf-inference sends by default
        return GeneratedMedia(data=data, mime_type="image/png", provider=self.name, model=model, notice=notice)

    async def _post_endpoint(self, model: str, request: GenerationRequest) -> bytes:
        url = f"{self._base_url}/models/{model}"
        parameters = {k: v for k, v in {"negative_prompt": request.negative_prompt, "num_inference_steps":
                                        request.steps, "seed": request.seed}.items() if v is not None}
        headers = {"accept": "video/mp4"}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        async with get_async_session() as client:
            response = await self._send(client, url, {"inputs": request.prompt, "parameters": parameters}, headers,
                                        model)
            return response.content

    # -- errors ------------------------------------------------------------------
    def _classify(self, exc: Exception, model: str) -> ProviderError:
        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            status = exc.response.status_code
            try:
                text = exc.response.text
            except httpx2.ResponseNotRead:
                text = ""
            return ProviderError(self._http_message(status, text, model=model),
                                 error_class=classify_status(status, text),
                                 retry_after_s=retry_after_s(exc.response.headers) if status == 429 else None)
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
        if isinstance(exc, (OSError, ValueError, KeyError, IndexError, TypeError)):
            # PIL could not read the answer, or a reply without the fields its route documents
            return ProviderError(f"{model} sent an unusable answer: {type(exc).__name__}: {text[:200]}",
                                 error_class=ErrorClass.BAD_OUTPUT)
        return ProviderError(f"{model}: unexpected {type(exc).__name__}: {text}", error_class=ErrorClass.UNAVAILABLE)

    def _http_message(self, status: int, text: str, *, model: str) -> str:
        if status == 401:
            return (f"Hugging Face rejected the token (HTTP 401) for {model}: "
                    "check SF_HF_TOKEN / HF_TOKEN and its inference permission")
        if status == 402:
            return (f"Hugging Face answered 402 for {model}: the account's Inference Providers credit is used up "
                    "(add credit or a billing method on the Hub)")
        if status == 403 and classify_status(status, text) is ErrorClass.UNSUPPORTED:
            return f"{model} is gated or restricted for this account (HTTP 403): {self._scrub(_error_text(text))}"
        if status == 403:
            return (f"Hugging Face refused access (HTTP 403) to {model}: the token needs the 'Make calls to "
                    f"Inference Providers' permission: "
                    f"{self._scrub(_error_text(text))}")
        return f"Hugging Face answered HTTP {status} for {model}: {self._scrub(_error_text(text))}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _error_text(body: str) -> str:
    """The ``error`` (or fal's ``detail``) field of a JSON error, else the body's start."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(payload, dict) and (payload.get("error") or payload.get("detail")):
        error = payload.get("error") or payload.get("detail")
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
