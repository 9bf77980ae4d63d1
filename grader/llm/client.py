"""Calling a chat model: a hard deadline per request, bounded retries, and failures a user can read.

Two transports behind one seam. `openai/<name>` models (any OpenAI-compatible server given with `api_base`) and
OpenAI's own models (`gpt-4o-mini`, `openai/gpt-4o-mini`) go straight through the openai SDK, which imports in
about a second; every other model string goes through litellm, which takes several seconds to import (figures
in benchmarks/llm_startup.py). Both are imported only here, inside the functions that need them, and before a
request's deadline starts: the deadline is the server's, not our start-up's.

On the SDK transport the reply body is read as a stream and given up past MAX_BODY_BYTES once decompressed (a
compressed body can be a thousand times larger unpacked); litellm reads bodies itself, so there only the
message content is bounded (by the reply parser).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar

from grader.errors import ConfigError
from grader.llm.credentials import missing_key, provider_of
from grader.llm.failures import CallError, MalformedCompletion, classify, describe_endpoint
from grader.llm.pricing import cost_of

Client = Literal["auto", "litellm", "openai"]
OPENAI_PREFIX = "openai/"
GRACE = 2.0  # seconds a request may overrun its timeout before the deadline cuts it off
LOCAL_KEY = "not-needed"  # sent to local OpenAI-compatible servers when no key is configured
MAX_BODY_BYTES = 1 << 20  # a chat completion of verdicts is a few kilobytes
STREAMED = {"headers": {"X-Stainless-Raw-Response": "stream"}}  # the SDK's own switch to hand over the body unread

T = TypeVar("T")


@dataclass(frozen=True)
class LLMSettings:
    """Which model to call and how patiently. `timeout` is seconds per request."""

    model: str
    api_base: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    temperature: float = 0.0
    max_tokens: int | None = None  # None: the grader sizes it to the rubric
    client: Client = "auto"
    backoff: float = 0.5  # first wait between retries; doubles each time
    max_retry_after: float = 30.0  # longest Retry-After we honour; a longer one fails the call at once

    def transport(self) -> Literal["litellm", "openai"]:
        """The SDK for `openai/<name>` and OpenAI's bare model names, litellm for every other provider."""
        if self.client != "auto":
            return self.client
        if self.model.startswith(OPENAI_PREFIX) or ("/" not in self.model and provider_of(self.model) == "openai"):
            return "openai"
        return "litellm"


@dataclass(frozen=True)
class Reply:
    """The text of a model's reply and what it cost."""

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    finish_reason: str | None = None


# --- the public calls ------------------------------------------------------------------------------


def ensure_installed(settings: LLMSettings) -> None:
    """Raise ConfigError when the client library the model needs is not installed (without importing it)."""
    import importlib.util

    module = "openai" if settings.transport() == "openai" else "litellm"
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"LLM grading needs {module}: install the llm extra: pip install 'devops-answer-grader[llm]' "
            "(from a clone: pip install '.[llm]')"
        )


def check_key(settings: LLMSettings) -> None:
    """Raise CallError (kind `auth`) when the model's provider needs an API key the environment does not hold.
    Imports nothing: a missing key is known at once, before any client library loads."""
    problem = missing_key(settings.model, settings.api_base)
    if problem:
        raise CallError(problem, "auth")


def complete(settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> Reply:
    """One chat completion, retried on transient failures; raises CallError with a one-line reason. The client
    library is imported and the client made before the first request's deadline starts."""
    check_key(settings)
    _prepare(settings)
    for attempt in range(settings.max_retries + 1):
        try:
            return _within(settings.timeout + GRACE, lambda: _send(settings, messages, response_format))
        except Exception as exc:  # every failure is classified below
            time.sleep(_wait_or_raise(exc, attempt, settings))
    raise AssertionError("unreachable")  # pragma: no cover


async def acomplete(
    settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None
) -> Reply:
    """`complete` for an event loop."""
    check_key(settings)
    await aprepare(settings)
    for attempt in range(settings.max_retries + 1):
        try:
            return await asyncio.wait_for(_asend(settings, messages, response_format), settings.timeout + GRACE)
        except Exception as exc:  # every failure is classified below
            await asyncio.sleep(_wait_or_raise(exc, attempt, settings))
    raise AssertionError("unreachable")  # pragma: no cover


# --- transports ------------------------------------------------------------------------------------


# The openai transport posts the request with the SDK's generic `post(...)` (its documented way to make custom
# requests), takes the body unread and reads it with a size limit, rather than `chat.completions.create`: the
# client's retries, timeouts, headers and error types are the same, but `create` first walks the whole request
# (its JSON schema included) against the SDK's parameter types, a transformation that changes nothing in our
# plain dicts (tests check the bodies are identical), and builds pydantic models of the reply of which we read
# four fields. Together those are about a third of the SDK's CPU per request, which a concurrent batch pays on
# its one event-loop thread.
CHAT_COMPLETIONS = "/chat/completions"


def _send(settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> Reply:
    if settings.transport() == "openai":
        client = _sync_client(settings)
        request = _sdk_request(settings, messages, response_format)
        response = client.post(CHAT_COMPLETIONS, body=request, cast_to=_response_class(), options=STREAMED)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                _check_size(body)
        finally:
            response.close()
        return _completion_reply(settings, bytes(body))
    litellm = _litellm()
    response = litellm.completion(**_litellm_request(settings, messages, response_format))
    return _reply(settings, response)


async def _asend(
    settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None
) -> Reply:
    if settings.transport() == "openai":
        client = _async_client(settings)
        request = _sdk_request(settings, messages, response_format)
        response = await client.post(CHAT_COMPLETIONS, body=request, cast_to=_response_class(), options=STREAMED)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                _check_size(body)
        finally:
            await response.aclose()
        return _completion_reply(settings, bytes(body))
    litellm = _litellm()
    response = await litellm.acompletion(**_litellm_request(settings, messages, response_format))
    return _reply(settings, response)


def _check_size(body: bytearray) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise MalformedCompletion(f"it is larger than {MAX_BODY_BYTES >> 10} KiB once decompressed")


@cache
def _response_class() -> type:
    """The HTTP response class of the SDK's HTTP library (httpx, or httpx2 in newer SDKs)."""
    import importlib

    openai = _openai()
    base = next(c for c in openai.DefaultHttpxClient.__mro__ if c.__name__ == "Client")
    return importlib.import_module(base.__module__.split(".")[0]).Response


def _prepare(settings: LLMSettings) -> None:
    """Import the client library and make the (sync) client, outside any request's deadline."""
    if settings.transport() == "openai":
        _sync_client(settings)
        _response_class()
    else:
        _litellm()


async def aprepare(settings: LLMSettings) -> None:
    """Import the client library and create this event loop's client now, once, before requests run
    concurrently: done by the first request instead, the import (about half a second) would stall them all."""
    if settings.transport() == "openai":
        _async_client(settings)
        _response_class()
    else:
        _litellm()


# SDK clients are reused: building one costs ~40 ms (an SSL context), which would dominate a batch. An async
# client belongs to the event loop it was first used on, so async clients are kept per loop.
_SYNC_CLIENTS: dict[tuple[Any, ...], Any] = {}
_ASYNC_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def _client_key(args: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted(args.items()))


def _sync_client(settings: LLMSettings) -> Any:
    args = _sdk_client_args(settings)
    key = _client_key(args)
    if key not in _SYNC_CLIENTS:
        _SYNC_CLIENTS[key] = _openai().OpenAI(**args)
    return _SYNC_CLIENTS[key]


def _async_client(settings: LLMSettings) -> Any:
    args = _sdk_client_args(settings)
    clients = _ASYNC_CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = _client_key(args)
    if key not in clients:
        clients[key] = _openai().AsyncOpenAI(**args)
    return clients[key]


def _openai() -> Any:
    import openai

    return openai


def _litellm() -> Any:
    """litellm, imported on first use with its price map read from the package, never downloaded."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import logging

    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return litellm


def _api_key(settings: LLMSettings) -> str | None:
    """The key for an OpenAI-compatible endpoint: the provider's usual variable, else a placeholder locally."""
    if settings.api_base and settings.model.startswith(OPENAI_PREFIX) and not os.environ.get("OPENAI_API_KEY"):
        return LOCAL_KEY
    return None


def _sdk_client_args(settings: LLMSettings) -> dict[str, Any]:
    args: dict[str, Any] = {"timeout": settings.timeout, "max_retries": 0}
    if settings.api_base:
        args["base_url"] = settings.api_base
    key = _api_key(settings)
    if key:
        args["api_key"] = key
    return args


def _sdk_request(
    settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": settings.model.removeprefix(OPENAI_PREFIX),
        "messages": messages,
        "temperature": settings.temperature,
    }
    if response_format is not None:
        request["response_format"] = response_format
    if settings.max_tokens:
        request["max_tokens"] = settings.max_tokens
    return request


def _litellm_request(
    settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": settings.model,
        "messages": messages,
        "temperature": settings.temperature,
        "timeout": settings.timeout,
        "num_retries": 0,
        "max_retries": 0,
    }
    if response_format is not None:
        request["response_format"] = response_format
    if settings.max_tokens:
        request["max_tokens"] = settings.max_tokens
    if settings.api_base:
        request["api_base"] = settings.api_base
    key = _api_key(settings)
    if key:
        request["api_key"] = key
    return request


def _completion_reply(settings: LLMSettings, body: bytes) -> Reply:
    """The Reply in the JSON body of a chat completion, read as plain JSON."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise MalformedCompletion("not a chat completion: it is nested too deep") from None
    except ValueError as exc:
        start = body[:80].decode("utf-8", "replace")
        raise MalformedCompletion(f"not a chat completion ({type(exc).__name__}): {start!r}") from None
    return completion_reply(data, lambda p, c: cost_of(settings, p, c), lambda: body[:80].decode("utf-8", "replace"))


def completion_reply(data: Any, price: Callable[[int, int], float], shown: Callable[[], str] | None = None) -> Reply:
    """The Reply in a chat completion already read from JSON, costed by `price` (prompt tokens, completion tokens
    -> dollars); MalformedCompletion when it is not one (`shown`: the start of the body, for the message)."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        usage = data.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        content = message.get("content") or ""
        finish_reason = choice.get("finish_reason")
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        start = shown() if shown is not None else json.dumps(data)[:80]
        raise MalformedCompletion(f"not a chat completion ({type(exc).__name__}): {start!r}") from None
    if not isinstance(content, str):
        raise MalformedCompletion("its message content is not text")
    return Reply(
        content=content,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=price(prompt, completion),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )


def _reply(settings: LLMSettings, response: Any) -> Reply:
    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return Reply(
        content=choice.message.content or "",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost_of(settings, prompt, completion),
        finish_reason=choice.finish_reason,
    )


# --- deadlines and retries ------------------------------------------------------------------------


def _within(seconds: float, call: Callable[[], T]) -> T:
    """Run `call` in a daemon thread and give up after `seconds`, however the server dribbles its bytes."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="grader-llm-request", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no complete reply within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _wait_or_raise(exc: Exception, attempt: int, settings: LLMSettings) -> float:
    """Seconds to wait before the next attempt, or CallError when there should be none."""
    failure = classify(exc, where=describe_endpoint(settings.api_base, settings.model), timeout=settings.timeout)
    tries = f" (after {attempt + 1} attempts)" if attempt else ""
    if not failure.retryable or attempt >= settings.max_retries:
        raise CallError(failure.reason + tries, failure.kind) from exc
    wait = failure.wait if failure.wait is not None else settings.backoff * 2**attempt
    if wait > settings.max_retry_after:
        raise CallError(
            f"{failure.reason}; the provider asked to wait {wait:g} s, longer than the "
            f"{settings.max_retry_after:g} s grader waits",
            failure.kind,
        ) from exc
    return max(0.0, wait)
