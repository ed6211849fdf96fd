"""The model providers (each behind ``generation.base.Provider``) and which of them the settings enable."""

from __future__ import annotations

from sf_mcp.config import Settings
from sf_mcp.generation.base import Provider
from sf_mcp.generation.providers.cloudflare import CloudflareProvider
from sf_mcp.generation.providers.huggingface import HuggingFaceProvider
from sf_mcp.generation.providers.local import LocalRenderer

__all__ = ["CloudflareProvider", "HuggingFaceProvider", "LocalRenderer", "build_providers", "local_renderer_enabled"]


def local_renderer_enabled(settings: Settings, *, dev_chain: bool) -> bool:
    """The offline renderer is the last provider on development chains unless switched off."""
    local = settings.providers.local_renderer
    return dev_chain if local is None else local


def build_providers(settings: Settings, *, dev_chain: bool | None = None) -> tuple[list[Provider], dict[str, str]]:
    """The providers the settings enable, in chain order, and why each other one was left out.

    Hugging Face needs a token or a base URL, Cloudflare an account id and a
    token; the local renderer is on for development chains (``dev_chain``, default: the
    embedded chain) unless SF_LOCAL_RENDERER=false.
    """
    dev = settings.chain.embedded if dev_chain is None else dev_chain
    providers: list[Provider] = []
    left_out: dict[str, str] = {}
    if settings.providers.hf_token is not None or settings.providers.hf_base_url:
        providers.append(HuggingFaceProvider.from_settings(settings))
    else:
        left_out["huggingface"] = "no SF_HF_TOKEN / HF_TOKEN and no SF_HF_BASE_URL"
    if settings.providers.cloudflare_account_id and settings.providers.cloudflare_api_token is not None:
        providers.append(CloudflareProvider.from_settings(settings))
    else:
        left_out["cloudflare"] = "needs both SF_CLOUDFLARE_ACCOUNT_ID and SF_CLOUDFLARE_API_TOKEN"
    if local_renderer_enabled(settings, dev_chain=dev):
        providers.append(LocalRenderer())
    else:
        left_out["local"] = "SF_LOCAL_RENDERER=false (or not embedded mode)"
    return providers, left_out
