"""Why a model request failed, in one line a user can act on: classified, retry advice, secrets masked."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

from grader.errors import LLMError


class CallError(LLMError):
    """A request failed for good. `kind`: timeout, connection, rate_limit, server, auth, request, reply, client."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class MalformedCompletion(Exception):
    """A successful HTTP reply that is not a usable chat completion: not JSON, no choices, too large, too deep."""


@dataclass(frozen=True)
class Failure:
    """One classified failure: the reason to show, its kind, and whether (and when) to try again."""

    reason: str
    kind: str
    retryable: bool
    wait: float | None = None


def classify(exc: BaseException, *, where: str, timeout: float) -> Failure:
    """What went wrong, in one line without secrets, and whether trying again can help.

    `where` names the server ("the model server at 127.0.0.1:8080"); `timeout` is seconds per request.
    litellm's errors subclass the openai SDK's, so one set of checks serves both transports.
    """
    import openai

    if isinstance(exc, MalformedCompletion):
        return Failure(f"{where} sent an unusable reply: {exc}", "reply", retryable=False)
    causes = causes_of(exc)  # litellm reports a refused connection as HTTP 500; its cause tells the truth
    if any(isinstance(e, TimeoutError | openai.APITimeoutError) for e in causes):
        return Failure(f"no reply from {where} within {timeout:g} s", "timeout", retryable=False)
    if any(isinstance(e, openai.APIConnectionError | ConnectionError) for e in causes):
        root = " ".join(redact(str(causes[-1])).split())[:120] if len(causes) > 1 else ""
        return Failure(f"cannot connect to {where}" + (f": {root}" if root else ""), "connection", True)
    if isinstance(exc, openai.RateLimitError):
        return Failure(f"{where} is rate limiting requests (HTTP 429)", "rate_limit", True, retry_after(exc))
    client_side = next((e for e in causes if type(e) is openai.OpenAIError), None)  # e.g. no API key
    if client_side is not None:
        reason = _provider_message(client_side)[2:] or type(client_side).__name__
        return Failure(f"the model client failed: {reason}", "client", retryable=False)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.APIStatusError) or isinstance(status, int):
        code = int(status or 0)
        detail = _provider_message(exc)
        if code >= 500 or code in (408, 409):
            return Failure(f"{where} failed (HTTP {code}){detail}", "server", True, retry_after(exc))
        if code in (401, 403):
            return Failure(
                f"{where} rejected the credentials (HTTP {code}); check the provider's API key variable",
                "auth",
                False,
            )
        return Failure(f"{where} rejected the request (HTTP {code}){detail}", "request", False)
    return Failure(
        f"the model client failed: {type(exc).__name__}{_provider_message(exc)}", "client", retryable=False
    )


def causes_of(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def describe_endpoint(api_base: str | None, model: str) -> str:
    """How failures name the other end: the server for an api_base, else the model's provider."""
    if api_base:
        parsed = urlparse(api_base)
        return f"the model server at {parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")
    return f"the provider of {model}"


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header on the failed response, if any."""
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
    ):
        if not headers:
            continue
        millis = headers.get("retry-after-ms")
        if millis:
            try:
                return float(millis) / 1000
            except ValueError:
                pass
        value = headers.get("retry-after")
        if not value:
            continue
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            continue
    return None


_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"\b(?:sk|rk|pk|key)-[A-Za-z0-9_\-]{6,}|Bearer\s+\S+", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every secret-looking value (and the value of every *KEY/*TOKEN variable) masked."""
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= 6:
            text = text.replace(value, "***")
    return _SECRET_VALUE.sub("***", text)


def _provider_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    message = str(message).split(" - ", 1)[-1] if "Exception - " in str(message) else str(message)
    message = " ".join(redact(message).split())
    if not message:
        return ""
    return ": " + (message[:160] + "..." if len(message) > 160 else message)
