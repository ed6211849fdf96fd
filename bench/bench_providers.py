"""Benchmark the generation layer: falling back past a dead provider, and the server's own cost per image.

Run: ``.venv/bin/python bench/bench_providers.py`` (about 15 s, offline: the dead
provider is a loopback fake that accepts connections and never answers).

1. Fallback: a Hugging Face provider whose three models all hang, then the
   local renderer. With the circuit closed each request pays one per-attempt
   timeout per model; once the breaker is open the provider is skipped without
   a call. A provider that refuses connections is shown for comparison.
2. Overhead per image, everything the server does to a provider's bytes:
   decode + validate, SHA-256, store (local content store), preview. The hub
   client hands back a PIL image; the provider takes the bytes it still holds
   ("hf bytes") instead of re-encoding a PNG, whose cost is shown for comparison.
3. Inference Providers through the real hub client against the loopback Hub +
   router: the first image (the provider mapping is looked up) against later
   ones (cached), and the cost of the blacked-out-image check.
"""

from __future__ import annotations

import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes import FakeHuggingFace  # noqa: E402

from sf_mcp.generation import (  # noqa: E402
    FallbackChain,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    LocalContentStore,
    make_preview,
    validate_media,
)
from sf_mcp.generation.providers.huggingface import HuggingFaceProvider, _image_bytes  # noqa: E402
from sf_mcp.generation.providers.local import LocalRenderer  # noqa: E402

MODELS = ["black-forest-labs/FLUX.1-schnell", "black-forest-labs/FLUX.1-dev",
          "stabilityai/stable-diffusion-3-medium-diffusers"]
ATTEMPT_TIMEOUT_S = 1.0
REQUEST = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a lighthouse in a storm", width=512, height=512,
                            seed=1)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def time_run(chain: FallbackChain) -> tuple[float, str]:
    started = time.perf_counter()
    outcome = await chain.run(REQUEST)
    elapsed = time.perf_counter() - started
    trail = " -> ".join(f"{a.provider}:{a.error_class or a.outcome}" for a in outcome.attempts)
    return elapsed, trail


async def bench_fallback() -> None:
    print(f"1. Falling back past a dead Hugging Face provider (3 models, per-attempt timeout {ATTEMPT_TIMEOUT_S:g} s,"
          " breaker opens after 3 failures), then the local renderer at 512 px")
    local_only = FallbackChain([LocalRenderer()], attempt_timeout_s=ATTEMPT_TIMEOUT_S, deadline_s=60,
                               breaker_failures=3, breaker_cooldown_s=600)
    baseline = statistics.median([(await time_run(local_only))[0] for _ in range(10)])
    print(f"   local renderer alone (baseline)            {ms(baseline)}")

    with FakeHuggingFace() as fake:
        for model in MODELS:
            fake.hang(model)
        hf = HuggingFaceProvider(image_models=MODELS, base_url=fake.base_url)
        chain = FallbackChain([hf, LocalRenderer()], attempt_timeout_s=ATTEMPT_TIMEOUT_S, deadline_s=60,
                              breaker_failures=3, breaker_cooldown_s=600)
        closed, trail = await time_run(chain)
        print(f"   hanging provider, breaker closed            {ms(closed)}   {trail}")
        sent = len(fake.requests)
        open_runs = [await time_run(chain) for _ in range(10)]
        print(f"   hanging provider, breaker open (median/10)  {ms(statistics.median(t for t, _ in open_runs))}"
              f"   {open_runs[0][1]}; requests sent while open: {len(fake.requests) - sent}")

    with FakeHuggingFace() as gone:
        base = gone.base_url
    refused = FallbackChain([HuggingFaceProvider(image_models=MODELS, base_url=base), LocalRenderer()],
                            attempt_timeout_s=ATTEMPT_TIMEOUT_S, deadline_s=60, breaker_failures=3,
                            breaker_cooldown_s=600)
    elapsed, trail = await time_run(refused)
    print(f"   refusing connections, breaker closed        {ms(elapsed)}   {trail}")


def provider_png(side: int) -> bytes:
    """A PNG that compresses like a model's picture (smooth gradients plus grain), not like a flat test card."""
    gradient = Image.linear_gradient("L").resize((side, side))
    noise = Image.effect_noise((side, side), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.rotate(90)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def bench_overhead() -> None:
    print("\n2. Server overhead per image (median of 20; store = local content store on this disk)")
    print(f"   {'size':>6} {'bytes':>9} {'re-encode':>11} {'hf bytes':>11} {'validate':>11} {'sha256':>11} {'store':>11}"
          f" {'preview':>11} {'total*':>11} {'preview bytes':>14}")
    with tempfile.TemporaryDirectory() as root:
        store = LocalContentStore(root)
        for side in (512, 1024):
            data = provider_png(side)
            pil = Image.open(io.BytesIO(data))
            pil.load()
            keys = ("encode", "hf", "validate", "hash", "store", "preview")
            timings: dict[str, list[float]] = {k: [] for k in keys}
            preview = b""
            for index in range(20):
                t0 = time.perf_counter()
                out = io.BytesIO()
                pil.save(out, format="PNG", compress_level=3)
                t1 = time.perf_counter()
                _image_bytes(Image.open(io.BytesIO(data)))  # what HuggingFaceProvider does with the hub's image
                t1b = time.perf_counter()
                media = validate_media(GeneratedMedia(data=data, mime_type="image/png", provider="bench",
                                                      model="bench"), GenerationKind.IMAGE)
                t2 = time.perf_counter()
                hashlib.sha256(media.data).hexdigest()
                t3 = time.perf_counter()
                await store.put(media.data + index.to_bytes(4, "big"), media.mime_type)  # a fresh object each time
                t4 = time.perf_counter()
                preview, _ = make_preview(media.data, 256)
                t5 = time.perf_counter()
                for key, value in zip(keys, (t1 - t0, t1b - t1, t2 - t1b, t3 - t2, t4 - t3, t5 - t4), strict=True):
                    timings[key].append(value)
            med = {k: statistics.median(v) for k, v in timings.items()}
            total = med["hf"] + med["validate"] + med["hash"] + med["store"] + med["preview"]
            print(f"   {side:>4}px {len(data):>9} {ms(med['encode']):>11} {ms(med['hf']):>11} {ms(med['validate']):>11}"
                  f" {ms(med['hash']):>11} {ms(med['store']):>11} {ms(med['preview']):>11} {ms(total):>11}"
                  f" {len(preview):>14}")
    print("   * total = hf bytes + validate + sha256 + store + preview (store hashes again); re-encode is avoided")


async def bench_inference_providers() -> None:
    """The real hub client against the loopback Hub + router: what routing and the checks add per image."""
    from fakes import FakeHub, offer, route_hub_to

    from sf_mcp.generation.safety import is_blacked_out

    print("\n3. Inference Providers through the real hub client, loopback Hub + router (nscale route, 512 px)")
    model = MODELS[0]
    token = "hf_bench_token"
    request = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a lighthouse", width=512, height=512, steps=30)
    with FakeHub(token=token, models={model: [offer("nscale", model)]}) as hub, route_hub_to(hub):
        hf = HuggingFaceProvider(image_models=[model], token=token)
        chain = FallbackChain([hf], attempt_timeout_s=30, deadline_s=60, breaker_failures=3, breaker_cooldown_s=60)
        first, _ = await time_run_request(chain, request)
        lookups = sum("/api/models/" in r.path for r in hub.calls("hub-api"))
        warm = statistics.median([(await time_run_request(chain, request))[0] for _ in range(20)])
        print(f"   first image (provider mapping looked up)    {ms(first)}   Hub lookups: {lookups}")
        since = sum("/api/models/" in r.path for r in hub.calls("hub-api")) - lookups
        print(f"   next images (mapping cached, median/20)     {ms(warm)}   Hub lookups since: {since}")
    for side in (512, 1024):
        data = provider_png(side)
        took = statistics.median(_timed(is_blacked_out, data) for _ in range(20))
        print(f"   blacked-out check, a picture, {side:>4} px      {ms(took)}   (too large to be uniform: not decoded)")
    black = io.BytesIO()
    Image.new("RGB", (1024, 1024), (0, 0, 0)).save(black, "PNG")
    took = statistics.median(_timed(is_blacked_out, black.getvalue()) for _ in range(20))
    print(f"   blacked-out check, a black square, 1024 px  {ms(took)}   (decoded)")


async def time_run_request(chain: FallbackChain, request: GenerationRequest) -> tuple[float, str]:
    started = time.perf_counter()
    outcome = await chain.run(request)
    return time.perf_counter() - started, outcome.attempts[-1].message or ""


def _timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


async def main() -> None:
    started = time.perf_counter()
    await bench_fallback()
    await bench_overhead()
    await bench_inference_providers()
    print(f"\nbench finished in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    anyio.run(main)
