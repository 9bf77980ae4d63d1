"""Mastery from known grades: pure tables over a small bank, then through the CLI with the kit's answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from practice_bank import QUESTIONS, RUBRICS
from typer.testing import CliRunner

from grader.bank.loader import Bank
from grader.cli import app
from grader.models import ConceptResult, Grade
from grader.practice.history import Attempt
from grader.practice.progress import compute_progress
from grader.scoring import CREDIT, band_for, compute_score

KIT_DIR = Path(__file__).parent / "kit"


def small_bank() -> Bank:
    return Bank(
        root=Path("."),
        questions=dict(QUESTIONS),
        titles={"alpha": "Alpha things", "beta": "Beta things"},
        _rubrics=dict(RUBRICS),
    )


def attempt(n: int, qid: str, source: str = "answer", **statuses: str) -> Attempt:
    """Attempt number `n` at `qid` with the given concept statuses (weights and names from RUBRICS)."""
    weights = {c.id: c for c in RUBRICS[qid].concepts}
    results = [
        ConceptResult(id=cid, name=weights[cid].name, weight=weights[cid].weight, status=status)  # type: ignore[arg-type]
        for cid, status in statuses.items()
    ]
    score = compute_score(results, scale=None)  # the plain share, so that the tables below read easily
    grade = Grade(question_id=qid, score=score, band=band_for(score), method="keyword", concepts=results)
    return Attempt(
        id=n,
        created_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        question_id=qid,
        category=QUESTIONS[qid].category,
        source=source,
        method="keyword",
        rubric_version=1,
        score=score,  # type: ignore[arg-type]
        max_score=10,
        band=grade.band,
        answer="...",
        grade=grade,
    )


HISTORY = [
    attempt(1, "a-1", x="missing", y="partial"),  # score 1.7
    attempt(2, "a-1", x="covered", y="missing"),  # score 6.7
    attempt(3, "a-2", z="covered"),  # score 10
    attempt(4, "a-1", "follow-up", x="partial"),  # one concept: counts for x, never for a score
]


def progress():
    return compute_progress(HISTORY, small_bank())


@pytest.mark.parametrize(
    ("key", "latest", "best", "trend", "misses", "series"),
    [
        pytest.param(("a-1", "x"), 0.5, 1.0, -0.5, 1, [0.0, 1.0, 0.5], id="x-follow-up-counts"),
        pytest.param(("a-1", "y"), 0.0, 0.5, -0.5, 1, [0.5, 0.0], id="y-slipped"),
        pytest.param(("a-2", "z"), 1.0, 1.0, None, 0, [1.0], id="z-single-attempt-no-trend"),
    ],
)
def test_concept_mastery(key, latest, best, trend, misses, series) -> None:
    by_key = {(c.question_id, c.concept_id): c for c in progress().concepts}
    mastery = by_key[key]
    assert (mastery.latest, mastery.best, mastery.trend, mastery.misses) == (latest, best, trend, misses)
    assert mastery.series == series and mastery.attempts == len(series)


def test_concepts_follow_bank_order() -> None:
    assert [(c.question_id, c.concept_id) for c in progress().concepts] == [("a-1", "x"), ("a-1", "y"), ("a-2", "z")]


@pytest.mark.parametrize(
    ("category", "answered", "questions", "attempts", "latest", "best", "trend"),
    [
        # a-1 goes 0.17 -> 0.67, then a-2 answered at 1.0: mean of latest per question = (0.67 + 1.0) / 2
        pytest.param("alpha", 2, 3, 3, (0.67 + 1.0) / 2, (0.67 + 1.0) / 2, (0.67 + 1.0) / 2 - 0.67, id="alpha"),
        pytest.param("beta", 0, 1, 0, None, None, None, id="beta-untouched"),
    ],
)
def test_category_mastery(category, answered, questions, attempts, latest, best, trend) -> None:
    row = next(c for c in progress().categories if c.category == category)
    assert (row.answered, row.questions, row.attempts) == (answered, questions, attempts)
    approx = (lambda v: v) if latest is None else (lambda v: pytest.approx(v, abs=1e-3))
    assert row.latest == approx(latest) and row.best == approx(best) and row.trend == approx(trend)


def test_best_is_per_question_best_not_latest() -> None:
    history = [attempt(1, "a-1", x="covered", y="covered"), attempt(2, "a-1", x="missing", y="missing")]
    row = compute_progress(history, small_bank()).categories[0]
    assert (row.latest, row.best, row.trend, row.series) == (0.0, 1.0, -1.0, [1.0, 0.0])


def test_most_missed_and_study_plan() -> None:
    history = [
        attempt(1, "a-1", x="missing", y="missing"),
        attempt(2, "a-1", x="missing", y="covered"),
        attempt(3, "a-2", z="partial"),
        attempt(4, "b-1", w="missing"),
    ]
    report = compute_progress(history, small_bank())
    assert [(c.concept_id, c.misses) for c in report.most_missed] == [("x", 2), ("w", 1), ("y", 1)]
    # weakest first (latest 0: x weight 2 before w weight 1), then z at 0.5; covered y is not in the plan
    assert [p.concept_id for p in report.plan] == ["x", "w", "z"]
    first = report.plan[0]
    assert (first.description, first.follow_up, first.latest, first.misses) == (
        "What x means.",
        "Tell me more about x?",
        0.0,
        2,
    )
    assert (report.attempts, report.questions_answered) == (4, 3)


def test_plan_skips_concepts_no_longer_in_the_rubric() -> None:
    gone = attempt(1, "a-1", x="missing", y="missing")
    gone.grade.concepts[0].id = "old-concept"
    report = compute_progress([gone], small_bank())
    assert [p.concept_id for p in report.plan] == ["y"]
    assert {c.concept_id for c in report.concepts} == {"old-concept", "y"}


def test_category_filter() -> None:
    report = compute_progress([*HISTORY, attempt(5, "b-1", w="covered")], small_bank(), category="beta")
    assert [c.category for c in report.categories] == ["beta"]
    assert [c.concept_id for c in report.concepts] == ["w"] and report.attempts == 1


def test_no_history() -> None:
    report = compute_progress([], small_bank())
    assert report.attempts == 0 and report.concepts == [] and report.plan == [] and report.most_missed == []
    assert [c.answered for c in report.categories] == [0, 0]


# --- through the CLI, with the kit's answers -------------------------------------------------------


def kit_answer(question_id: str, kind: str) -> str:
    return yaml.safe_load((KIT_DIR / f"{question_id}.yaml").read_text(encoding="utf-8"))[kind]


def grade_via_cli(runner: CliRunner, question_id: str, kind: str) -> dict:
    result = runner.invoke(app, ["answer", "-q", question_id, "--json"], input=kit_answer(question_id, kind))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_progress_from_known_grades_through_the_cli(runner: CliRunner) -> None:
    weak = grade_via_cli(runner, "cicd-3", "weak")
    strong = grade_via_cli(runner, "cicd-3", "strong")
    partial = grade_via_cli(runner, "cicd-3", "partial")
    other = grade_via_cli(runner, "security-3", "strong")
    assert weak["score"] < partial["score"] < strong["score"]  # the kit's premise, so the checks below bite

    result = runner.invoke(app, ["progress", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["attempts"], report["questions_answered"]) == (4, 2)

    cicd = next(c for c in report["categories"] if c["category"] == "cicd")
    scores = [weak["score"] / 10, strong["score"] / 10, partial["score"] / 10]
    assert (cicd["answered"], cicd["attempts"], cicd["series"]) == (1, 3, scores)
    assert cicd["latest"] == pytest.approx(partial["score"] / 10)
    assert cicd["best"] == pytest.approx(strong["score"] / 10)
    assert cicd["trend"] == pytest.approx((partial["score"] - strong["score"]) / 10)
    security = next(c for c in report["categories"] if c["category"] == "security")
    assert security["latest"] == pytest.approx(other["score"] / 10) and security["trend"] is None

    concepts = {(c["question_id"], c["concept_id"]): c for c in report["concepts"]}
    for index, result_concept in enumerate(partial["concepts"]):
        statuses = [g["concepts"][index]["status"] for g in (weak, strong, partial)]
        credits = [CREDIT[s] for s in statuses]
        row = concepts[("cicd-3", result_concept["id"])]
        assert row["series"] == credits and row["latest"] == credits[-1] and row["best"] == max(credits)
        assert row["trend"] == pytest.approx(credits[-1] - credits[-2])
        assert row["misses"] == statuses.count("missing")

    # the study plan: the weakest concepts with the rubric's own descriptions
    assert report["plan"], "the partial answer leaves concepts to study"
    weakest = min(row["latest"] for row in report["concepts"])
    assert concepts[(report["plan"][0]["question_id"], report["plan"][0]["concept_id"])]["latest"] == weakest
    from grader.bank.loader import load_bank

    rubric = load_bank().rubric(report["plan"][0]["question_id"])
    described = {c.id: c.description for c in rubric.concepts}
    assert report["plan"][0]["description"] == described[report["plan"][0]["concept_id"]]

    view = runner.invoke(app, ["progress"])
    assert view.exit_code == 0, view.stderr
    text = " ".join(view.stdout.split())
    assert "4 attempts on 2 questions" in text and "Deployment & CI/CD" in text
    assert "Study plan" in text and "Missed most often" in text


def test_progress_unknown_category(runner: CliRunner) -> None:
    result = runner.invoke(app, ["progress", "--category", "nope"])
    assert result.exit_code == 2 and "unknown category 'nope'" in result.stderr


def test_progress_with_no_history(runner: CliRunner) -> None:
    result = runner.invoke(app, ["progress"])
    assert result.exit_code == 0 and "No attempts saved yet" in result.stdout
