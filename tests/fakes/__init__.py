"""Reusable loopback fakes of the model APIs (the Hugging Face Hub and router, hf-inference endpoints, Workers AI).

Real HTTP servers on 127.0.0.1, programmable per model and recording every
request; import them as ``from fakes import FakeHuggingFace`` with ``tests/`` on
``sys.path`` (the generation tests' conftest makes sure of it).
"""

from fakes._server import Behavior, LoopbackServer, RecordedRequest
from fakes.cloudflare import FakeCloudflare
from fakes.hub import FakeHub, offer, route_hub_to
from fakes.huggingface import FakeHuggingFace
from fakes.media import tiny_mp4, tiny_png

__all__ = [
    "Behavior",
    "FakeCloudflare",
    "FakeHub",
    "FakeHuggingFace",
    "LoopbackServer",
    "RecordedRequest",
    "offer",
    "route_hub_to",
    "tiny_mp4",
    "tiny_png",
]
