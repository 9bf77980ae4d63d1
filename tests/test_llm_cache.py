"""The SQLite cache: the same request is never sent twice, anything that shapes the reply changes the key."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import llm_support
import pytest
from fakeserver import chat_reply, error_reply, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, llm_options, question_and_rubric, verdict
from typer.testing import CliRunner

from grader.cli import app
from grader.llm import cache, prompt, schema
from grader.llm.cache import CACHE_FILE, GRADING_SOURCES, GradeCache, cache_key, code_version, source_digest
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
        args = [
            "--bank",
            str(BANK),
            "answer",
            "-q",
            QUESTION_ID,
            "--mode",
            "llm",
            "--model",
            "openai/smollm2",
            "--api-base",
            server.api_base,
            "--json",
            "--no-save",
        ]
        outputs = [runner.invoke(app, args, input=GOOD_ANSWER) for _ in range(2)]
        runner.invoke(app, [*args, "--no-cache"], input=GOOD_ANSWER)
    assert [json.loads(r.stdout)["usage"]["cached"] for r in outputs] == [False, True]
    assert len(server.seen) == 2


def key(**change: object) -> str:
    question, rubric = question_and_rubric()
    parts: dict[str, object] = {
        "question": question,
        "rubric": rubric,
        "answer": "an answer",
        "model": "openai/smollm2",
        "api_base": "http://127.0.0.1:1/v1",
        "samples": 1,
        "temperature": 0.0,
        "max_tokens": None,
        "templates": "t",
        "schema": "s",
        "code": "c",
    }
    return cache_key(**{**parts, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"model": "gpt-4o-mini"}, id="model"),
        pytest.param({"api_base": "http://127.0.0.1:2/v1"}, id="api-base"),
        pytest.param({"answer": "an answer!"}, id="answer"),
        pytest.param({"samples": 3}, id="samples"),
        pytest.param({"temperature": 0.7}, id="temperature"),
        pytest.param({"max_tokens": 500}, id="max-tokens"),
        pytest.param({"templates": "t2"}, id="templates"),
        pytest.param({"schema": "s2"}, id="schema"),
        pytest.param({"code": "c2"}, id="code-version"),
    ],
)
def test_everything_that_shapes_the_grade_is_in_the_key(change: dict[str, object]) -> None:
    assert key() != key(**change)


def test_question_text_and_rubric_content_are_in_the_key() -> None:
    question, rubric = question_and_rubric()
    reworded = question.model_copy(update={"text": question.text + " Explain."})
    edited = rubric.model_copy(update={"model_answer": rubric.model_answer + " More."})
    assert key(question=reworded) != key()
    assert key(rubric=edited) != key()
    assert key(rubric=rubric.model_copy()) == key() == key(question=question.model_copy())


def cached_grade_requests(monkeypatch: pytest.MonkeyPatch, edit: Callable[[], None]) -> int:
    """Requests made to grade the same answer twice, with `edit` done between the two grades."""
    question, rubric = question_and_rubric()
    with serve([chat_reply(verdict())]) as server:
        options = llm_options(server.api_base, use_cache=True)
        grade_answer(question, rubric, GOOD_ANSWER, options)
        edit()
        question, rubric = question_and_rubric()
        grade_answer(question, rubric, GOOD_ANSWER, options)
    return len(server.seen)


def test_grading_again_unchanged_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cached_grade_requests(monkeypatch, lambda: None) == 1


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda mp, b: mp.setattr(prompt, "SYSTEM_TEMPLATE", prompt.SYSTEM_TEMPLATE + " Be fair."),
                     id="system-template"),
        pytest.param(lambda mp, b: mp.setattr(prompt, "CONCEPT_LINE", "* {id}: {name}. {description}"),
                     id="concept-line"),
        pytest.param(lambda mp, b: mp.setattr(schema, "MAX_REASON_CHARS", 80), id="schema-limit"),
        pytest.param(lambda mp, b: _rewrite(b / "questions" / "01-deploy.yaml", "blue-green deployment?",
                                            "blue-green deployment, and why use one?"), id="question-text"),
        pytest.param(lambda mp, b: _rewrite(b / "rubrics" / "deploy-1.yaml", "weight: 2", "weight: 3"),
                     id="rubric-weight"),
        pytest.param(lambda mp, b: mp.setattr(cache, "code_version", lambda: "edited scoring"), id="code"),
    ],
)  # fmt: skip
def test_editing_a_question_a_rubric_a_template_or_the_code_asks_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, edit: Callable[[pytest.MonkeyPatch, Path], None]
) -> None:
    bank = tmp_path / "bank"
    shutil.copytree(BANK, bank)
    monkeypatch.setattr(llm_support, "BANK", bank)
    assert cached_grade_requests(monkeypatch, lambda: edit(monkeypatch, bank)) == 2


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_code_version_is_a_digest_of_the_grading_sources(tmp_path: Path) -> None:
    (tmp_path / "llm").mkdir()
    (tmp_path / "scoring.py").write_text("CREDIT = 1\n")
    (tmp_path / "llm" / "grader.py").write_text("X = 1\n")
    names = ("scoring.py", "llm")
    before = source_digest(tmp_path, names)
    assert source_digest(tmp_path, names) == before
    (tmp_path / "scoring.py").write_text("CREDIT = 1  # a curve\n")
    assert source_digest(tmp_path, names) != before
    (tmp_path / "scoring.py").write_text("CREDIT = 1\n")
    (tmp_path / "llm" / "new.py").write_text("")
    assert source_digest(tmp_path, names) != before
    assert {"scoring.py", "llm", "keyword"} <= set(GRADING_SOURCES)
    assert len(code_version()) == 64


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
