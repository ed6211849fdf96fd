"""A loopback fake of the Hugging Face hf-inference wire format (dedicated endpoints and proxies).

``POST /models/{model}`` with JSON ``{"inputs": prompt, "parameters": {...}}``
answers image bytes (PNG of the requested size) or, for models listed in
``video_models``, an mp4. Errors use HF's JSON shape ``{"error": "..."}``;
503 carries ``estimated_time`` like a model that is loading.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from fakes._server import Behavior, LoopbackServer, RecordedRequest, encode_body
from fakes.media import tiny_mp4, tiny_png

__all__ = ["FakeHuggingFace"]


class FakeHuggingFace(LoopbackServer):
    """Use ``base_url`` as ``SF_HF_BASE_URL``. With ``token`` set, other bearer tokens get 401."""

    def __init__(self, *, token: str | None = None, video_models: tuple[str, ...] = ()) -> None:
        self.token = token
        self.video_models = set(video_models)
        super().__init__()

    @property
    def base_url(self) -> str:
        return self.origin

    def route(self, method: str, path: str) -> str | None:
        path = unquote(urlsplit(path).path)
        return path.removeprefix("/models/") if method == "POST" and path.startswith("/models/") else None

    # -- programming shortcuts ---------------------------------------------------
    def loading(self, model: str) -> None:
        """503 "model is currently loading", as a cold model answers."""
        self.program(model, Behavior(status=503, body={"error": f"Model {model} is currently loading",
                                                       "estimated_time": 20.0}))

    def fail(self, model: str, status: int, message: str = "upstream error") -> None:
        self.program(model, Behavior(status=status, body={"error": message}))

    def blacked_out(self, model: str) -> None:
        """200 with an all-black PNG: how a diffusers safety checker answers a flagged prompt."""
        import io

        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (64, 64), (0, 0, 0)).save(out, "PNG")
        self.program(model, Behavior(body=out.getvalue(), content_type="image/png"))

    def respond(self, request: RecordedRequest, model: str, behavior: Behavior) -> tuple[int, bytes, str]:
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, b'{"error": "Invalid credentials in Authorization header"}', "application/json"
        if behavior.body is not None or behavior.status != 200:
            status = behavior.status
            body, content_type = encode_body(behavior.body or b"", behavior.content_type)
            return status, body, content_type
        if model in self.video_models:
            return 200, tiny_mp4(), "video/mp4"
        parameters = (request.json or {}).get("parameters") or {}
        width, height = int(parameters.get("width") or 64), int(parameters.get("height") or 64)
        return 200, tiny_png(width, height, model), "image/png"
