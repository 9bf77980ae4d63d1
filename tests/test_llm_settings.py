"""Settings: command line over environment over config file over defaults; bad settings exit 5."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import ConfigError
from grader.pipeline import GradeOptions
from grader.settings import resolve_options

CONFIG = """
[llm]
model = "gpt-4o-mini"
api_base = "http://127.0.0.1:9/v1"
mode = "hybrid"
timeout = 12
samples = 3
temperature = 0.2
max_retries = 0
cache = false
fallback = false
client = "litellm"
"""


def test_defaults_without_a_config_file() -> None:
    assert resolve_options() == GradeOptions()
    assert GradeOptions().method() == "keyword"
    assert GradeOptions(model="gpt-4o-mini").method() == "llm"


def test_the_config_file_in_grader_home_is_read(grader_home: Path) -> None:
    (grader_home / "config.toml").write_text(CONFIG)
    options = resolve_options()
    assert options == GradeOptions(
        mode="hybrid",
        model="gpt-4o-mini",
        api_base="http://127.0.0.1:9/v1",
        timeout=12,
        samples=3,
        use_cache=False,
        temperature=0.2,
        max_retries=0,
        fallback=False,
        client="litellm",
    )


def test_the_command_line_wins_over_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "grader.toml"
    path.write_text(CONFIG)
    options = resolve_options(
        mode="llm", model="openai/x", timeout=3, samples=1, temperature=0.0, use_cache=True, config=path
    )
    assert (options.mode, options.model, options.timeout, options.samples) == ("llm", "openai/x", 3, 1)
    assert options.temperature == 0.0 and options.use_cache is True
    assert options.api_base == "http://127.0.0.1:9/v1" and options.fallback is False  # not given: from the file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[llm\nmodel = 1", "cannot read config file", id="bad-toml"),
        pytest.param("model = 'x'\n", "model: Extra inputs", id="key-outside-llm-table"),
        pytest.param("[llm]\nmodle = 'x'\n", "llm.modle", id="typo"),
        pytest.param("[llm]\nsamples = 0\n", "llm.samples", id="samples-zero"),
        pytest.param("[llm]\nmode = 'psychic'\n", "llm.mode", id="unknown-mode"),
    ],
)
def test_bad_config_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve_options(config=path)


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_options(config=tmp_path / "nope.toml")


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["--bank", str(BANK), "answer", "-q", QUESTION_ID, "--json", "--no-save", *args],
                         input=GOOD_ANSWER, env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--mode", "llm"], "--mode llm needs a model", id="llm-without-model"),
        pytest.param(["--mode", "hybrid"], "--mode hybrid needs a model", id="hybrid-without-model"),
        pytest.param(["--model", "openai/x", "--samples", "0"], "--samples must be between 1 and 15", id="samples-0"),
        pytest.param(["--model", "openai/x", "--samples", "99"], "--samples must be between 1 and 15", id="samples-99"),
        pytest.param(["--model", "openai/x", "--timeout", "0"], "--timeout must be more than 0", id="timeout"),
        pytest.param(["--model", "openai/x", "--temperature", "3"], "--temperature must be between", id="temp"),
        pytest.param(["--config", "/nonexistent/grader.toml"], "does not exist", id="missing-config"),
    ],
)
def test_cli_bad_settings_exit_5_with_one_line(runner: CliRunner, args: list[str], message: str) -> None:
    result = run(runner, *args)
    assert result.exit_code == 5, result.stdout
    assert result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_env_model_selects_the_llm_in_auto_mode_and_config_points_it(runner: CliRunner, grader_home: Path) -> None:
    """GRADER_MODEL alone switches auto to the LLM; here it points at a closed port, so the grade falls back."""
    (grader_home / "config.toml").write_text("[llm]\napi_base = 'http://127.0.0.1:9/v1'\nmax_retries = 0\n")
    result = run(runner, env={"GRADER_MODEL": "openai/smollm2"})
    assert result.exit_code == 0, result.stderr
    assert '"fallback_reason": "cannot connect to the model server at 127.0.0.1:9: ' in result.stdout


def test_mode_keyword_ignores_a_configured_model(runner: CliRunner) -> None:
    result = run(runner, "--mode", "keyword", env={"GRADER_MODEL": "openai/smollm2"})
    assert result.exit_code == 0, result.stderr
    assert '"method": "keyword"' in result.stdout and '"fallback_reason": null' in result.stdout
