"""A loopback fake of Cloudflare Workers AI: ``POST /client/v4/accounts/{id}/ai/run/{model}``.

Workers AI answers in two shapes, both served here: raw image bytes (e.g.
SDXL) or JSON ``{"result": {"image": "<base64>"}, "success": true, ...}``
(e.g. FLUX schnell). Errors are ``{"success": false, "errors": [{"code", "message"}]}``.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote, urlsplit

from fakes._server import Behavior, LoopbackServer, RecordedRequest, encode_body
from fakes.media import tiny_png

__all__ = ["FakeCloudflare"]


class FakeCloudflare(LoopbackServer):
    """Use ``base_url`` as ``SF_CLOUDFLARE_BASE_URL``; ``json_models`` answer in the JSON shape."""

    def __init__(self, *, account_id: str = "acc123", token: str = "cf-token",
                 json_models: tuple[str, ...] = ("@cf/black-forest-labs/flux-1-schnell",)) -> None:
        self.account_id = account_id
        self.token = token
        self.json_models = set(json_models)
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/client/v4"

    def route(self, method: str, path: str) -> str | None:
        prefix = f"/client/v4/accounts/{self.account_id}/ai/run/"
        path = unquote(urlsplit(path).path)
        return path.removeprefix(prefix) if method == "POST" and path.startswith(prefix) else None

    def not_found(self, request: RecordedRequest) -> tuple[int, bytes, str]:
        return 404, *encode_body(self.error_body(7003, "No route for that URI"), None)

    @staticmethod
    def error_body(code: int, message: str) -> dict[str, object]:
        return {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}

    def fail(self, model: str, status: int, message: str = "upstream error", code: int = 3040) -> None:
        self.program(model, Behavior(status=status, body=self.error_body(code, message)))

    def respond(self, request: RecordedRequest, model: str, behavior: Behavior) -> tuple[int, bytes, str]:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, *encode_body(self.error_body(10000, "Authentication error"), None)
        if behavior.body is not None or behavior.status != 200:
            return behavior.status, *encode_body(behavior.body or b"", behavior.content_type)
        body = request.json or {}
        image = tiny_png(int(body.get("width") or 64), int(body.get("height") or 64), model)
        if model in self.json_models:
            return 200, *encode_body({"result": {"image": base64.b64encode(image).decode()}, "success": True,
                                      "errors": [], "messages": []}, None)
        return 200, image, "image/png"
