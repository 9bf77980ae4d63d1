"""Where grader keeps its files. Tests redirect everything by setting GRADER_HOME."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "GRADER_HOME"


def grader_home() -> Path:
    """`GRADER_HOME`, else the platform's application directory for grader (created on demand)."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    import click  # typer's own get_app_dir; click is light and already loaded by the CLI

    return Path(click.get_app_dir("grader"))


def ensure_home() -> Path:
    home = grader_home()
    home.mkdir(parents=True, exist_ok=True)
    return home
