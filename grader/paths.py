"""Where grader keeps its files. Tests redirect everything by setting GRADER_HOME."""

from __future__ import annotations

import os
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
        return Path(configured).expanduser()
    if _default_home is not None:
        return _default_home
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "grader"


def ensure_home() -> Path:
    home = grader_home()
    home.mkdir(parents=True, exist_ok=True)
    return home
