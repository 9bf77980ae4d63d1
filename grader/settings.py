"""LLM settings from the command line, the environment and an optional TOML config file, in that order.

The file is `--config PATH`, else `$GRADER_CONFIG`, else `$GRADER_HOME/config.toml` when it exists:

    [llm]
    model = "gpt-4o-mini"          # any litellm model string; openai/<name> with api_base for local servers
    api_base = "http://127.0.0.1:8080/v1"
    mode = "auto"                  # auto | keyword | llm | hybrid
    timeout = 60                   # seconds per request
    samples = 1
    temperature = 0.0
    max_retries = 2
    cache = true
    fallback = true                # false: fail (exit 6) instead of grading by keywords
    client = "auto"                # auto | litellm | openai

API keys never go in this file: providers read their usual environment variables (OPENAI_API_KEY, ...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.errors import ConfigError
from grader.paths import grader_home
from grader.pipeline import GradeOptions

CONFIG_ENV = "GRADER_CONFIG"
# Settings the environment can give (typer reads them for the options of the same name).
ENV_SETTINGS = {"model": "GRADER_MODEL", "api_base": "GRADER_API_BASE"}
CONFIG_FILE = "config.toml"
T = TypeVar("T")


class LLMConfig(BaseModel):
    """The `[llm]` table of the config file."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    api_base: str | None = None
    mode: Literal["auto", "keyword", "llm", "hybrid"] | None = None
    timeout: float | None = Field(default=None, gt=0, le=3600)
    samples: int | None = Field(default=None, ge=1, le=15)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    cache: bool | None = None
    fallback: bool | None = None
    client: Literal["auto", "litellm", "openai"] | None = None


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    llm: LLMConfig = Field(default_factory=LLMConfig)


def config_path(explicit: Path | None = None) -> tuple[Path, bool]:
    """The config file to read and whether it must exist (it must when named explicitly)."""
    if explicit is not None:
        return explicit, True
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named).expanduser(), True
    return grader_home() / CONFIG_FILE, False


def load_config(explicit: Path | None = None) -> LLMConfig:
    """The `[llm]` settings of the config file; empty when there is no file. Raises ConfigError."""
    path, required = config_path(explicit)
    if not path.is_file():
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return LLMConfig()
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        return ConfigFile.model_validate(data).llm
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"config file {path}: {where}: {error['msg']}") from None


def resolve_options(
    *,
    mode: str | None = None,
    model: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,
    samples: int | None = None,
    temperature: float | None = None,
    use_cache: bool | None = None,
    fallback: bool | None = None,
    config: Path | None = None,
) -> GradeOptions:
    """GradeOptions from values given on the command line (None = not given), then the config file."""
    file = load_config(config)
    defaults = GradeOptions()
    chosen_mode = mode or file.mode or defaults.mode
    if chosen_mode not in ("auto", "keyword", "llm", "hybrid"):
        raise ConfigError(f"unknown mode '{chosen_mode}': use auto, keyword, llm or hybrid")
    options = GradeOptions(
        mode=chosen_mode,  # type: ignore[arg-type]
        model=model or file.model,
        api_base=api_base or file.api_base,
        timeout=_first(timeout, file.timeout, defaults.timeout),
        samples=_first(samples, file.samples, defaults.samples),
        use_cache=_first(use_cache, file.cache, defaults.use_cache),
        temperature=_first(temperature, file.temperature, defaults.temperature),
        max_retries=_first(None, file.max_retries, defaults.max_retries),
        fallback=_first(fallback, file.fallback, defaults.fallback),
        client=_first(None, file.client, defaults.client),
    )
    options.check()
    return options


def _first(given: T | None, configured: T | None, default: T) -> T:
    if given is not None:
        return given
    return configured if configured is not None else default


@dataclass(frozen=True)
class Setting:
    """One effective setting and where its value comes from: `default`, `environment NAME` or `config file`."""

    name: str
    value: object
    source: str


def describe_settings(config: Path | None = None, environ: Mapping[str, str] | None = None) -> list[Setting]:
    """The LLM settings `grade answer` would use with no options on the command line, each with its source.
    Raises ConfigError for a config file that cannot be read."""
    env = os.environ if environ is None else environ
    file = load_config(config)
    defaults = GradeOptions()
    default_values: dict[str, object] = {
        "model": None,
        "api_base": None,
        "mode": defaults.mode,
        "timeout": defaults.timeout,
        "samples": defaults.samples,
        "temperature": defaults.temperature,
        "max_retries": defaults.max_retries,
        "cache": defaults.use_cache,
        "fallback": defaults.fallback,
        "client": defaults.client,
    }
    settings = []
    for name, default in default_values.items():
        variable = ENV_SETTINGS.get(name)
        configured = getattr(file, name)
        if variable and env.get(variable):
            settings.append(Setting(name, env[variable], f"environment {variable}"))
        elif configured is not None:
            settings.append(Setting(name, configured, "config file"))
        else:
            settings.append(Setting(name, default, "default"))
    return settings
