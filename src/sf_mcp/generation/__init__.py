"""Generation: providers behind one interface, the fallback chain over them, and the content store.

The rest of sf-mcp uses only the names in ``__all__``: build the chain and the
store from the settings, clean the prompt, run the chain, store the media,
make a preview. Only ``generation.providers`` talks to model APIs.
"""

from __future__ import annotations

import logging

from sf_mcp.config import Settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation.base import (
    Attempt,
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Preview,
    Provider,
    ProviderError,
)
from sf_mcp.generation.chain import BreakerState, CircuitBreaker, FallbackChain, GenerationOutcome
from sf_mcp.generation.check import ProvidersReport, check_providers, render_report, warn_unserved_in_background
from sf_mcp.generation.content import (
    ContentStore,
    LocalContentStore,
    S3ContentStore,
    StoredContent,
    build_content_store,
    content_uri,
    parse_sha256,
)
from sf_mcp.generation.media import make_preview, validate_media
from sf_mcp.generation.providers import build_providers, local_renderer_enabled

__all__ = [
    "Attempt",
    "BreakerState",
    "CircuitBreaker",
    "ContentStore",
    "ErrorClass",
    "FallbackChain",
    "GeneratedMedia",
    "GenerationKind",
    "GenerationOutcome",
    "GenerationRequest",
    "LocalContentStore",
    "Preview",
    "Provider",
    "ProviderError",
    "ProvidersReport",
    "S3ContentStore",
    "StoredContent",
    "build_content_store",
    "build_provider_chain",
    "build_providers",
    "check_providers",
    "local_renderer_enabled",
    "content_uri",
    "make_preview",
    "parse_sha256",
    "render_report",
    "validate_media",
    "warn_unserved_in_background",
]

log = logging.getLogger(__name__)


def build_provider_chain(settings: Settings, *, dev_chain: bool | None = None) -> FallbackChain:
    """The fallback chain for these settings; ConfigError when no provider at all is enabled."""
    providers, left_out = build_providers(settings, dev_chain=dev_chain)
    for name, reason in left_out.items():
        log.info("generation provider %s left out: %s", name, reason)
    if not providers:
        raise ConfigError(
            "no generation provider is enabled: set SF_HF_TOKEN (or SF_HF_BASE_URL), or "
            "SF_CLOUDFLARE_ACCOUNT_ID with SF_CLOUDFLARE_API_TOKEN, or SF_LOCAL_RENDERER=true"
        )
    chain = FallbackChain(
        providers,
        attempt_timeout_s=settings.providers.attempt_timeout_s,
        deadline_s=settings.providers.generation_deadline_s,
        breaker_failures=settings.providers.breaker_failures,
        breaker_cooldown_s=settings.providers.breaker_cooldown_s,
        video_attempt_timeout_s=settings.providers.video_attempt_timeout_s,
        video_deadline_s=settings.providers.video_deadline_s,
        left_out=left_out,
        preview_px=settings.providers.preview_max_px,
    )
    log.info("generation chain: %s", " -> ".join(p.name for p in providers))
    return chain
