"""Shared fixtures: every test gets its own GRADER_HOME and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def grader_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real home directory; no model configured unless a test sets one."""
    home = tmp_path_factory.mktemp("grader-home")
    monkeypatch.setenv("GRADER_HOME", str(home))
    for name in ("GRADER_MODEL", "GRADER_API_BASE", "GRADER_BANK", "GRADER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return home


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def bank_dir() -> Path:
    return REPO
