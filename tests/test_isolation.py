"""The tests never touch the real home directory, not even while they are being collected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_collecting_the_tests_writes_nothing_to_the_real_home(tmp_path: Path) -> None:
    """Collection runs before any fixture (tests/test_kit.py reads the bank for its parameters): the session's
    GRADER_HOME must already be a temporary folder, never the platform's (here XDG_CONFIG_HOME/grader)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_kit.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "collected" in done.stdout
    assert not (tmp_path / "config" / "grader").exists()
    assert not (tmp_path / ".config" / "grader").exists()
