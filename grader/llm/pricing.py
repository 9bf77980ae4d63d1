"""What a request cost: US dollars from litellm's bundled price map, nothing for local servers and free providers."""

from __future__ import annotations

import ipaddress
import json
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from grader.llm.client import LLMSettings

FREE_PROVIDERS = ("ollama/", "ollama_chat/", "llamafile/", "lm_studio/")
OPENAI_PREFIX = "openai/"


def cost_of(settings: LLMSettings, prompt_tokens: int, completion_tokens: int) -> float:
    """US dollars from litellm's bundled price map; 0 for local servers, free providers and unknown models."""
    if is_local(settings.api_base) or settings.model.startswith(FREE_PROVIDERS):
        return 0.0
    if settings.transport() == "litellm":
        try:
            from grader.llm.client import _litellm  # already imported: this model's requests went through it

            prompt_cost, completion_cost = _litellm().cost_per_token(
                model=settings.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:  # an unpriced model costs what we can tell: nothing
            return 0.0
        return float(prompt_cost + completion_cost)
    entry = _price_map().get(settings.model.removeprefix(OPENAI_PREFIX), {})
    return float(
        prompt_tokens * entry.get("input_cost_per_token", 0.0)
        + completion_tokens * entry.get("output_cost_per_token", 0.0)
    )


@cache
def _price_map() -> dict[str, dict[str, Any]]:
    """litellm's bundled price map, read as a file so the openai path does not import litellm."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=64)
def is_local(api_base: str | None) -> bool:
    """True for a server on this machine or a private network (memoised: asked for every request's cost)."""
    if not api_base:
        return False
    host = urlparse(api_base).hostname or ""
    if host == "localhost" or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified
