"""A loopback fake of Cloudflare Workers AI: ``POST /client/v4/accounts/{id}/ai/run/{model}``.

Written from cloudflare-docs: the model JSON schemas under
``src/content/workers-ai-models/`` and the Workers AI errors page.

- Only the models in ``SCHEMAS`` exist; any other answers the documented
  ``5007 No such model`` with HTTP 400.
- Each body is checked against its model's input schema: FLUX.1 schnell takes
  ``prompt`` (1..2048 chars) and ``steps`` (max 8) and nothing else
  (``additionalProperties: false``); SDXL takes sides of 256..2048 and ``num_steps``
  up to 20. A violation answers 400 with code 5006 and a "Bad input" message (the
  shape Workers AI sends for schema errors; the errors page lists no code for it).
- Answers come in both documented shapes: raw PNG bytes (SDXL) or JSON
  ``{"result": {"image": "<base64>"}, "success": true}`` (FLUX schnell, which draws
  1024x1024 whatever is asked).
- ``error(model, code)`` programs a documented error with its documented HTTP status.
- ``GET .../ai/models/search?search=`` lists the catalogue (the models in ``SCHEMAS``)
  in the API's V4 list shape; programmed and counted under ``"search"``.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes._server import Behavior, LoopbackServer, RecordedRequest, encode_body
from fakes.media import tiny_png

__all__ = ["DOCUMENTED_ERRORS", "SCHEMAS", "FakeCloudflare"]

FLUX = "@cf/black-forest-labs/flux-1-schnell"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"

# model -> (properties: name -> (type, minimum, maximum)), additionalProperties allowed, JSON answer
SCHEMAS: dict[str, tuple[dict[str, tuple[type, int | None, int | None]], bool, bool]] = {
    FLUX: ({"prompt": (str, 1, 2048), "steps": (int, None, 8)}, False, True),
    SDXL: ({"prompt": (str, 1, None), "negative_prompt": (str, None, None), "height": (int, 256, 2048),
            "width": (int, 256, 2048), "num_steps": (int, None, 20), "strength": (float, None, None),
            "guidance": (float, None, None), "seed": (int, None, None)}, True, False),
}

# code -> (HTTP status, message), from the Workers AI errors page
DOCUMENTED_ERRORS: dict[int, tuple[int, str]] = {
    5007: (400, "No such model {model} or task"),
    5004: (400, "Invalid data type for base64 input: string"),
    3003: (400, "Request is missing headers or body: body"),
    5018: (403, "The account is not allowed to access this model"),
    5016: (403, "User has not agreed to Llama3.2 model terms"),
    3023: (403, "Service unavailable for account"),
    3041: (403, "The account is not allowed to access this model"),
    3042: (404, "The model name is invalid"),
    3006: (413, "Request is too large"),
    3007: (408, "Request timeout"),
    3008: (408, "Request was aborted"),
    3036: (429, "You have used up your daily free allocation of 10,000 neurons. Please upgrade to Cloudflare's "
                "Workers Paid plan if you would like to continue usage."),
    3040: (429, "No more data centers to forward the request to"),
}


class FakeCloudflare(LoopbackServer):
    """Use ``base_url`` as ``SF_CLOUDFLARE_BASE_URL``."""

    def __init__(self, *, account_id: str = "acc123", token: str = "cf-token") -> None:
        self.account_id = account_id
        self.token = token
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/client/v4"

    def route(self, method: str, path: str) -> str | None:
        prefix = f"/client/v4/accounts/{self.account_id}/ai/"
        path = unquote(urlsplit(path).path)
        if method == "GET" and path == f"{prefix}models/search":
            return "search"
        run = f"{prefix}run/"
        return path.removeprefix(run) if method == "POST" and path.startswith(run) else None

    def not_found(self, request: RecordedRequest) -> tuple[int, bytes, str]:
        return 404, *encode_body(self.error_body(7003, "No route for that URI"), None)

    @staticmethod
    def error_body(code: int, message: str) -> dict[str, object]:
        return {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}

    def error(self, model: str, code: int, *, headers: dict[str, str] | None = None) -> None:
        """Answer ``model`` with the documented error ``code`` (its documented HTTP status and message)."""
        status, message = DOCUMENTED_ERRORS[code]
        self.program(model, Behavior(status=status, body=self.error_body(code, message.format(model=model)),
                                     headers=headers or {}))

    def fail(self, model: str, status: int, message: str = "Internal server error", code: int = 1031) -> None:
        """An undocumented failure (5xx and friends); ``code`` as the service would put it."""
        self.program(model, Behavior(status=status, body=self.error_body(code, message)))

    def respond(self, request: RecordedRequest, model: str, behavior: Behavior) -> tuple[int, bytes, str]:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, *encode_body(self.error_body(10000, "Authentication error"), None)
        if behavior.body is not None or behavior.status != 200:
            return behavior.status, *encode_body(behavior.body or b"", behavior.content_type)
        if model == "search":  # the catalogue: names containing the search text, in the V4 list shape
            text = parse_qs(urlsplit(request.path).query).get("search", [""])[0]
            found = [{"id": f"id-{i}", "name": name, "task": {"name": "Text-to-Image"}}
                     for i, name in enumerate(SCHEMAS) if text in name]
            return 200, *encode_body({"success": True, "errors": [], "messages": [], "result": found,
                                      "result_info": {"count": len(found), "page": 1, "per_page": 20}}, None)
        if model not in SCHEMAS:
            status, message = DOCUMENTED_ERRORS[5007]
            return status, *encode_body(self.error_body(5007, message.format(model=model)), None)
        body = request.json or {}
        problem = _schema_problem(body, *SCHEMAS[model][:2])
        if problem:
            return 400, *encode_body(self.error_body(5006, f"AiError: Bad input: {problem}"), None)
        if SCHEMAS[model][2]:  # FLUX schnell: JSON with a base64 1024x1024 image
            image = tiny_png(1024, 1024, model)
            return 200, *encode_body({"result": {"image": base64.b64encode(image).decode()}, "success": True,
                                      "errors": [], "messages": []}, None)
        return 200, tiny_png(int(body.get("width") or 1024), int(body.get("height") or 1024), model), "image/png"


def _schema_problem(body: dict[str, Any], properties: dict[str, tuple[type, int | None, int | None]],
                    extra_allowed: bool) -> str | None:
    if not isinstance(body.get("prompt"), str):
        return "'prompt' is required"
    for name, value in body.items():
        if name not in properties:
            if not extra_allowed:
                return f"must NOT have additional properties ('{name}')"
            continue
        kind, low, high = properties[name]
        if kind is float and isinstance(value, (int, float)):
            continue
        if not isinstance(value, kind):
            return f"Type mismatch of '/{name}'"
        size = len(value) if isinstance(value, str) else value
        if low is not None and size < low:
            return f"'/{name}' must be >= {low}"
        if high is not None and size > high:
            return f"'/{name}' must be <= {high}"
    return None
