"""The fallback chain: try every provider's models in order until one returns valid media.

Policy, per attempt:

- TIMEOUT, UNAVAILABLE, RATE_LIMITED, BAD_OUTPUT -> try the next model;
- UNSUPPORTED, INVALID_INPUT -> try the next model: this model is unknown, not
  served, not open to this account, or rejected a parameter; another may serve;
- REFUSED -> stop at once and raise :class:`~sf_mcp.errors.PromptRefused`: only a
  documented content-policy refusal is classed so, and every model would refuse too;
- CONFIG -> skip the rest of that provider (its token is wrong for every model).

Each provider has a circuit breaker: after ``breaker_failures`` health failures
in a row (timeouts, 5xx, 429, bad output, a rejected token) it is skipped without
a call (recorded as ``skipped`` / CIRCUIT_OPEN) until ``breaker_cooldown_s`` has
passed; then one trial call is let through (half-open) and its result closes or
re-opens the circuit. A model's own problem (unknown, unserved, a parameter it
rejects) says nothing about the provider and is not counted. A 429 with a
``Retry-After`` holds the provider for that long, whatever the count. The
overall ``deadline_s`` bounds the whole run, whatever the number of models.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio

from sf_mcp.errors import GenerationError, PromptRefused
from sf_mcp.generation.base import (
    Attempt,
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Provider,
    ProviderError,
)
from sf_mcp.generation.media import validate_media
from sf_mcp.generation.safety import BLACKED_OUT, is_blacked_out

__all__ = ["BreakerState", "CircuitBreaker", "FallbackChain", "GenerationOutcome"]

log = logging.getLogger(__name__)

OnAttempt = Callable[[Attempt], Awaitable[None]]

# Failures that say something about the provider's health. A refusal, an unknown model
# or a parameter one model rejects says nothing about it: those neither open nor close the circuit.
_HEALTH_FAILURES = frozenset(
    {ErrorClass.TIMEOUT, ErrorClass.UNAVAILABLE, ErrorClass.RATE_LIMITED, ErrorClass.CONFIG, ErrorClass.BAD_OUTPUT}
)


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through; failures are counted
    OPEN = "open"  # calls are skipped until the cool-down has passed
    HALF_OPEN = "half_open"  # one trial call is in flight; others are skipped


class CircuitBreaker:
    """Consecutive-failure breaker for one provider; ``clock`` is injectable for tests."""

    def __init__(self, *, failures: int, cooldown_s: float, clock: Callable[[], float]) -> None:
        self._threshold = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._open_until: float | None = None  # None: closed
        self._trial_in_flight = False
        self.reason = ""  # why the circuit is open, for the skipped attempt's message

    @property
    def state(self) -> BreakerState:
        if self._open_until is None:
            return BreakerState.CLOSED
        if self._trial_in_flight or self._clock() >= self._open_until:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def retry_in_s(self) -> float:
        """Seconds until a trial call is allowed (0 when closed or due)."""
        if self._open_until is None:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only the first caller gets through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._open_until = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_in_flight or self._failures >= self._threshold:
            self._open_until = self._clock() + self._cooldown_s
            self.reason = f"failed {self._failures} times in a row"
        self._trial_in_flight = False

    def hold(self, seconds: float) -> None:
        """Open the circuit for ``seconds`` at least: the provider said when to come back (Retry-After)."""
        until = self._clock() + seconds
        if self._open_until is None or until > self._open_until:
            self._open_until = until
            self.reason = f"asked us to wait {seconds:.0f} s (Retry-After)"
        self._trial_in_flight = False

    def release(self) -> None:
        """End a trial call that said nothing about health (a refusal, an unknown model)."""
        self._trial_in_flight = False


@dataclass(frozen=True)
class GenerationOutcome:
    """Validated media and the full record of how it was obtained."""

    media: GeneratedMedia
    attempts: list[Attempt] = field(default_factory=list)


class FallbackChain:
    """Runs a request through providers in order; see the module docstring for the policy."""

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        attempt_timeout_s: float,
        deadline_s: float,
        breaker_failures: int,
        breaker_cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        video_attempt_timeout_s: float | None = None,
        video_deadline_s: float | None = None,
        left_out: Mapping[str, str] | None = None,
        preview_px: int | None = None,
    ) -> None:
        if not providers:
            raise ValueError("a FallbackChain needs at least one provider")
        self.providers: list[Provider] = list(providers)
        self._timeouts = {
            GenerationKind.IMAGE: (attempt_timeout_s, deadline_s),
            GenerationKind.VIDEO: (video_attempt_timeout_s or attempt_timeout_s, video_deadline_s or deadline_s),
        }
        self._clock = clock
        self._breakers = {
            p.name: CircuitBreaker(failures=breaker_failures, cooldown_s=breaker_cooldown_s, clock=clock)
            for p in self.providers
        }
        self.left_out: dict[str, str] = dict(left_out or {})
        self._preview_px = preview_px  # an image's preview is made from the decode that validates it

    def breaker(self, provider_name: str) -> CircuitBreaker:
        """The circuit breaker of one provider (for health reports and tests)."""
        return self._breakers[provider_name]

    def models(self, kind: GenerationKind) -> list[tuple[str, str]]:
        """Every (provider, model) pair the chain would try for ``kind``, in order."""
        return [(p.name, m) for p in self.providers for m in p.models(kind)]

    def describe(self) -> list[dict[str, Any]]:
        """The chain as plain data for logs, the README and a health tool: order, models, breakers."""
        rows: list[dict[str, Any]] = [
            {
                "provider": p.name,
                "route": p.describe(),
                "image_models": p.models(GenerationKind.IMAGE),
                "video_models": p.models(GenerationKind.VIDEO),
                "circuit": self._breakers[p.name].state.value,
            }
            for p in self.providers
        ]
        rows += [{"provider": name, "left_out": reason} for name, reason in self.left_out.items()]
        return rows

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self.providers:
            await provider.aclose()

    async def run(self, request: GenerationRequest, *, on_attempt: OnAttempt | None = None) -> GenerationOutcome:
        """Return the first valid media; raise PromptRefused or GenerationError with every attempt."""
        attempt_timeout_s, deadline_s = self._timeouts[request.kind]
        deadline = self._clock() + deadline_s
        attempts: list[Attempt] = []

        async def record(attempt: Attempt) -> None:
            attempts.append(attempt)
            log.info("generation attempt %s/%s: %s %s %s", attempt.provider, attempt.model, attempt.outcome,
                     attempt.error_class or "", attempt.message or "")
            if on_attempt is not None:
                await on_attempt(attempt)

        for provider in self.providers:
            models = self._ordered_models(provider, request)
            if not models:
                continue
            breaker = self._breakers[provider.name]
            for model in models:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    await record(Attempt(provider=provider.name, model=model, outcome="skipped",
                                         error_class=ErrorClass.TIMEOUT,
                                         message=f"the {deadline_s:g} s deadline for this generation has passed"))
                    raise self._all_failed(attempts)
                if not breaker.allow():
                    await record(Attempt(
                        provider=provider.name, model=model, outcome="skipped", error_class=ErrorClass.CIRCUIT_OPEN,
                        message=f"{provider.name} {breaker.reason}; next try in {breaker.retry_in_s():.0f} s"))
                    break
                try:
                    media, attempt, wait_s = await self._attempt(provider, model, request,
                                                                 min(attempt_timeout_s, remaining))
                except BaseException:  # cancelled mid-call: a half-open trial must not stay in flight forever
                    breaker.release()
                    raise
                self._update_breaker(breaker, attempt, wait_s)
                await record(attempt)
                if media is not None:
                    return GenerationOutcome(media=media, attempts=attempts)
                if attempt.error_class is ErrorClass.REFUSED:
                    raise PromptRefused(
                        f"the prompt was refused by {provider.name} ({model}): {attempt.message}; "
                        "no other model was tried, because each would refuse it too", attempts=attempts)
                if attempt.error_class is ErrorClass.CONFIG:
                    break  # a bad token fails every model of this provider
        raise self._all_failed(attempts)

    @staticmethod
    def _ordered_models(provider: Provider, request: GenerationRequest) -> list[str]:
        models = provider.models(request.kind)
        if request.model and request.model in models:
            models = [request.model, *(m for m in models if m != request.model)]
        return models

    async def _attempt(
        self, provider: Provider, model: str, request: GenerationRequest, timeout_s: float
    ) -> tuple[GeneratedMedia | None, Attempt, float | None]:
        started = time.perf_counter()

        def done(outcome: str, error_class: ErrorClass | None = None, message: str | None = None) -> Attempt:
            ms = round((time.perf_counter() - started) * 1000)
            return Attempt(provider=provider.name, model=model, outcome=outcome, error_class=error_class,
                           message=message, ms=ms)

        try:
            with anyio.fail_after(timeout_s):
                media = await provider.generate(request, model=model)
            media = await anyio.to_thread.run_sync(_accept, media, request.kind, self._preview_px)
        except TimeoutError:
            return None, done("error", ErrorClass.TIMEOUT, f"no answer within {timeout_s:g} s"), None
        except ProviderError as exc:
            return None, done("error", exc.error_class, str(exc)), exc.retry_after_s
        except Exception as exc:  # a provider bug must not end the chain: next model, and say what it was
            log.exception("provider %s raised an unclassified error", provider.name)
            return None, done("error", ErrorClass.UNAVAILABLE, f"unexpected {type(exc).__name__}: {exc}"), None
        return media, done("ok", message=media.notice), None

    @staticmethod
    def _update_breaker(breaker: CircuitBreaker, attempt: Attempt, wait_s: float | None) -> None:
        if attempt.outcome == "ok":
            breaker.record_success()
        elif attempt.error_class is ErrorClass.RATE_LIMITED and wait_s is not None:
            breaker.hold(wait_s)
        elif attempt.error_class in _HEALTH_FAILURES:
            breaker.record_failure()
        else:
            breaker.release()

    def _all_failed(self, attempts: list[Attempt]) -> GenerationError:
        if not attempts:
            return GenerationError("no configured provider serves this kind of generation", attempts=attempts)
        summary = "; ".join(
            f"{a.provider}/{a.model}: {a.error_class or a.outcome}" + (f" ({a.message})" if a.message else "")
            for a in attempts
        )
        hint = ""
        if any(a.error_class is ErrorClass.CONFIG for a in attempts):
            hint = " A provider is misconfigured: fix its token or account setting."
        elif all(a.error_class in (ErrorClass.UNSUPPORTED, ErrorClass.INVALID_INPUT) for a in attempts):
            hint = " No configured model is served as asked: `sf-mcp providers check` shows what is."
        return GenerationError(f"every provider failed: {summary}.{hint}", attempts=attempts)


def _accept(media: GeneratedMedia, kind: GenerationKind, preview_px: int | None) -> GeneratedMedia:
    """Validate a provider's media (and make its preview) and refuse a blacked-out image: one worker-thread hop."""
    media = validate_media(media, kind, preview_px=preview_px)
    if kind is GenerationKind.IMAGE and is_blacked_out(media.data):
        raise ProviderError(BLACKED_OUT, error_class=ErrorClass.REFUSED)
    return media
