"""The server's own cost per generated image: validation, storing, the inline preview, beside their floor.

For a photo-like picture (gradients and noise, so it compresses like a model's
output, not like a flat test card) at 1024 and 512 px, as PNG (what the Hugging
Face provider re-encodes to) and as JPEG (what many providers send), it times
what the server does with a provider's bytes:

- validate: ``validate_media`` (format, size, a decode bounded to prove the bytes are sound);
- store: ``LocalContentStore.put`` into a temporary folder (hash + atomic write);
- read: ``ContentStore.get`` (the tool reads the stored bytes back, integrity checked);
- preview: ``make_preview`` at the server's default 256 px.

The floor is what storing the bytes costs at the least: one sha256 and one
write of the file, measured in the same run. Targets (issue 13): overhead per
1024 px image <= 10 ms, per 512 px <= 4 ms. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_media.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sf_mcp.generation import GeneratedMedia, GenerationKind  # noqa: E402
from sf_mcp.generation.content import LocalContentStore  # noqa: E402
from sf_mcp.generation.media import make_preview, validate_media  # noqa: E402

PREVIEW_PX = 256


def picture(side: int, fmt: str) -> bytes:
    """A deterministic photo-like picture: a colour gradient with per-pixel noise."""
    gradient = Image.linear_gradient("L").resize((side, side))
    noise = Image.effect_noise((side, side), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.rotate(90)))
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG", compress_level=3)
    else:
        image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(data: bytes, rounds: int, root: Path) -> dict[str, float]:
    store = LocalContentStore(root)
    media = GeneratedMedia(data=data, mime_type="application/octet-stream", provider="bench", model="bench")
    steps: dict[str, list[float]] = {"validate": [], "store": [], "read": [], "preview": [], "floor": []}
    for i in range(rounds):
        for path in root.rglob("*"):  # every round stores afresh: a present object would skip the write
            if path.is_file():
                path.unlink()
        t = time.perf_counter()
        checked = validate_media(media, GenerationKind.IMAGE)
        steps["validate"].append(time.perf_counter() - t)
        t = time.perf_counter()
        stored = await store.put(checked.data, checked.mime_type)
        steps["store"].append(time.perf_counter() - t)
        t = time.perf_counter()
        back, _ = await store.get(stored.sha256)
        steps["read"].append(time.perf_counter() - t)
        t = time.perf_counter()
        make_preview(back, PREVIEW_PX)
        steps["preview"].append(time.perf_counter() - t)
        t = time.perf_counter()
        digest = hashlib.sha256(data).hexdigest()
        target = root / f"floor-{i}-{digest[:8]}"
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        steps["floor"].append(time.perf_counter() - t)
    return {name: median_ms(values) for name, values in steps.items()}


async def main(rounds: int) -> None:
    print("All figures are medians from this one run on a shared machine; compare with the floor of the same run.")
    print(f"{'image':<14}{'bytes':>10}{'validate':>10}{'store':>8}{'read':>8}{'preview':>9}{'overhead':>10}"
          f"{'floor':>8}{'x floor':>9}{'target':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for side, target in ((1024, 10.0), (512, 4.0)):
            for fmt in ("PNG", "JPEG"):
                data = picture(side, fmt)
                ms = await measure(data, rounds, Path(tmp))
                overhead = ms["validate"] + ms["store"] + ms["read"] + ms["preview"]
                print(f"{f'{side} px {fmt}':<14}{len(data):>10}{ms['validate']:>10.1f}{ms['store']:>8.1f}"
                      f"{ms['read']:>8.1f}{ms['preview']:>9.1f}{overhead:>10.1f}{ms['floor']:>8.1f}"
                      f"{overhead / ms['floor']:>8.1f}x{target:>7.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    anyio.run(main, parser.parse_args().rounds)
