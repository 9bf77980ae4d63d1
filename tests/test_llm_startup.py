"""litellm and openai are imported only on the LLM path, and litellm only when the model needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from fakeserver import chat_reply, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, llm_options, question_and_rubric, verdict

from grader.llm import client as llm_client
from grader.pipeline import grade_answer

PROBE = """
import json, runpy, sys
sys.argv = ["grade", *sys.argv[1:]]
try:
    runpy.run_module("grader", run_name="__main__")
except SystemExit:
    pass
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"litellm", "openai", "httpx", "httpx2", "aiohttp"})
print(json.dumps(loaded), file=sys.stderr)
"""


def loaded_after(*args: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """Top-level modules of the LLM stack loaded by running `grade ARGS` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "--bank", str(BANK), "answer", "-q", QUESTION_ID, "--json", "--no-save",
         *args],
        input=GOOD_ANSWER, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )
    return json.loads(result.stderr.strip().splitlines()[-1]), result.stdout


def test_keyword_path_imports_no_llm_client_even_with_a_model_configured() -> None:
    loaded, stdout = loaded_after("--mode", "keyword", env={"GRADER_MODEL": "gpt-4o-mini"})
    assert loaded == []
    assert json.loads(stdout)["method"] == "keyword"


def test_auto_mode_without_a_model_imports_no_llm_client() -> None:
    loaded, stdout = loaded_after()
    assert loaded == []
    assert json.loads(stdout)["method"] == "keyword"


def test_openai_compatible_models_skip_litellm() -> None:
    with serve([chat_reply(verdict())]) as server:
        loaded, stdout = loaded_after("--model", "openai/smollm2", "--api-base", server.api_base, "--no-cache")
    assert json.loads(stdout)["method"] == "llm"
    assert "openai" in loaded and "litellm" not in loaded


def test_a_missing_key_is_known_before_any_client_library_loads() -> None:
    env = {name: value for name, value in os.environ.items() if name != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "--bank", str(BANK), "answer", "-q", QUESTION_ID, "--json", "--no-save",
         "--model", "gpt-4o-mini"],
        input=GOOD_ANSWER, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
    grade = json.loads(result.stdout)
    assert grade["method"] == "keyword"
    assert grade["fallback_reason"] == (
        "no API key for gpt-4o-mini: set OPENAI_API_KEY in the environment (keys are never read from files)"
    )


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_importing_the_client_library_does_not_count_against_the_deadline(
    monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    """litellm takes seconds to import: a 1 s timeout against a server that answers in 0.1 s must still work when
    the first import (made slow here) takes longer than the whole deadline."""
    slow = {"openai": "_openai", "litellm": "_litellm"}[client]
    real = getattr(llm_client, slow)
    imported: list[bool] = []

    def slow_import() -> object:
        if not imported:
            time.sleep(1.5)
            imported.append(True)
        return real()

    monkeypatch.setattr(llm_client, slow, slow_import)
    monkeypatch.setattr(llm_client, "GRACE", 0.2)  # the deadline: 1.2 s, less than the import
    llm_client._SYNC_CLIENTS.clear()
    llm_client._response_class.cache_clear()
    question, rubric = question_and_rubric()
    reply = chat_reply(verdict())
    reply.hang = 0.1
    with serve([reply]) as server:
        grade = grade_answer(question, rubric, GOOD_ANSWER, llm_options(server.api_base, client=client, timeout=1.0))
    assert grade.method == "llm" and grade.fallback_reason is None
