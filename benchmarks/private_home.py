"""A benchmark that grades in its own process points GRADER_HOME at a temporary folder first (never the real home:
the start-up cache, the history and the config live there), removed when the process ends."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def use_private_home() -> Path:
    """Set GRADER_HOME to a new empty temporary folder for the rest of this process, and return it."""
    home = Path(tempfile.mkdtemp(prefix="grade-bench-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["GRADER_HOME"] = str(home)
    return home
