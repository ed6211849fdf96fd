"""A programmable loopback HTTP server: the shared machinery of the provider fakes.

Each fake runs a real ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) in a
daemon thread, so the code under test goes through its real HTTP client,
sockets and timeouts. Per model, a test programs what happens (status, body,
delay, hang); every request is recorded so tests assert on what was called,
never on wall time. ``close()`` releases hanging handlers and joins the threads.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Behavior", "LoopbackServer", "RecordedRequest"]


@dataclass(frozen=True)
class Behavior:
    """What the fake does for one request. ``body=None`` means the fake's default success body."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | None = None
    content_type: str | None = None
    delay_s: float = 0.0  # answer after this long (or at close, whichever comes first)
    hang: bool = False  # never answer until the fake is closed
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class LoopbackServer:
    """Base class: subclasses implement :meth:`route` (path -> model or None) and :meth:`respond`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._programs: dict[str, list[Behavior]] = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # notified on every recorded request
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()

    # -- programming -----------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def program(self, model: str, *behaviors: Behavior) -> None:
        """Answer ``model``'s next requests with ``behaviors`` in turn; the last one repeats."""
        with self._lock:
            self._programs[model] = list(behaviors)

    def hang(self, model: str) -> None:
        """``model`` never answers (until close): a dead upstream that accepts connections."""
        self.program(model, Behavior(hang=True))

    def reset(self, model: str | None = None) -> None:
        """Back to default success for ``model`` (or every model)."""
        with self._lock:
            if model is None:
                self._programs.clear()
            else:
                self._programs.pop(model, None)

    def wait_for_calls(self, model: str, count: int, *, timeout: float = 30) -> list[RecordedRequest]:
        """Block until ``model`` has received ``count`` requests (run it in a worker thread from async code)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._calls_locked(model)) >= count, timeout=timeout):
                raise TimeoutError(f"{model} received {len(self._calls_locked(model))} requests, expected {count}")
            return self._calls_locked(model)

    def _calls_locked(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if self.route_request(r) == model]

    def calls(self, model: str) -> list[RecordedRequest]:
        """Requests received for ``model``, in order."""
        with self._lock:
            return self._calls_locked(model)

    # -- lifecycle -------------------------------------------------------------
    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for subclasses --------------------------------------------------------
    def route(self, method: str, path: str) -> str | None:
        raise NotImplementedError

    def route_request(self, request: RecordedRequest) -> str | None:
        """The key a request is programmed and counted under; override where the body names the model."""
        return self.route(request.method, request.path)

    def respond(self, request: RecordedRequest, model: str, behavior: Behavior) -> tuple[Any, ...]:
        """The (status, body, content type[, headers]) for a request that passed routing."""
        raise NotImplementedError

    def not_found(self, request: RecordedRequest) -> tuple[int, bytes, str]:
        return 404, b'{"error": "not found"}', "application/json"

    # -- internals -------------------------------------------------------------
    def _next_behavior(self, model: str) -> Behavior:
        with self._lock:
            program = self._programs.get(model)
            if not program:
                return Behavior()
            return program.pop(0) if len(program) > 1 else program[0]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = RecordedRequest(method=handler.command, path=handler.path,
                                  headers={k.lower(): v for k, v in handler.headers.items()}, body=body)
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
        model = self.route_request(request)
        if model is None:
            status, payload, content_type = self.not_found(request)
            extra: dict[str, str] = {}
        else:
            behavior = self._next_behavior(model)
            if behavior.hang:
                self._release.wait()
                handler.close_connection = True
                return  # the client gave up long ago; close without an answer
            if behavior.delay_s:
                self._release.wait(behavior.delay_s)
            status, payload, content_type, *more = self.respond(request, model, behavior)
            extra = {**behavior.headers, **(more[0] if more else {})}
        try:
            handler.send_response(status)
            handler.send_header("content-type", content_type)
            handler.send_header("content-length", str(len(payload)))
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST
            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def encode_body(body: bytes | dict[str, Any] | list[Any], content_type: str | None) -> tuple[bytes, str]:
    """JSON-encode dicts and lists; pass bytes through."""
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode(), content_type or "application/json"
    return body, content_type or "application/octet-stream"

