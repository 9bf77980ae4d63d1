"""The SQLite cache: the same request is never sent twice, anything that shapes the reply changes the key."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from fakeserver import chat_reply, error_reply, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, llm_options, question_and_rubric, verdict
from typer.testing import CliRunner

from grader.cli import app
from grader.llm.cache import CACHE_FILE, GradeCache, cache_key
from grader.models import Grade
from grader.pipeline import grade_answer


def test_a_cached_grade_is_not_requested_again(grader_home: Path) -> None:
    question, rubric = question_and_rubric()
    with serve([chat_reply(verdict())]) as server:
        options = llm_options(server.api_base, use_cache=True)
        first = grade_answer(question, rubric, GOOD_ANSWER, options)
        second = grade_answer(question, rubric, GOOD_ANSWER, options)
        bypassed = grade_answer(question, rubric, GOOD_ANSWER, llm_options(server.api_base, use_cache=False))
    assert len(server.seen) == 2  # the first and the --no-cache call
    assert first.usage is not None and not first.usage.cached
    assert second.usage is not None and second.usage.cached and second.usage.cost_usd == 0
    assert second.usage.prompt_tokens == first.usage.prompt_tokens
    assert second.model_dump(exclude={"usage"}) == first.model_dump(exclude={"usage"})
    assert bypassed.usage is not None and not bypassed.usage.cached
    assert (grader_home / CACHE_FILE).is_file()


def test_fallbacks_are_not_cached() -> None:
    question, rubric = question_and_rubric()
    with serve([error_reply(500), chat_reply(verdict())]) as server:
        options = llm_options(server.api_base, use_cache=True, max_retries=0)
        failed = grade_answer(question, rubric, GOOD_ANSWER, options)
        retried = grade_answer(question, rubric, GOOD_ANSWER, options)
    assert failed.fallback_reason and retried.method == "llm"
    assert len(server.seen) == 2


def test_cli_no_cache_flag(runner: CliRunner) -> None:
    with serve([chat_reply(verdict())]) as server:
        args = ["--bank", str(BANK), "answer", "-q", QUESTION_ID, "--mode", "llm", "--model", "openai/smollm2",
                "--api-base", server.api_base, "--json", "--no-save"]
        outputs = [runner.invoke(app, args, input=GOOD_ANSWER) for _ in range(2)]
        runner.invoke(app, [*args, "--no-cache"], input=GOOD_ANSWER)
    assert [json.loads(r.stdout)["usage"]["cached"] for r in outputs] == [False, True]
    assert len(server.seen) == 2


BASE = {
    "model": "openai/smollm2",
    "api_base": "http://127.0.0.1:1/v1",
    "prompt_version": "1",
    "answer": "an answer",
    "samples": 1,
    "temperature": 0.0,
}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"model": "gpt-4o-mini"}, id="model"),
        pytest.param({"api_base": "http://127.0.0.1:2/v1"}, id="api-base"),
        pytest.param({"prompt_version": "2"}, id="prompt-version"),
        pytest.param({"answer": "an answer!"}, id="answer"),
        pytest.param({"samples": 3}, id="samples"),
        pytest.param({"temperature": 0.7}, id="temperature"),
    ],
)
def test_everything_that_shapes_the_reply_is_in_the_key(change: dict[str, object]) -> None:
    _, rubric = question_and_rubric()
    assert cache_key(rubric=rubric, **BASE) != cache_key(rubric=rubric, **{**BASE, **change})  # type: ignore[arg-type]


def test_rubric_content_is_in_the_key() -> None:
    _, rubric = question_and_rubric()
    edited = rubric.model_copy(update={"model_answer": rubric.model_answer + " More."})
    assert cache_key(rubric=rubric, **BASE) != cache_key(rubric=edited, **BASE)  # type: ignore[arg-type]
    assert cache_key(rubric=rubric, **BASE) == cache_key(rubric=rubric.model_copy(), **BASE)  # type: ignore[arg-type]


def _writer(path: str, worker: int, count: int) -> None:
    cache = GradeCache(Path(path))
    grade = Grade(question_id="q", score=1, band="poor", method="llm", concepts=[])
    for i in range(count):
        cache.put(f"{worker}-{i}", grade)
        assert cache.get(f"{worker}-{i}") is not None


def test_concurrent_writers_in_several_processes(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), w, 25)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM llm_grades").fetchone()[0] == 100
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unusable_cache_does_not_stop_grading(grader_home: Path) -> None:
    (grader_home / CACHE_FILE).mkdir(parents=True)  # a directory where the database should be
    question, rubric = question_and_rubric()
    with serve([chat_reply(verdict())]) as server:
        result = grade_answer(question, rubric, GOOD_ANSWER, llm_options(server.api_base, use_cache=True))
    assert result.method == "llm" and result.fallback_reason is None
