"""litellm and openai are imported only on the LLM path, and litellm only when the model needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fakeserver import chat_reply, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, verdict

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
