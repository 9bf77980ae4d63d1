"""The overrides file (grader.cohort.overrides) and corrected grades everywhere downstream (grader.cohort.corrections):
`grade report`, `grade coverage`, `--no-overrides`, and `grade calibrate --from-review`."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from review_support import graded_results, record_of, records
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.common import EXIT_FAILURE, EXIT_STORAGE, EXIT_USAGE
from grader.cohort.corrections import correct, rescore, reviewed_answers, reviewed_records
from grader.cohort.coverage import load_cohort
from grader.cohort.overrides import (
    Override,
    append_override,
    overrides_path,
    parse_override,
    read_overrides,
    reviews_of,
)
from grader.errors import StorageError
from grader.keyword.reference import derive_rubric
from grader.models import ConceptResult, Question
from grader.pipeline import grade_by_keywords
from grader.scoring import band_for, compute_score


def override(key: str = "k1", concept: str | None = "c1", **values: Any) -> Override:
    return Override("alice", "cicd-3", key, concept, reviewer="sam", at="2025-05-01T09:00:00+00:00", **values)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("results.jsonl", "results.overrides.jsonl", id="jsonl"),
        pytest.param("cohort.ndjson", "cohort.overrides.jsonl", id="ndjson"),
        pytest.param("results", "results.overrides.jsonl", id="no-suffix"),
        pytest.param("a.b.jsonl", "a.b.overrides.jsonl", id="dots"),
    ],
)
def test_overrides_file_sits_beside_the_results(name: str, expected: str, tmp_path: Path) -> None:
    assert overrides_path(tmp_path / name) == tmp_path / expected


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"concept": "c1"}, id="concept-without-status"),
        pytest.param({"concept": "c1", "status": "great"}, id="unknown-status"),
        pytest.param({"concept": None, "status": "covered"}, id="total-with-status"),
        pytest.param({"concept": None, "score": 11.0}, id="score-above-10"),
        pytest.param({"concept": None, "score": -0.5}, id="negative-score"),
        pytest.param({"concept": None, "score": float("nan")}, id="nan-score"),
        pytest.param({"concept": "c1", "status": "covered", "comment": "x" * 2001}, id="long-comment"),
    ],
)
def test_invalid_overrides_are_refused(values: dict[str, Any]) -> None:
    concept = values.pop("concept")
    with pytest.raises(ValueError):
        override(concept=concept, **values)


def test_a_line_has_exactly_the_documented_fields() -> None:
    concept = json.loads(override(status="partial", comment="only names it").to_json())
    assert concept == {
        "candidate": "alice", "question_id": "cicd-3", "key": "k1", "concept_id": "c1", "status": "partial",
        "comment": "only names it", "reviewer": "sam", "at": "2025-05-01T09:00:00+00:00",
    }  # fmt: skip
    total = json.loads(override(concept=None, score=6.5).to_json())
    assert total["concept_id"] is None and total["score"] == 6.5 and "status" not in total
    assert parse_override(override(status="missing").to_json()) == override(status="missing")


def test_the_latest_override_of_a_key_and_concept_wins(tmp_path: Path) -> None:
    path = tmp_path / "r.overrides.jsonl"
    for item in (
        override(status="missing"), override(status="covered"), override(concept="c2", status="partial"),
        override(concept=None, score=4.0), override(concept=None, score=None), override(key="k2", status="missing"),
    ):  # fmt: skip
        append_override(path, item)
    reviews = reviews_of(read_overrides(path)[0])
    assert {cid: o.status for cid, o in reviews["k1"].concepts.items()} == {"c1": "covered", "c2": "partial"}
    assert reviews["k1"].score is None  # withdrawn by the later line
    assert reviews["k2"].concepts["c1"].status == "missing"


def test_a_torn_last_line_is_ignored_then_cut_off_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "r.overrides.jsonl"
    append_override(path, override(status="covered"))
    with path.open("ab") as handle:
        handle.write(b'{"candidate": "alice", "question_id": "cic')  # a crash while writing
    found, offset = read_overrides(path)
    assert [o.status for o in found] == ["covered"] and offset < path.stat().st_size
    append_override(path, override(status="missing"))
    assert [o.status for o in read_overrides(path)[0]] == ["covered", "missing"]
    assert path.read_bytes().count(b"\n") == 2


def test_a_line_that_is_not_an_override_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "r.overrides.jsonl"
    path.write_text(override(status="covered").to_json() + "\nnot json\n" + override(status="missing").to_json() + "\n")
    with pytest.raises(StorageError, match="line 2 is not an override"):
        read_overrides(path)


def test_reading_on_from_an_offset_sees_only_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.overrides.jsonl"
    append_override(path, override(status="covered"))
    first, offset = read_overrides(path)
    append_override(path, override(status="partial"))
    later, _ = read_overrides(path, offset)
    assert [o.status for o in first] == ["covered"] and [o.status for o in later] == ["partial"]


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.overrides.jsonl"

    def write(key: str) -> None:
        for index in range(40):
            append_override(path, override(key=key, concept=f"c{index}", status="covered", comment="é" * 300))

    threads = [threading.Thread(target=write, args=(f"k{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found, _ = read_overrides(path)
    assert len(found) == 160 and {(o.key, o.concept_id) for o in found} == {
        (f"k{n}", f"c{i}") for n in range(4) for i in range(40)
    }


# --- corrections ------------------------------------------------------------------------------------------------


def test_a_concept_override_recomputes_the_score_with_compute_score(tmp_path: Path) -> None:
    results = graded_results(tmp_path)
    record = record_of(results, "bob", "cicd-3")
    grade = record["grade"]
    missing = next(c["id"] for c in grade["concepts"] if c["status"] == "missing")
    review = reviews_of([override(key=record["key"], concept=missing, status="covered")])[record["key"]]
    corrected = correct(record, review)["grade"]
    concepts = [ConceptResult(**{**c, "status": "covered" if c["id"] == missing else c["status"]})
                for c in grade["concepts"]]  # fmt: skip
    expected = compute_score(concepts, [], grade["flags"])
    assert corrected["score"] == expected > grade["score"]
    assert corrected["band"] == band_for(expected)
    assert next(c for c in corrected["concepts"] if c["id"] == missing)["status"] == "covered"
    assert record["grade"]["score"] == grade["score"]  # the machine's line is left as it was


def test_a_total_override_replaces_the_score_and_its_band(tmp_path: Path) -> None:
    record = record_of(graded_results(tmp_path), "alice", "cicd-3")
    reviews = reviews_of([override(key=record["key"], concept=None, score=3.5, comment="copied")])
    corrected = correct(record, reviews[record["key"]])
    assert (corrected["grade"]["score"], corrected["grade"]["band"]) == (3.5, "weak")
    assert corrected["review"]["score_overridden"] and corrected["review"]["comments"] == {"": "copied"}
    assert corrected["review"]["machine_score"] == record["grade"]["score"]


def test_a_reference_grade_keeps_its_scale_when_rescored() -> None:
    question = Question(
        id="lb", category="x", text="Why use a load balancer?",
        reference="A load balancer spreads traffic across healthy servers, removes failed ones by health checks, "
        "and lets you scale horizontally.",
    )  # fmt: skip
    grade = grade_by_keywords(derive_rubric(question), "It spreads traffic over servers and uses health checks.")
    assert grade.method == "reference"
    data = grade.model_dump()
    assert rescore(data, {}) == grade.score  # the machine's verdicts give the machine's score
    missing = next(c.id for c in grade.concepts if c.status == "missing")
    plain = compute_score([c.model_copy(update={"status": "covered"}) if c.id == missing else c
                           for c in grade.concepts], scale=None)  # fmt: skip
    assert rescore(data, {missing: "covered"}) > plain  # on the concave curve, not the plain share


def test_reports_and_coverage_show_corrected_grades_unless_asked_not_to(tmp_path: Path, runner: CliRunner) -> None:
    results = graded_results(tmp_path)
    record = record_of(results, "alice", "cicd-3")
    append_override(overrides_path(results), override(key=record["key"], concept=None, score=1.2))
    assert load_cohort(results).answers[("alice", "cicd-3")].score == 1.2
    assert load_cohort(results).answers[("alice", "cicd-3")].reviewed
    assert load_cohort(results, overrides=False).answers[("alice", "cicd-3")].score == record["grade"]["score"]

    out = tmp_path / "report.csv"
    result = runner.invoke(app, ["report", str(results), "--out", str(out), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    rows = {(r["candidate"], r["question_id"]): r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert (rows[("alice", "cicd-3")]["score"], rows[("alice", "cicd-3")]["reviewed"]) == ("1.2", "yes")
    assert rows[("bob", "cicd-3")]["reviewed"] == ""
    html = (tmp_path / "r.html").read_text()
    assert "<span class=\"muted\">reviewed</span>" in html
    assert html.count(' rev"') == len(record["grade"]["concepts"])  # alice's cicd-3 column in the heatmap

    result = runner.invoke(app, ["report", str(results), "--out", str(out), "--no-overrides"])
    rows = {(r["candidate"], r["question_id"]): r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows[("alice", "cicd-3")]["score"] == f"{record['grade']['score']:.1f}"

    cov = runner.invoke(app, ["coverage", str(results), "--json", "--candidate", "alice", "--question", "cicd-3"])
    assert json.loads(cov.stdout)["candidates"][0]["mean"] == 1.2
    cov = runner.invoke(app, ["coverage", str(results), "--json", "--candidate", "alice", "--question", "cicd-3",
                              "--no-overrides"])  # fmt: skip
    assert json.loads(cov.stdout)["candidates"][0]["mean"] == round(record["grade"]["score"], 2)
    assert len(records(results)) == 5  # the results file was never touched


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["--out", "r.pdf"], EXIT_USAGE, "unknown report format", id="format"),
        pytest.param(["--out", "r.md"], EXIT_STORAGE, "line 1 is not an override", id="broken-overrides"),
    ],
)
def test_report_errors(args: list[str], code: int, message: str, tmp_path: Path, runner: CliRunner) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps({"candidate": "a", "question_id": "q", "source": "s", "key": "k", "error": "x"}))
    overrides_path(results).write_text("garbage\n")
    paths = [str(tmp_path / a) if a.startswith("r.") else a for a in args]
    result = runner.invoke(app, ["report", str(results), *paths])
    assert result.exit_code == code and message in result.stderr


# --- grade calibrate --from-review -------------------------------------------------------------------------------


def test_calibrate_from_review_gives_score_and_concept_agreement(tmp_path: Path, runner: CliRunner) -> None:
    results = graded_results(tmp_path)
    path = overrides_path(results)
    alice, bob = record_of(results, "alice", "cicd-3"), record_of(results, "bob", "cicd-3")
    for concept in alice["grade"]["concepts"]:  # confirmed as the machine graded it
        append_override(path, override(key=alice["key"], concept=concept["id"], status=concept["status"]))
    flipped = [c for c in bob["grade"]["concepts"] if c["status"] == "missing"][:2]
    for concept in bob["grade"]["concepts"]:
        status = "covered" if concept in flipped else concept["status"]
        append_override(path, override(key=bob["key"], concept=concept["id"], status=status))
    security = record_of(results, "alice", "security-3")
    append_override(path, override(key=security["key"], concept=None, score=2.0))

    answers = reviewed_answers(results)
    assert {(a.candidate, a.question_id) for a in answers} == {("alice", "cicd-3"), ("bob", "cicd-3"),
                                                               ("alice", "security-3")}  # fmt: skip
    mapping = tmp_path / "mapping.json"
    result = runner.invoke(app, ["calibrate", "--from-review", str(results), "--json", "--fit", str(mapping)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    labelled = len(alice["grade"]["concepts"]) + len(bob["grade"]["concepts"])
    assert figures["answers"] == 3 and figures["n"] == 3
    assert figures["concepts"]["n"] == labelled
    assert figures["concepts"]["agree"] == labelled - 2 and figures["concepts"]["under"] == 2
    assert figures["concepts"]["over"] == 0
    bob_reviewed = next(a for a in answers if a.candidate == "bob").reviewed_score
    assert bob_reviewed > bob["grade"]["score"]
    expected_mae = (abs(bob_reviewed - bob["grade"]["score"]) + abs(2.0 - security["grade"]["score"])) / 3
    assert figures["mae"] == pytest.approx(expected_mae, abs=1e-3)
    assert json.loads(mapping.read_text())["kind"] == "isotonic"

    text = runner.invoke(app, ["calibrate", "--from-review", str(results)], env={"COLUMNS": "160"})
    assert text.exit_code == 0 and "reviewed answers" in text.stdout and "over-credited" in text.stdout


def test_calibrate_from_review_without_reviews_or_with_a_labelled_file(tmp_path: Path, runner: CliRunner) -> None:
    results = graded_results(tmp_path)
    result = runner.invoke(app, ["calibrate", "--from-review", str(results)])
    assert result.exit_code == EXIT_FAILURE and "no reviewed answers" in result.stderr
    result = runner.invoke(app, ["calibrate", str(results), "--from-review", str(results)])
    assert result.exit_code == EXIT_USAGE and "one of them" in result.stderr
    assert list(reviewed_records(results)) == records(results)  # no overrides: the lines as they are
