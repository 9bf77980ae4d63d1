"""Options shared by the commands that grade (answer, batch, practice, calibrate), declared once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

LLM_PANEL = "LLM grading"


class ModeChoice(StrEnum):
    auto = "auto"
    keyword = "keyword"
    llm = "llm"
    hybrid = "hybrid"


ModeOption = Annotated[
    ModeChoice | None,
    typer.Option(
        case_sensitive=False,
        metavar="MODE",
        help="auto (the LLM when a model is configured, else keywords), keyword, llm or hybrid (default: auto).",
        show_default=False,
        rich_help_panel=LLM_PANEL,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        envvar="GRADER_MODEL",
        metavar="MODEL",
        help="litellm model string: gpt-4o-mini, anthropic/..., ollama/..., openai/<name> with --api-base.",
        rich_help_panel=LLM_PANEL,
    ),
]
ApiBaseOption = Annotated[
    str | None,
    typer.Option(
        envvar="GRADER_API_BASE", metavar="URL", help="OpenAI-compatible base URL.", rich_help_panel=LLM_PANEL
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS", help="Seconds per LLM request (default: 60).", show_default=False, rich_help_panel=LLM_PANEL
    ),
]
SamplesOption = Annotated[
    int | None,
    typer.Option(
        help="Grade N times and take the majority per concept (default: 1).",
        show_default=False,
        rich_help_panel=LLM_PANEL,
    ),
]
TemperatureOption = Annotated[
    float | None,
    typer.Option(
        help="Sampling temperature (default: 0; 0.7 with --samples > 1).", show_default=False, rich_help_panel=LLM_PANEL
    ),
]
CacheOption = Annotated[
    bool | None,
    typer.Option(
        "--cache/--no-cache",
        help="Reuse an earlier LLM grade of the same answer (default: cache).",
        show_default=False,
        rich_help_panel=LLM_PANEL,
    ),
]
FallbackOption = Annotated[
    bool | None,
    typer.Option(
        "--fallback/--no-fallback",
        help="Grade by keywords when the model fails; --no-fallback makes that an error (default: fallback).",
        show_default=False,
        rich_help_panel=LLM_PANEL,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        envvar="GRADER_CONFIG",
        metavar="FILE",
        help="TOML config file (default: $GRADER_HOME/config.toml).",
        show_default=False,
        rich_help_panel=LLM_PANEL,
    ),
]

VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Show each prompt sent to the model and its raw reply (keys masked), on stderr.",
        rich_help_panel=LLM_PANEL,
    ),
]
