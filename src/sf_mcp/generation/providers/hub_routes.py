"""Which Inference Provider serves a model: the Hub's ``inferenceProviderMapping``, asked with the token.

huggingface_hub 2.4 looks the mapping up itself inside every inference call,
but without a way to pass a token (it reads only ``HF_TOKEN`` or the saved
login), blocking the event loop, cached forever, and with an empty mapping it
ends in ``StopIteration``. Asking first, here, with ``SF_HF_TOKEN``, in a
worker thread, gives each failure its own meaning:

- the token is rejected (401 "Invalid credentials") -> CONFIG;
- the repo is missing, private or gated for this account -> UNSUPPORTED, named so;
- no provider serves the model (empty mapping) -> UNSUPPORTED "no inference provider serves MODEL";
- the configured provider does not serve it, or not for this task -> UNSUPPORTED, naming who does.

Answers are cached for ``ttl_s`` (the mapping changes when providers come and go).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from sf_mcp.generation.base import ErrorClass, ProviderError
from sf_mcp.generation.providers._status import classify_status, retry_after_s

__all__ = ["HubRoute", "HubRoutes", "KNOWN_PROVIDERS"]


def _known_providers() -> frozenset[str]:
    try:
        from huggingface_hub.inference._providers import PROVIDERS
    except ImportError:  # a future layout: trust the Hub's mapping
        return frozenset()
    return frozenset(PROVIDERS)


KNOWN_PROVIDERS = _known_providers()  # the routes this huggingface_hub can speak


@dataclass(frozen=True)
class HubRoute:
    """One provider's offer of one model for one task, as the Hub lists it."""

    model: str
    provider: str  # the Inference Provider, e.g. "fal-ai", "nscale", "hf-inference"
    provider_id: str  # the model's id on the provider's side
    task: str
    status: str  # "live" | "staging" | "error" (the Hub's last health check failed)


class HubRoutes:
    """Look up and choose routes; ``preferred`` is the configured provider or ``auto``."""

    def __init__(self, *, token: str | None, preferred: str = "auto", ttl_s: float = 600.0,
                 timeout_s: float = 20.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token
        self._preferred = preferred
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._cache: dict[str, tuple[float, list[HubRoute]]] = {}

    async def offers(self, model: str) -> list[HubRoute]:
        """Every provider's offer for ``model`` in the account's provider order; ProviderError when unknowable."""
        cached = self._cache.get(model)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        routes = await anyio.to_thread.run_sync(self._lookup, model, abandon_on_cancel=True)
        self._cache[model] = (self._clock() + self._ttl_s, routes)
        return routes

    async def choose(self, model: str, task: str) -> HubRoute:
        """The route a generation of ``task`` with ``model`` will take, or ProviderError saying why there is none."""
        return choose(model, task, await self.offers(model), preferred=self._preferred)

    def _lookup(self, model: str) -> list[HubRoute]:
        # A provider's own key (a fal or replicate key given as the token) is not for the Hub: look up without it.
        api = HfApi(token=self._token if self._token and self._token.startswith("hf_") else False)
        try:
            info = api.model_info(model, expand=["inferenceProviderMapping"], timeout=self._timeout_s)
        except GatedRepoError:
            raise ProviderError(f"{model} is gated on the Hub: accept its conditions on the model page "
                                "with the token's account", error_class=ErrorClass.UNSUPPORTED) from None
        except RepositoryNotFoundError:
            where = "for this token" if self._token else "without a token (set SF_HF_TOKEN)"
            raise ProviderError(f"{model} is not a model on the Hugging Face Hub, or it is private {where}",
                                error_class=ErrorClass.UNSUPPORTED) from None
        except HfHubHTTPError as exc:
            raise self._http_error(exc, model) from None
        except httpx2.TimeoutException:
            raise ProviderError(f"the Hub did not answer the provider lookup of {model} in time",
                                error_class=ErrorClass.TIMEOUT) from None
        except httpx2.TransportError as exc:
            raise ProviderError(f"cannot reach the Hub to look up {model}: {type(exc).__name__}",
                                error_class=ErrorClass.UNAVAILABLE) from None
        return [HubRoute(model=model, provider=m.provider, provider_id=m.provider_id, task=m.task, status=m.status)
                for m in info.inference_provider_mapping or []]

    def _http_error(self, exc: HfHubHTTPError, model: str) -> ProviderError:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (401, 403):
            return ProviderError(f"Hugging Face rejected the token (HTTP {status}) looking up {model}: check "
                                 "SF_HF_TOKEN / HF_TOKEN", error_class=ErrorClass.CONFIG)
        wait = retry_after_s(exc.response.headers) if exc.response is not None else None
        return ProviderError(f"the Hub answered HTTP {status} looking up {model}",
                             error_class=classify_status(status, ""), retry_after_s=wait)


def choose(model: str, task: str, offers: Sequence[HubRoute], *, preferred: str = "auto") -> HubRoute:
    """Pick the route like the hub client's ``auto`` would, but say plainly why nothing fits.

    Live offers come first, in the account's order; an offer whose last health check
    failed is still tried after them; staging offers (test-only) are never chosen.
    """
    if not offers:
        raise ProviderError(f"no inference provider serves {model}", error_class=ErrorClass.UNSUPPORTED)
    for_task = [o for o in offers if o.task == task]
    if not for_task:
        tasks = ", ".join(sorted({o.task for o in offers}))
        raise ProviderError(f"{model} is served for {tasks}, not {task}", error_class=ErrorClass.UNSUPPORTED)
    usable = [o for o in for_task if o.status != "staging" and (not KNOWN_PROVIDERS or o.provider in KNOWN_PROVIDERS)]
    if preferred != "auto":
        usable = [o for o in usable if o.provider == preferred]
        if not usable:
            who = ", ".join(o.provider for o in for_task)
            raise ProviderError(f"{model} is not served by {preferred} (SF_HF_PROVIDER) for {task}; "
                                f"it is by: {who}", error_class=ErrorClass.UNSUPPORTED)
    if not usable:
        who = ", ".join(f"{o.provider} ({o.status})" for o in for_task)
        raise ProviderError(f"no provider this client can call serves {model} for {task}: {who}",
                            error_class=ErrorClass.UNSUPPORTED)
    return sorted(usable, key=lambda o: o.status != "live")[0]
