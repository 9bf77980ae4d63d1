"""An API key never reaches output, logs, the cache database or an error message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fakeserver import chat_reply, error_reply, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, verdict
from typer.testing import CliRunner

from grader.cli import app
from grader.llm.cache import CACHE_FILE
from grader.llm.failures import redact

FAKE_KEY = "sk-test-FAKE0123456789abcdefSECRET"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    return FAKE_KEY


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_the_key_is_sent_but_never_shown_or_stored(
    runner: CliRunner, api_key: str, grader_home: Path, caplog: pytest.LogCaptureFixture, client: str
) -> None:
    caplog.set_level(logging.DEBUG)
    (grader_home / "config.toml").write_text(f"[llm]\nmax_retries = 0\nclient = '{client}'\n")
    script = [
        chat_reply(verdict()),
        error_reply(401, f"Incorrect API key provided: {api_key}. Find your key at example.org"),
    ]
    outputs: list[str] = []
    with serve(script) as server:
        base = ["--bank", str(BANK), "answer", "-q", QUESTION_ID, "--mode", "llm", "--model", "openai/smollm2",
                "--api-base", server.api_base, "--no-save"]
        for extra in (["--json"], ["--json", "--no-cache"], ["--no-cache"], ["--no-cache", "--no-fallback"]):
            result = runner.invoke(app, [*base, *extra], input=GOOD_ANSWER)
            outputs += [result.stdout, result.stderr]
    assert server.seen[0].headers.get("authorization") == f"Bearer {api_key}"  # the key was really used
    assert result.exit_code == 6 and "rejected the credentials (HTTP 401)" in result.stderr
    assert '"fallback_reason": "the model server at 127.0.0.1' in outputs[2]
    for text in [*outputs, caplog.text]:
        assert api_key not in text
        assert api_key[:20] not in text
    database = (grader_home / CACHE_FILE).read_bytes()
    assert b'"method":"llm"' in database  # the grade is there, the key is not
    assert api_key.encode() not in database


def test_redact_masks_keys_from_the_environment_and_key_shapes(api_key: str) -> None:
    text = f"bad key {api_key}; header Authorization: Bearer abc.def; other sk-proj-1234567890abcdef"
    cleaned = redact(text)
    assert api_key not in cleaned and "abc.def" not in cleaned and "sk-proj-1234567890abcdef" not in cleaned
    assert cleaned.startswith("bad key ***")
