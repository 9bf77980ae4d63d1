"""Shared fixtures: every test gets its own GRADER_HOME and a CLI runner."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Code that runs while tests are collected (a parametrize list read from the bank) comes before any
    fixture: from the start of the session GRADER_HOME is a temporary folder, so nothing writes the real home."""
    before = os.environ.get("GRADER_HOME")
    home = tempfile.mkdtemp(prefix="grader-session-home-")
    os.environ["GRADER_HOME"] = home

    def restore() -> None:
        if before is None:
            os.environ.pop("GRADER_HOME", None)
        else:
            os.environ["GRADER_HOME"] = before
        shutil.rmtree(home, ignore_errors=True)

    config.add_cleanup(restore)


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
