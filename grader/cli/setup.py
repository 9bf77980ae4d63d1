"""`grade config` (the effective settings, where each comes from, and where grader keeps its files) and
`grade doctor` (which grader and model would be used, and whether the model answers, before a long batch)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from grader.cli.common import EXIT_CONFIG, EXIT_LLM, EXIT_OK, friendly, out, state, write_json
from grader.cli.options import ApiBaseOption, ConfigOption, ModelOption, ModeOption, TimeoutOption

DOCTOR_TIMEOUT = 15.0  # seconds the model gets to answer `grade doctor`'s one small request
PING = [
    {"role": "system", "content": "You check that a grading service is reachable. Reply with JSON only."},
    {"role": "user", "content": 'Reply with {"ok": true}.'},
]


@friendly
def config(
    ctx: typer.Context,
    config: ConfigOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the settings and paths as JSON.")] = False,
) -> None:
    """Show the effective settings and where each comes from, and where grader keeps its files.

    Sources: default, environment (GRADER_MODEL, GRADER_API_BASE) or the config file.

    Files: home, config, history, LLM cache, start-up cache, bank. Options on a command line still win."""
    from grader.disk_cache import CACHE_DIR
    from grader.llm.cache import CACHE_FILE
    from grader.paths import grader_home
    from grader.practice.history import history_path
    from grader.settings import config_path, describe_settings

    settings = describe_settings(config)
    path, _ = config_path(config)
    bank = state(ctx).bank_dir
    paths = {
        "home": _described(grader_home(), "GRADER_HOME" if os.environ.get("GRADER_HOME") else "default"),
        "config": _described(
            path, "--config" if config else "GRADER_CONFIG" if os.environ.get("GRADER_CONFIG") else "default"
        ),
        "history": _described(history_path(), "in home"),
        "llm cache": _described(grader_home() / CACHE_FILE, "in home"),
        "start-up cache": _described(grader_home() / CACHE_DIR, "in home"),
        "bank": _described(state(ctx).bank().root, "--bank / GRADER_BANK" if bank else "default"),
    }
    if json_output:
        write_json(
            json.dumps(
                {
                    "settings": {s.name: {"value": s.value, "source": s.source} for s in settings},
                    "paths": paths,
                },
                indent=2,
                default=str,
            )
        )
        return
    from rich.table import Table

    table = Table(title="Settings", title_justify="left", title_style="bold", show_edge=False, header_style="bold")
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for s in settings:
        table.add_row(s.name, "-" if s.value is None else str(s.value), s.source)
    out.print(table)
    files = Table(title="Files", title_justify="left", title_style="bold", show_edge=False, header_style="bold")
    for column in ("what", "path", "exists", "from"):
        files.add_column(column)
    for name, item in paths.items():
        files.add_row(name, item["path"], "yes" if item["exists"] else "no", item["source"])
    out.print(files)
    out.print(
        "API keys are read from the environment only (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...).",
        style="dim",
        markup=False,
    )


def _described(path: Path, source: str) -> dict[str, Any]:
    return {"path": str(path), "exists": path.exists(), "source": source}


@friendly
def doctor(
    mode: ModeOption = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    timeout: TimeoutOption = None,
    config: ConfigOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check which grader and model would be used, and whether the model answers (one small request).

    Run it before a long batch. Exit 0: grading works as configured; 5: unusable settings; 6: no answer."""
    from grader.errors import ConfigError, LLMError
    from grader.settings import resolve_options

    options = resolve_options(
        mode=mode.value if mode else None, model=model, api_base=api_base, timeout=timeout, config=config
    )
    findings: dict[str, Any] = {"method": options.method(), "model": options.model, "api_base": options.api_base}
    code = EXIT_OK
    if options.method() == "keyword":
        findings["status"] = "ok"
        findings["detail"] = "no model configured: answers are graded by keywords, offline"
    else:
        from grader.llm.client import LLMSettings, complete, ensure_installed

        settings = LLMSettings(
            model=options.model or "",
            api_base=options.api_base,
            timeout=min(options.timeout, DOCTOR_TIMEOUT),
            max_retries=0,
            client=options.client,
            max_tokens=20,
        )
        findings["client"] = settings.transport()
        started = time.perf_counter()
        try:
            ensure_installed(settings)
            reply = complete(settings, PING, {"type": "json_object"})
        except ConfigError as exc:
            findings.update(status="config", detail=str(exc))
            code = EXIT_CONFIG
        except LLMError as exc:
            findings.update(status="failed", detail=str(exc))
            code = EXIT_LLM
        else:
            findings.update(status="ok", detail=f"the model answered: {reply.content.strip()[:60]!r}")
        findings["seconds"] = round(time.perf_counter() - started, 2)
    if json_output:
        write_json(json.dumps(findings, indent=2))
    else:
        _print_findings(findings)
    raise typer.Exit(code)


def _print_findings(findings: dict[str, Any]) -> None:
    from rich.text import Text

    line = Text()
    line.append("grader: ", style="bold")
    line.append(findings["method"])
    if findings.get("model"):
        line.append(f" · model {findings['model']}")
    if findings.get("api_base"):
        line.append(f" at {findings['api_base']}")
    if findings.get("client"):
        line.append(f" · via {findings['client']}", style="dim")
    out.print(line)
    mark = {"ok": ("✔", "green"), "config": ("✘", "red"), "failed": ("✘", "red")}[findings["status"]]
    status = Text(f"{mark[0]} {findings['detail']}", style=mark[1])
    if "seconds" in findings:
        status.append(f" ({findings['seconds']:g} s)", style="dim")
    out.print(status)
