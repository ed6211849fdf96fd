"""A loopback fake of the Hugging Face Hub API and the Inference Providers router, for the real hub client.

Written from huggingface/hub-docs (Inference Providers: hub-api, the task
pages, the provider pages) and from the wire formats of huggingface_hub 2.4's
provider helpers. The product code keeps its real URLs; :func:`route_hub_to`
installs client factories on huggingface_hub whose transport sends every
request (Hub, router, fal's CDN, replicate's delivery host) to this one
server, with the original host as the first path segment
(``/router.huggingface.co/fal-ai/...``).

Served:

- ``GET huggingface.co/api/models/{id}`` (any other Hub path: 404): the model info, with
  ``inferenceProviderMapping`` (a list in the account's provider order) when
  asked by ``expand``. A wrong token answers 401 "Invalid credentials in
  Authorization header"; an unknown or private repo 404 ``RepoNotFound`` with a
  valid token and 401 ``RepoNotFound`` without one, as the Hub does.
- ``router.huggingface.co/hf-inference/models/{id}``: hf-inference's
  ``{"inputs", "parameters"}`` in, PNG bytes out.
- ``router.huggingface.co/fal-ai/{app}``: fal's synchronous run (FLUX: ``images``
  with CDN URLs and ``has_nsfw_concepts``; FLUX.1 schnell takes 1..12 steps, a 422
  in fal's ``detail`` shape otherwise) and, with ``?_subdomain=queue``, fal's queue
  (``request_id``, ``response_url``; ``GET .../status`` IN_PROGRESS ``polls`` times,
  then COMPLETED; ``GET`` the result; ``PUT .../cancel`` recorded in ``cancelled``).
- ``router.huggingface.co/nscale/v1/images/generations``: OpenAI-style images
  (``size`` "WxH", ``b64_json``), no steps.
- ``router.huggingface.co/replicate/v1/models/{owner}/{name}/predictions``: 201
  ``starting``, then ``GET /v1/predictions/{id}`` processing ``polls`` times,
  then succeeded with an output URL; ``POST .../cancel`` recorded.

Inference requests are programmed and counted under the Hugging Face model id.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx2

from fakes._server import Behavior, LoopbackServer, RecordedRequest, encode_body
from fakes.media import tiny_mp4, tiny_png

__all__ = ["FakeHub", "offer", "route_hub_to"]

def offer(provider: str, provider_id: str, task: str = "text-to-image", status: str = "live") -> dict[str, str]:
    """One entry of a model's ``inferenceProviderMapping``, as the Hub lists it."""
    return {"provider": provider, "providerId": provider_id, "status": status, "task": task}


class FakeHub(LoopbackServer):
    """``models`` maps a model id to its provider offers (an empty list: on the Hub, served by nobody)."""

    def __init__(self, *, token: str, models: dict[str, list[dict[str, str]]], polls: int = 1) -> None:
        self.token = token
        self.models = models
        self.polls = polls  # status answers before a queued job is done; a negative number: never done
        self.nsfw: set[str] = set()  # models whose output fal flags (has_nsfw_concepts) and blacks out
        self.cancelled: list[str] = []
        self._jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        super().__init__()

    # -- routing -------------------------------------------------------------------
    def route_request(self, request: RecordedRequest) -> str | None:
        host, _, path = unquote(urlsplit(request.path).path).lstrip("/").partition("/")
        if host == "huggingface.co":
            return "hub-api"
        if host != "router.huggingface.co":
            return "files"
        provider, _, rest = path.partition("/")
        if request.method == "POST" and provider == "hf-inference" and rest.startswith("models/"):
            return rest.removeprefix("models/")
        if provider == "fal-ai" and "/requests/" not in rest and request.method == "POST":
            return self._model_of("fal-ai", rest)
        if provider == "nscale" and rest == "v1/images/generations":
            return self._model_of("nscale", (request.json or {}).get("model", ""))
        if provider == "replicate" and rest.startswith("v1/models/") and rest.endswith("/predictions"):
            return self._model_of("replicate", rest.removeprefix("v1/models/").removesuffix("/predictions"))
        return "jobs"

    def _model_of(self, provider: str, provider_id: str) -> str:
        for model, offers in self.models.items():
            if any(o["provider"] == provider and o["providerId"] == provider_id for o in offers):
                return model
        return f"{provider}:{provider_id}"

    # -- answers -------------------------------------------------------------------
    def respond(self, request: RecordedRequest, model: str, behavior: Behavior) -> tuple[Any, ...]:
        _, _, path = unquote(urlsplit(request.path).path).lstrip("/").partition("/")
        if model == "hub-api":
            if not path.startswith("api/models/"):  # e.g. the client's daily agent-harness registry fetch
                return 404, b'{"error": "not found"}', "application/json"
            return self._model_info(request, path.removeprefix("api/models/"))
        if model == "files":
            return self._file(path)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, b'{"error": "Invalid credentials in Authorization header"}', "application/json"
        if behavior.body is not None or behavior.status != 200:
            return behavior.status, *encode_body(behavior.body or b"", behavior.content_type)
        provider, _, rest = path.partition("/")
        if model == "jobs":
            return self._job(request, provider, rest)
        if model.startswith(f"{provider}:"):
            return 404, *encode_body({"error": f"Model {model} not found"}, None)
        body = request.json or {}
        if provider == "hf-inference":
            parameters = body.get("parameters") or {}
            return 200, tiny_png(int(parameters.get("width", 512)), int(parameters.get("height", 512)), model), \
                "image/png"
        if provider == "fal-ai":
            return self._fal(request, model, rest, body)
        if provider == "nscale":
            width, height = (int(x) for x in body.get("size", "1024x1024").split("x"))
            image = base64.b64encode(tiny_png(width, height, model)).decode()
            return 200, *encode_body({"created": 1, "data": [{"b64_json": image}]}, None)
        if provider == "replicate":
            job = self._new_job(kind="replicate", model=model)
            return 201, *encode_body(self._prediction(job), None)
        return 404, b'{"error": "no such route"}', "application/json"

    def _model_info(self, request: RecordedRequest, model: str) -> tuple[Any, ...]:
        auth = request.headers.get("authorization")
        if auth is not None and auth != f"Bearer {self.token}":
            return 401, b'{"error": "Invalid credentials in Authorization header"}', "application/json"
        if model not in self.models:
            status = 404 if auth else 401
            return (status, b'{"error": "Repository not found"}', "application/json",
                    {"x-error-code": "RepoNotFound", "x-error-message": "Repository not found"})
        info: dict[str, Any] = {"_id": "0" * 24, "id": model, "pipeline_tag": "text-to-image", "tags": []}
        expand = parse_qs(urlsplit(request.path).query)
        if any("inferenceProviderMapping" in v for v in expand.values()):
            info["inferenceProviderMapping"] = self.models[model]
        return 200, *encode_body(info, None)

    def _fal(self, request: RecordedRequest, model: str, app: str, body: dict[str, Any]) -> tuple[int, bytes, str]:
        if "_subdomain=queue" in request.path:
            job = self._new_job(kind="fal", model=model)
            owner_app = "/".join(app.split("/")[:2])
            url = f"https://queue.fal.run/{owner_app}/requests/{job['id']}"
            return 200, *encode_body({"request_id": job["id"], "status": "IN_QUEUE", "response_url": url,
                                      "status_url": f"{url}/status", "cancel_url": f"{url}/cancel"}, None)
        steps = body.get("num_inference_steps")
        if app == "fal-ai/flux/schnell" and steps is not None and not 1 <= steps <= 12:
            detail = [{"loc": ["body", "num_inference_steps"], "msg": "Input should be less than or equal to 12",
                       "type": "less_than_equal", "ctx": {"le": 12}}]
            return 422, *encode_body({"detail": detail}, None)
        size = body.get("image_size") or {"width": 1024, "height": 768}
        flagged = model in self.nsfw
        name = f"{next(self._ids)}-{size['width']}x{size['height']}{'-black' if flagged else ''}.png"
        return 200, *encode_body({"images": [{"url": f"https://v3.fal.media/files/{model}/{name}",
                                              "width": size["width"], "height": size["height"],
                                              "content_type": "image/png"}],
                                  "seed": 42, "has_nsfw_concepts": [flagged], "prompt": body.get("prompt")}, None)

    def _file(self, path: str) -> tuple[int, bytes, str]:
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".mp4"):
            return 200, tiny_mp4(), "video/mp4"
        model = path.removeprefix("files/").rsplit("/", 1)[0]
        width, height = (int(x) for x in name.split("-")[1].removesuffix(".png").split("x"))
        return 200, _png(width, height, model, black=name.endswith("-black.png")), "image/png"

    # -- long-running jobs (fal's queue, replicate's predictions) -----------------------------
    def _new_job(self, *, kind: str, model: str) -> dict[str, Any]:
        job = {"id": f"job{next(self._ids)}", "kind": kind, "model": model, "polls": 0}
        self._jobs[job["id"]] = job
        return job

    def _done(self, job: dict[str, Any]) -> bool:
        return self.polls >= 0 and job["polls"] > self.polls - 1

    def _job(self, request: RecordedRequest, provider: str, rest: str) -> tuple[int, bytes, str]:
        parts = rest.split("/")
        if provider == "fal-ai" and "requests" in parts:
            job = self._jobs[parts[parts.index("requests") + 1]]
            if request.method == "PUT" and parts[-1] == "cancel":
                self.cancelled.append(job["id"])
                return 202, *encode_body({"status": "CANCELLATION_REQUESTED"}, None)
            if parts[-1] == "status":
                job["polls"] += 1
                return 200, *encode_body({"status": "COMPLETED" if self._done(job) else "IN_PROGRESS"}, None)
            return 200, *encode_body({"video": {"url": f"https://v3.fal.media/files/{job['id']}.mp4"}}, None)
        if provider == "replicate" and parts[:2] == ["v1", "predictions"]:
            job = self._jobs[parts[2]]
            if request.method == "POST" and parts[-1] == "cancel":
                self.cancelled.append(job["id"])
                return 200, *encode_body({**self._prediction(job), "status": "canceled"}, None)
            job["polls"] += 1
            return 200, *encode_body(self._prediction(job), None)
        return 404, b'{"error": "no such job route"}', "application/json"

    def _prediction(self, job: dict[str, Any]) -> dict[str, Any]:
        done = job["polls"] > 0 and self._done(job)
        api = f"https://api.replicate.com/v1/predictions/{job['id']}"
        return {"id": job["id"], "status": "succeeded" if done else "starting" if not job["polls"] else "processing",
                "output": f"https://replicate.delivery/{job['id']}.mp4" if done else None, "error": None,
                "urls": {"get": api, "cancel": f"{api}/cancel"}}


def _png(width: int, height: int, tag: str, *, black: bool) -> bytes:
    if not black:
        return tiny_png(width, height, tag)
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 0, 0)).save(out, "PNG")
    return out.getvalue()


# -- sending the real client here -------------------------------------------------------------

def _rewrite(url: httpx2.URL, port: int) -> httpx2.URL:
    return httpx2.URL(scheme="http", host="127.0.0.1", port=port, path=f"/{url.host}{url.path}",
                      query=url.query or None)


class _SyncRedirect(httpx2.BaseTransport):
    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = _rewrite(request.url, self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _AsyncRedirect(httpx2.AsyncBaseTransport):
    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = _rewrite(request.url, self._port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextlib.contextmanager
def route_hub_to(fake: LoopbackServer) -> Iterator[None]:
    """Send every huggingface_hub HTTP call (sync and async) to ``fake``; restore and forget caches after."""
    import huggingface_hub
    from huggingface_hub.inference._providers import _common, hf_inference
    from huggingface_hub.utils import _http as hub_http

    saved = (hub_http._GLOBAL_CLIENT_FACTORY, hub_http._GLOBAL_ASYNC_CLIENT_FACTORY)
    caches = (_common._fetch_inference_provider_mapping, hf_inference._check_supported_task)
    for cache in caches:  # the client caches routes per model for the life of the process
        cache.cache_clear()
    huggingface_hub.set_client_factory(lambda: httpx2.Client(transport=_SyncRedirect(fake.port)))
    huggingface_hub.set_async_client_factory(lambda: httpx2.AsyncClient(transport=_AsyncRedirect(fake.port)))
    try:
        yield
    finally:
        huggingface_hub.set_client_factory(saved[0])
        huggingface_hub.set_async_client_factory(saved[1])
        for cache in caches:
            cache.cache_clear()
