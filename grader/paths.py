"""Where grader keeps its files. Tests redirect everything by setting GRADER_HOME."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

HOME_ENV = "GRADER_HOME"
_default_home: Path | None = None


def set_default_home(path: Path) -> None:
    """The platform's app directory, as the CLI computes it (`typer.get_app_dir`); GRADER_HOME still wins."""
    global _default_home
    _default_home = path


def grader_home() -> Path:
    """`GRADER_HOME`, else the platform's application directory for grader."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return _expanded(configured, os.environ.get("HOME"))
    if _default_home is not None:
        return _default_home
    return _config_home(os.environ.get("XDG_CONFIG_HOME"), os.environ.get("HOME"))


# Paths by the variables they are made from: the LLM path asks for its files once or twice an answer, and making a
# Path costs some 20 microseconds.
@lru_cache(maxsize=8)
def _expanded(configured: str, home: str | None) -> Path:
    return Path(configured).expanduser()


@lru_cache(maxsize=8)
def _config_home(xdg: str | None, home: str | None) -> Path:
    return Path(xdg or str(Path.home() / ".config")) / "grader"


def ensure_home() -> Path:
    home = grader_home()
    home.mkdir(parents=True, exist_ok=True)
    return home
