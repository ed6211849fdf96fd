"""The fallback policy, with in-process providers (the wire formats are tested against loopback fakes)."""

from __future__ import annotations

import io

import anyio
import pytest
from PIL import Image

from sf_mcp.errors import GenerationError, PromptRefused
from sf_mcp.generation import (
    Attempt,
    BreakerState,
    ErrorClass,
    FallbackChain,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Provider,
    ProviderError,
)
from sf_mcp.generation.providers.local import LocalRenderer, render_png

pytestmark = pytest.mark.anyio

REQUEST = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a lighthouse at dusk", width=64, height=64, seed=1)
PNG = render_png(REQUEST)


class Scripted(Provider):
    """Answers per model from a script: bytes, a ProviderError, or "hang" (waits until cancelled)."""

    def __init__(self, name: str, script: dict[str, object]) -> None:
        self.name = name
        self.script = script
        self.calls: list[str] = []

    def models(self, kind: GenerationKind) -> list[str]:
        return list(self.script)

    async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
        self.calls.append(model)
        action = self.script[model]
        if action == "hang":
            await anyio.sleep_forever()
        if isinstance(action, Exception):
            raise action
        assert isinstance(action, bytes)
        return GeneratedMedia(data=action, mime_type="image/png", provider=self.name, model=model)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chain(*providers: Provider, clock: FakeClock | None = None, failures: int = 3, timeout: float = 5.0,
          deadline: float = 60.0) -> FallbackChain:
    return FallbackChain(list(providers), attempt_timeout_s=timeout, deadline_s=deadline,
                         breaker_failures=failures, breaker_cooldown_s=30.0, clock=clock or FakeClock())


def unavailable(msg: str = "503 model loading") -> ProviderError:
    return ProviderError(msg, error_class=ErrorClass.UNAVAILABLE)


async def test_first_model_unavailable_second_serves_and_attempts_are_reported() -> None:
    hf = Scripted("hf", {"m1": unavailable(), "m2": PNG, "m3": PNG})
    seen: list[Attempt] = []

    async def on_attempt(attempt: Attempt) -> None:
        seen.append(attempt)

    outcome = await chain(hf).run(REQUEST, on_attempt=on_attempt)
    assert outcome.media.model == "m2"
    assert (outcome.media.width, outcome.media.height, outcome.media.mime_type) == (64, 64, "image/png")
    assert [(a.model, a.outcome, a.error_class) for a in outcome.attempts] == [
        ("m1", "error", ErrorClass.UNAVAILABLE), ("m2", "ok", None)]
    assert seen == outcome.attempts
    assert hf.calls == ["m1", "m2"]


async def test_preferred_model_goes_first() -> None:
    hf = Scripted("hf", {"m1": PNG, "m2": PNG})
    outcome = await chain(hf).run(GenerationRequest(kind=GenerationKind.IMAGE, prompt="x", model="m2"))
    assert hf.calls == ["m2"] and outcome.media.model == "m2"


async def test_a_hanging_model_times_out_and_the_next_serves() -> None:
    hf = Scripted("hf", {"slow": "hang", "fast": PNG})
    outcome = await chain(hf, timeout=0.05).run(REQUEST)
    assert [(a.model, a.error_class) for a in outcome.attempts] == [("slow", ErrorClass.TIMEOUT), ("fast", None)]


async def test_refused_prompt_stops_the_chain() -> None:
    hf = Scripted("hf", {"m1": ProviderError("unsafe content", error_class=ErrorClass.REFUSED), "m2": PNG})
    local = LocalRenderer()
    with pytest.raises(PromptRefused) as caught:
        await chain(hf, local).run(REQUEST)
    assert hf.calls == ["m1"]
    assert [a.error_class for a in caught.value.attempts] == [ErrorClass.REFUSED]
    assert "unsafe content" in str(caught.value)


async def test_config_error_skips_the_provider_and_is_named() -> None:
    hf = Scripted("hf", {"m1": ProviderError("the token was rejected (HTTP 401)", error_class=ErrorClass.CONFIG),
                         "m2": PNG})
    outcome = await chain(hf, LocalRenderer()).run(REQUEST)
    assert hf.calls == ["m1"]
    assert outcome.media.provider == "local"
    assert outcome.attempts[0].error_class is ErrorClass.CONFIG


async def test_all_down_raises_with_every_attempt() -> None:
    hf = Scripted("hf", {"m1": unavailable(), "m2": ProviderError("429", error_class=ErrorClass.RATE_LIMITED)})
    cf = Scripted("cf", {"c1": b"not an image"})
    with pytest.raises(GenerationError) as caught:
        await chain(hf, cf).run(REQUEST)
    assert not isinstance(caught.value, PromptRefused)
    assert [(a.provider, a.model, a.error_class) for a in caught.value.attempts] == [
        ("hf", "m1", ErrorClass.UNAVAILABLE), ("hf", "m2", ErrorClass.RATE_LIMITED), ("cf", "c1", ErrorClass.BAD_OUTPUT)]
    assert "every provider failed" in str(caught.value)


async def test_breaker_opens_skips_then_half_opens_after_cooldown() -> None:
    clock = FakeClock()
    dead = Scripted("dead", {"d1": unavailable(), "d2": unavailable()})
    fallback = chain(dead, LocalRenderer(), clock=clock, failures=2)

    first = await fallback.run(REQUEST)
    assert dead.calls == ["d1", "d2"] and first.media.provider == "local"
    assert fallback.breaker("dead").state is BreakerState.OPEN

    second = await fallback.run(REQUEST)
    assert dead.calls == ["d1", "d2"], "an open circuit makes no call"
    assert (second.attempts[0].outcome, second.attempts[0].error_class) == ("skipped", ErrorClass.CIRCUIT_OPEN)

    clock.now += 31  # past the cool-down: one trial call
    dead.script["d1"] = PNG
    third = await fallback.run(REQUEST)
    assert dead.calls == ["d1", "d2", "d1"] and third.media.provider == "dead"
    assert fallback.breaker("dead").state is BreakerState.CLOSED


async def test_failed_half_open_trial_reopens_at_once() -> None:
    clock = FakeClock()
    dead = Scripted("dead", {"d1": unavailable(), "d2": unavailable()})
    fallback = chain(dead, LocalRenderer(), clock=clock, failures=2)
    await fallback.run(REQUEST)
    clock.now += 31
    outcome = await fallback.run(REQUEST)
    assert dead.calls == ["d1", "d2", "d1"], "one trial, then the circuit is open again"
    assert [a.outcome for a in outcome.attempts] == ["error", "skipped", "ok"]


async def test_deadline_bounds_the_run() -> None:
    clock = FakeClock()

    class Slow(Scripted):
        async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
            clock.now += 40  # each attempt "takes" 40 s of the 60 s deadline
            return await super().generate(request, model=model)

    hf = Slow("hf", {"m1": unavailable(), "m2": unavailable(), "m3": PNG})
    with pytest.raises(GenerationError) as caught:
        await chain(hf, clock=clock, deadline=60).run(REQUEST)
    assert hf.calls == ["m1", "m2"]
    assert caught.value.attempts[-1].outcome == "skipped"
    assert "deadline" in (caught.value.attempts[-1].message or "")


async def test_refusal_does_not_count_against_the_breaker() -> None:
    hf = Scripted("hf", {"m1": ProviderError("nsfw", error_class=ErrorClass.REFUSED)})
    fallback = chain(hf, failures=1)
    with pytest.raises(PromptRefused):
        await fallback.run(REQUEST)
    assert fallback.breaker("hf").state is BreakerState.CLOSED


async def test_describe_lists_order_and_left_out_providers() -> None:
    fallback = FallbackChain([LocalRenderer()], attempt_timeout_s=1, deadline_s=2, breaker_failures=1,
                             breaker_cooldown_s=1, left_out={"huggingface": "no token"})
    rows = fallback.describe()
    assert rows[0]["provider"] == "local" and rows[0]["circuit"] == "closed"
    assert rows[1] == {"provider": "huggingface", "left_out": "no token"}


async def test_a_models_own_problems_neither_open_nor_close_the_breaker() -> None:
    hf = Scripted("hf", {"m1": unavailable(), "m2": ProviderError("gone", error_class=ErrorClass.UNSUPPORTED),
                         "m3": ProviderError("steps", error_class=ErrorClass.INVALID_INPUT)})
    fallback = chain(hf, LocalRenderer(), failures=2)
    outcome = await fallback.run(REQUEST)
    assert [a.error_class for a in outcome.attempts] == [ErrorClass.UNAVAILABLE, ErrorClass.UNSUPPORTED,
                                                         ErrorClass.INVALID_INPUT, None]
    assert fallback.breaker("hf").consecutive_failures == 1 and fallback.breaker("hf").state is BreakerState.CLOSED


async def test_retry_after_holds_the_provider_and_a_shorter_one_does_not_shorten_it() -> None:
    clock = FakeClock()
    limited = ProviderError("429", error_class=ErrorClass.RATE_LIMITED, retry_after_s=90)
    hf = Scripted("hf", {"m1": limited, "m2": PNG})
    fallback = chain(hf, LocalRenderer(), clock=clock, failures=5)
    first = await fallback.run(REQUEST)
    assert [(a.model, a.outcome) for a in first.attempts[:2]] == [("m1", "error"), ("m2", "skipped")]
    assert "Retry-After" in (first.attempts[1].message or "")
    fallback.breaker("hf").hold(10)
    assert fallback.breaker("hf").retry_in_s() == 90
    clock.now += 91
    hf.script["m1"] = PNG
    assert (await fallback.run(REQUEST)).media.provider == "hf"


async def test_the_chain_hands_on_the_preview_made_from_the_picture_the_renderer_drew() -> None:
    request = GenerationRequest(kind=GenerationKind.IMAGE, prompt="a lighthouse at dusk", width=256, height=128)
    outcome = await FallbackChain([LocalRenderer()], attempt_timeout_s=5, deadline_s=60, breaker_failures=3,
                                  breaker_cooldown_s=30, preview_px=64).run(request)
    media = outcome.media
    assert media.image is None, "the drawn pixels are not kept once the preview is made"
    assert media.preview is not None and (media.preview.mime_type, media.preview.max_px) == ("image/jpeg", 64)
    assert Image.open(io.BytesIO(media.preview.data)).size == (64, 32)
    plain = await chain(Scripted("p", {"m": PNG})).run(REQUEST)  # no preview size: validated, nothing previewed
    assert plain.media.preview is None
