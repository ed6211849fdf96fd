"""Fit a request to one model's published limits before it is sent, and say what changed.

The tools accept one range for every model (steps up to 100, sides 64..2048),
but each model and provider route takes less: Workers AI's FLUX.1 schnell takes
a prompt and at most 8 steps and draws 1024x1024 whatever is asked, SDXL there
wants sides of 256..2048 and at most 20 steps, fal's FLUX.1 schnell 1..12
steps, nscale no steps at all. Sending the raw values makes the service answer
400, which used to end the chain as a "refused prompt". Here the values are
clamped to the limits of the route, and the changes become one sentence that
the result carries (the successful attempt's message), so the user knows why
the image is 1024x1024 when 1920x1080 was asked.

Limits come from the providers' published schemas (Workers AI's model JSON
schemas, fal's model API pages, the huggingface_hub provider helpers, which
drop what a route does not accept); a (route, model) pair with no entry is
sent as asked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sf_mcp.generation.base import GenerationKind, GenerationRequest

__all__ = ["Limits", "fit", "limits_for"]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one model on one route accepts; ``None`` for a range means "not accepted at all"."""

    steps: tuple[int, int] | None = (1, 100)
    side: tuple[int, int] | None = (64, 2048)
    multiple_of: int = 1  # both sides are rounded down to this
    fixed_size: tuple[int, int] | None = None  # what the model draws when it takes no size
    seed: bool = True
    negative_prompt: bool = True
    max_prompt_chars: int | None = None
    source: str = ""  # where these limits are published, for the notice and the README


_ANY = Limits()

# Diffusers' FLUX and SD3 pipelines work on sides divisible by 16 (8x VAE, 2x2 patches) and
# round other sizes down themselves; doing it here lets the notice say so.
_FLUX_HF = Limits(multiple_of=16, source="FLUX pipelines work on multiples of 16")

# (route, model) -> limits. The route is the Inference Provider (or "cloudflare", "hf-endpoint").
_TABLE: dict[tuple[str, str], Limits] = {
    ("cloudflare", "@cf/black-forest-labs/flux-1-schnell"): Limits(
        steps=(1, 8), side=None, fixed_size=(1024, 1024), seed=False, negative_prompt=False,
        max_prompt_chars=2048, source="Workers AI schema of flux-1-schnell: prompt (max 2048), steps (max 8)"),
    ("cloudflare", "@cf/stabilityai/stable-diffusion-xl-base-1.0"): Limits(
        steps=(1, 20), side=(256, 2048), source="Workers AI schema of stable-diffusion-xl-base-1.0"),
    ("fal-ai", "black-forest-labs/FLUX.1-schnell"): Limits(
        steps=(1, 12), multiple_of=16, source="fal-ai/flux/schnell: num_inference_steps 1..12"),
    ("fal-ai", "black-forest-labs/FLUX.1-dev"): Limits(
        steps=(1, 50), multiple_of=16, source="fal-ai/flux/dev: num_inference_steps 1..50"),
    ("nscale", "black-forest-labs/FLUX.1-schnell"): Limits(
        steps=None, multiple_of=16, source="nscale images API: no steps (the hub client drops them)"),
    ("hf-inference", "black-forest-labs/FLUX.1-schnell"): _FLUX_HF,
    ("hf-inference", "black-forest-labs/FLUX.1-dev"): _FLUX_HF,
    ("hf-inference", "stabilityai/stable-diffusion-3-medium-diffusers"): Limits(
        multiple_of=16, source="SD3 pipelines work on multiples of 16"),
}


def limits_for(route: str, model: str, kind: GenerationKind) -> Limits:
    """The limits of ``model`` on ``route``; anything goes for a pair nobody published."""
    if kind is not GenerationKind.IMAGE:
        return _ANY
    if route == "nscale":  # every nscale image model: the route has no steps parameter
        return _TABLE.get((route, model), Limits(steps=None, source="nscale images API: no steps"))
    return _TABLE.get((route, model), _ANY)


def fit(request: GenerationRequest, limits: Limits, *, label: str) -> tuple[GenerationRequest, str | None]:
    """``request`` within ``limits`` and one sentence naming every change (None when nothing changed)."""
    changes: list[str] = []
    changed: dict[str, object] = {}
    if request.kind is GenerationKind.IMAGE:
        _fit_size(request, limits, changes, changed)
    if request.steps is not None:
        if limits.steps is None:
            changes.append(f"steps ({request.steps}) is not taken by {label}; the model's default was used")
            changed["steps"] = None
        else:
            low, high = limits.steps
            steps = min(max(request.steps, low), high)
            if steps != request.steps:
                changes.append(f"steps {request.steps} -> {steps} ({label} allows {low}..{high})")
                changed["steps"] = steps
    if request.seed is not None and not limits.seed:
        changes.append(f"{label} takes no seed, so the result is not reproducible")
        changed["seed"] = None
    if request.negative_prompt and not limits.negative_prompt:
        changes.append(f"{label} takes no negative prompt; it was left out")
        changed["negative_prompt"] = None
    if limits.max_prompt_chars is not None and len(request.prompt) > limits.max_prompt_chars:
        changes.append(f"the prompt was cut to {limits.max_prompt_chars} characters for {label}")
        changed["prompt"] = request.prompt[: limits.max_prompt_chars]
    if not changes:
        return request, None
    return dataclasses.replace(request, **changed), "Fitted to the model: " + "; ".join(changes) + "."  # type: ignore[arg-type]


def _fit_size(request: GenerationRequest, limits: Limits, changes: list[str], changed: dict[str, object]) -> None:
    asked = (request.width, request.height)
    if limits.side is None:
        if limits.fixed_size is not None and limits.fixed_size != asked:
            w, h = limits.fixed_size
            changes.append(f"the size is fixed at {w}x{h} for this model ({asked[0]}x{asked[1]} was asked)")
            changed["width"], changed["height"] = w, h
        return
    low, high = limits.side
    step = limits.multiple_of
    width, height = (max(low, min(high, side)) // step * step for side in asked)
    width, height = max(width, low), max(height, low)
    if (width, height) != asked:
        why = f"sides {low}..{high}" + (f", multiples of {step}" if step > 1 else "")
        changes.append(f"size {asked[0]}x{asked[1]} -> {width}x{height} ({why})")
        changed["width"], changed["height"] = width, height
