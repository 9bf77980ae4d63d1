"""Which environment variable holds a provider's API key, checked before any client library is imported.

A missing key is then known in microseconds, in our own words, instead of after importing litellm (seconds)
and reading its exception. Keys are only ever read from the environment; this module never reads their values
beyond "set or not".
"""

from __future__ import annotations

import os

# The providers whose key variable is known; litellm's names. A model string `provider/name` names its provider;
# a bare name is OpenAI's or Anthropic's when it looks like theirs (as litellm reads it too).
KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY", "OR_API_KEY"),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_TOKEN"),
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"),
    "cohere": ("COHERE_API_KEY", "CO_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
}
OPENAI_NAMES = ("gpt-", "chatgpt-", "o1", "o3", "o4")  # bare model names that are OpenAI's
ANTHROPIC_NAMES = ("claude-",)


def provider_of(model: str) -> str | None:
    """The provider a model string names (`openai/gpt-4o-mini`, `gpt-4o-mini` -> openai), None when unknown."""
    if "/" in model:
        return model.split("/", 1)[0].lower()
    if model.startswith(OPENAI_NAMES):
        return "openai"
    if model.startswith(ANTHROPIC_NAMES):
        return "anthropic"
    return None


def missing_key(model: str, api_base: str | None) -> str | None:
    """A one-line message when the provider of `model` needs an API key and none of its variables is set.

    With `api_base` the server is the user's own (a local or OpenAI-compatible server, a proxy): whether it
    wants a key is its business, so nothing is checked. So are providers whose variable is not known here.
    """
    if api_base:
        return None
    variables = KEY_VARIABLES.get(provider_of(model) or "")
    if not variables or any(os.environ.get(name) for name in variables):
        return None
    names = " or ".join(variables)
    return f"no API key for {model}: set {names} in the environment (keys are never read from files)"
