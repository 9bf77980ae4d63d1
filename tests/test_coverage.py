"""Cohort concept coverage from results lines (grader.cohort.coverage) and `grade coverage`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_STORAGE
from grader.cohort.coverage import candidate_summaries, cohort_of, natural_key, question_summaries

CONCEPTS = (("switch", "Traffic switch", 3.0), ("canary", "Gradual canary", 2.0), ("flags", "Feature flags", 1.0))


def graded(candidate: str, statuses: str, question: str = "cicd-3", score: float | None = None) -> dict[str, Any]:
    """A results line; `statuses` is one letter per concept: c(overed), p(artial), m(issing)."""
    full = {"c": "covered", "p": "partial", "m": "missing"}
    concepts = [
        {"id": cid, "name": name, "weight": weight, "status": full[letter]}
        for (cid, name, weight), letter in zip(CONCEPTS, statuses, strict=True)
    ]
    return {
        "candidate": candidate,
        "question_id": question,
        "source": f"{candidate}/{question}.md",
        "key": f"{candidate}-{question}-{statuses}",
        "grade": {
            "question_id": question,
            "score": score if score is not None else 5.0,
            "max_score": 10,
            "band": "fair",
            "method": "keyword",
            "concepts": concepts,
            "fallback_reason": None,
            "flags": [],
        },
    }


def error(candidate: str, question: str = "cicd-3") -> dict[str, Any]:
    return {
        "candidate": candidate,
        "question_id": question,
        "source": f"{candidate}/{question}.md",
        "key": "e",
        "error": "the answer is empty",
        "exit_kind": "answer",
    }


def test_coverage_per_concept_uses_partial_credit() -> None:
    cohort = cohort_of([graded("a", "cpm"), graded("b", "ccm"), graded("c", "mpm"), graded("d", "cmp")])
    (question,) = question_summaries(cohort)
    by_id = {c.concept.id: c for c in question.concepts}
    assert (by_id["switch"].covered, by_id["switch"].partial, by_id["switch"].missing) == (3, 0, 1)
    assert by_id["switch"].coverage == pytest.approx(0.75)
    assert by_id["canary"].coverage == pytest.approx((1 + 0.5 + 0.5) / 4)
    assert by_id["flags"].coverage == pytest.approx(0.5 / 4)
    assert [c.concept.id for c in question.most_missed()] == ["flags", "canary", "switch"]
    assert question.answers == 4


def test_latest_grade_wins_and_a_grade_supersedes_an_error() -> None:
    cohort = cohort_of([error("a"), graded("a", "mmm", score=1.0), graded("a", "ccc", score=9.0), error("b")])
    assert cohort.answers[("a", "cicd-3")].score == 9.0
    assert ("a", "cicd-3") not in cohort.errors
    assert ("b", "cicd-3") in cohort.errors
    (question,) = question_summaries(cohort)
    assert (question.answers, question.failed) == (1, 1)


def test_an_error_after_a_grade_does_not_hide_the_grade() -> None:
    cohort = cohort_of([graded("a", "ccc"), error("a")])
    assert ("a", "cicd-3") in cohort.answers and not cohort.errors


def test_candidate_weakest_concepts_missing_first_then_heavier() -> None:
    cohort = cohort_of([graded("a", "pmm", score=2.0), graded("a", "cpc", question="cicd-4", score=8.0)])
    (summary,) = candidate_summaries(cohort, weakest=5)
    assert [(w.question_id, w.concept.id, w.status) for w in summary.weakest] == [
        ("cicd-3", "canary", "missing"),
        ("cicd-3", "flags", "missing"),
        ("cicd-3", "switch", "partial"),
        ("cicd-4", "canary", "partial"),
    ]
    assert (summary.answers, summary.total, summary.possible, summary.mean) == (2, 10.0, 20.0, 5.0)
    assert summary.percent == 50.0


def test_unreadable_lines_do_not_invent_a_candidate() -> None:
    cohort = cohort_of([graded("a", "ccc"), error("?", "?")])
    assert cohort.candidates == ["a"]
    assert len(cohort.errors) == 1


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        pytest.param(["infra-10", "infra-2", "cicd-1"], ["cicd-1", "infra-2", "infra-10"], id="numbers"),
        pytest.param(["Bob", "alice", "carol"], ["alice", "Bob", "carol"], id="case"),
    ],
)
def test_natural_order(ids: list[str], expected: list[str]) -> None:
    assert sorted(ids, key=natural_key) == expected


# --- grade coverage --------------------------------------------------------------------------------


def results_file(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_cli_coverage_terminal_view(runner: CliRunner, tmp_path: Path) -> None:
    path = results_file(tmp_path / "r.jsonl", [graded("alice", "ccm"), graded("bob", "cmm"), graded("carol", "cpm")])
    result = runner.invoke(app, ["coverage", str(path)], env={"COLUMNS": "150"})
    assert result.exit_code == EXIT_OK, result.stderr
    text = result.stdout
    assert text.index("Feature flags") < text.index("Gradual canary") < text.index("Traffic switch")  # most missed
    assert "alice" in text and "bob" in text and "0%" in text


def test_cli_coverage_json_and_filters(runner: CliRunner, tmp_path: Path) -> None:
    path = results_file(
        tmp_path / "r.jsonl",
        [graded("alice", "ccm"), graded("bob", "mmm"), graded("bob", "ccc", question="cicd-4")],
    )
    result = runner.invoke(app, ["coverage", str(path), "--json", "--question", "cicd-3", "--candidate", "bob"])
    assert result.exit_code == EXIT_OK
    data = json.loads(result.stdout)
    assert [q["question_id"] for q in data["questions"]] == ["cicd-3"]
    assert [c["candidate"] for c in data["candidates"]] == ["bob"]
    assert data["questions"][0]["concepts"][0] == {
        "id": "switch", "name": "Traffic switch", "coverage": 0.0, "covered": 0, "partial": 0, "missing": 1,
    }  # fmt: skip


def test_cli_coverage_writes_a_report(runner: CliRunner, tmp_path: Path) -> None:
    path = results_file(tmp_path / "r.jsonl", [graded("alice", "ccm")])
    result = runner.invoke(app, ["coverage", str(path), "--report", str(tmp_path / "cov.md")])
    assert result.exit_code == EXIT_OK
    assert "| Traffic switch |" in (tmp_path / "cov.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        pytest.param("", EXIT_FAILURE, "no results", id="empty"),
        pytest.param("garbage\n", EXIT_STORAGE, "not a results line", id="not-results"),
    ],
)
def test_cli_coverage_bad_files(runner: CliRunner, tmp_path: Path, content: str, code: int, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["coverage", str(path)])
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr
