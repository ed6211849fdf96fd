"""``sf-mcp providers check``: what a generation will actually use, asked of the services themselves.

For each configured Hugging Face model the Hub's provider mapping is read with
the user's token (which provider serves it, for which task, in the account's
order); each Workers AI model is looked up in the account's catalogue
(``ai/models/search``, no neurons spent); both are listed with the limits sf-mcp
fits to. With ``live`` (only when the user asks: it costs a little), each
provider gets one tiny request with its first servable model. ``serve`` runs
the same lookup at start, in the background, and logs a warning for every
configured model that no provider serves.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import anyio

from sf_mcp.config import Settings
from sf_mcp.generation.base import GenerationKind, GenerationRequest, Provider, ProviderError
from sf_mcp.generation.fitting import limits_for
from sf_mcp.generation.providers import build_providers

__all__ = ["ModelCheck", "ProvidersReport", "check_providers", "render_report", "warn_unserved_in_background"]

log = logging.getLogger(__name__)

_TASK = {GenerationKind.IMAGE: "text-to-image", GenerationKind.VIDEO: "text-to-video"}
_TINY = "a small red circle on white"


@dataclass
class ModelCheck:
    """One configured model: where it would go, or why it would be skipped."""

    provider: str
    kind: GenerationKind
    model: str
    route: str | None = None  # e.g. "nscale (black-forest-labs/FLUX.1-schnell), live"
    via: str | None = None  # the Inference Provider a Hugging Face model goes to
    problem: str | None = None  # why a generation would skip it
    limits: str = ""


@dataclass
class ProvidersReport:
    models: list[ModelCheck] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)  # provider -> outcome of its tiny request

    def plan(self, kind: GenerationKind) -> list[str]:
        """The attempts a generation of ``kind`` will make, in order."""
        return [f"{m.provider}/{m.model}" + (f" via {m.via}" if m.via else "")
                for m in self.models if m.kind is kind and m.problem is None]


async def check_providers(settings: Settings, *, live: bool = False) -> ProvidersReport:
    """Look every configured model up (and, with ``live``, call each provider once)."""
    providers, left_out = build_providers(settings)
    report = ProvidersReport(left_out=left_out)
    try:
        for provider in providers:
            for kind in GenerationKind:
                for model in provider.models(kind):
                    report.models.append(await _check_model(provider, kind, model))
        if live:
            for provider in providers:
                report.live[provider.name] = await _try_once(provider, report)
    finally:
        for provider in providers:
            await provider.aclose()
    return report


async def _check_model(provider: Provider, kind: GenerationKind, model: str) -> ModelCheck:
    check = ModelCheck(provider=provider.name, kind=kind, model=model)
    routes = getattr(provider, "routes", None)  # Hugging Face through Inference Providers
    if routes is not None and not getattr(provider, "uses_endpoint", True):
        try:
            route = await routes.choose(model, _TASK[kind])
        except ProviderError as exc:
            check.problem = f"{exc} [{exc.error_class}]"
            return check
        others = [o.provider for o in await routes.offers(model)
                  if o.task == route.task and o.provider != route.provider]
        check.via = route.provider
        check.route = f"{route.provider} ({route.provider_id}), {route.status}"
        if others:
            check.route += f"; also {', '.join(others)}"
        check.limits = limits_for(route.provider, model, kind).source
    elif provider.name == "cloudflare":
        try:
            task = await provider.find(model)  # type: ignore[attr-defined]
        except ProviderError as exc:
            check.problem = f"{exc} [{exc.error_class}]"
            return check
        check.route = f"Workers AI ({task})"
        check.limits = limits_for("cloudflare", model, kind).source or "no published schema known to sf-mcp"
    else:
        check.route = provider.describe()
    return check


async def _try_once(provider: Provider, report: ProvidersReport) -> str:
    """One tiny image with the provider's first servable model: "ok ..." or the error class and message."""
    model = next((m.model for m in report.models if m.provider == provider.name and m.problem is None
                  and m.kind is GenerationKind.IMAGE), None)
    if model is None:
        return "not tried: no servable image model"
    request = GenerationRequest(kind=GenerationKind.IMAGE, prompt=_TINY, width=256, height=256, steps=1)
    started = time.perf_counter()
    try:
        with anyio.fail_after(120):
            media = await provider.generate(request, model=model)
    except ProviderError as exc:
        return f"{model}: {exc.error_class}: {exc}"
    except TimeoutError:
        return f"{model}: timeout: no answer within 120 s"
    return f"{model}: ok, {len(media.data)} bytes in {(time.perf_counter() - started) * 1000:.0f} ms"


def render_report(report: ProvidersReport) -> str:
    """The report as text for a terminal."""
    lines: list[str] = []
    for kind in GenerationKind:
        rows = [m for m in report.models if m.kind is kind]
        lines.append(f"{kind.value} models, in the order a generation tries them:")
        if not rows:
            lines.append("  (none)")
        for m in rows:
            verdict = f"-> {m.route}" if m.problem is None else f"SKIPPED: {m.problem}"
            lines.append(f"  {m.provider}/{m.model} {verdict}")
            if m.limits and m.problem is None:
                lines.append(f"      limits: {m.limits}")
        plan = report.plan(kind)
        lines.append("  a generation will use: " + (" -> ".join(plan) if plan else "NOTHING (no model is served)"))
        lines.append("")
    for name, reason in report.left_out.items():
        lines.append(f"left out: {name}: {reason}")
    for name, outcome in report.live.items():
        lines.append(f"live request, {name}: {outcome}")
    return "\n".join(lines).rstrip() + "\n"


def warn_unserved_in_background(settings: Settings) -> threading.Thread | None:
    """Log a warning for each configured model no provider serves, without holding up start-up.

    Only Inference Providers have a mapping to ask; without a Hugging Face token (or with
    a dedicated endpoint) there is nothing to look up and no thread is started.
    """
    if settings.providers.hf_token is None or settings.providers.hf_base_url:
        return None

    def run() -> None:
        try:
            report = anyio.run(check_providers, settings)
        except Exception as exc:  # a check that cannot run must never stop the server
            log.warning("could not check the configured models: %s", exc)
            return
        for m in report.models:
            if m.problem is not None:
                log.warning("configured %s model %s will be skipped: %s", m.kind.value, m.model, m.problem)

    thread = threading.Thread(target=run, name="sf-mcp-providers-check", daemon=True)
    thread.start()
    return thread
