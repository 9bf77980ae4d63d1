"""A reviewer's corrections applied to results lines: corrected verdicts, the score computed again, a review mark.

Overrides are applied where a cohort is read (`reviewed_records`), so every view of a results file (`grade coverage`,
`grade report`, `grade batch --report`, the review app) shows the corrected grades; `overrides=False` shows the
machine's. A corrected line keeps the results line's shape with a `review` object added:

    {"candidate": ..., "key": ..., "grade": {<corrected grade>},
     "review": {"machine_score": 5.5, "machine_band": "fair", "machine_statuses": {concept id: status},
                "concepts": [concept ids set by the reviewer], "score_overridden": false,
                "reviewers": ["sam"], "at": "<time of the latest override>", "comments": {concept id or "": text}}}

The score of corrected verdicts is computed by `grader.scoring.rescore` (on the grade's recorded scale), only in
`rescore` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import scoring
from grader.cohort.overrides import Review, load_reviews
from grader.cohort.results import iter_records
from grader.models import Grade, Status
from grader.scoring import band_for


def rescore(grade: Mapping[str, Any], statuses: Mapping[str, Status]) -> float:
    """The score of `grade` (a results line's grade) with its concepts' statuses replaced by `statuses` (concept
    id -> status), on the grade's own scale and relevance (`grader.scoring.rescore`)."""
    machine = Grade.model_validate(grade)
    concepts = [c.model_copy(update={"status": statuses.get(c.id, c.status)}) for c in machine.concepts]
    return scoring.rescore(machine, concepts).score


def correct(record: dict[str, Any], review: Review) -> dict[str, Any]:
    """The results line `record` with its review applied (a new dict; `record` is left as it was)."""
    grade = record["grade"]
    concepts = grade.get("concepts") or []
    machine = {c["id"]: c.get("status", "missing") for c in concepts}
    statuses = {cid: o.status for cid, o in review.concepts.items() if cid in machine and o.status is not None}
    score = grade.get("score", 0.0)
    if any(machine[cid] != status for cid, status in statuses.items()):
        score = rescore(grade, statuses)
    if review.score is not None:
        score = review.score
    corrected = {
        **grade,
        "concepts": [{**c, "status": statuses[c["id"]]} if c["id"] in statuses else c for c in concepts],
        "score": score,
        "band": band_for(score),
    }
    overrides = [*review.concepts.values(), *([review.total] if review.total is not None else [])]
    comments = {(o.concept_id or ""): o.comment for o in overrides if o.comment}
    last = review.last
    return {
        **record,
        "grade": corrected,
        "review": {
            "machine_score": grade.get("score", 0.0),
            "machine_band": grade.get("band", ""),
            "machine_statuses": machine,
            "concepts": sorted(statuses),
            "score_overridden": review.score is not None,
            "reviewers": sorted({o.reviewer for o in overrides if o.reviewer}),
            "at": last.at if last is not None else "",
            "comments": comments,
        },
    }


def apply_reviews(records: Iterable[dict[str, Any]], reviews: Mapping[str, Review]) -> Iterator[dict[str, Any]]:
    """Each graded record with its review applied; records without one (and error lines) as they are."""
    for record in records:
        review = reviews.get(record["key"]) if reviews else None
        if review is not None and isinstance(record.get("grade"), dict):
            yield correct(record, review)
        else:
            yield record


def reviewed_records(results: Path, overrides: bool = True) -> Iterator[dict[str, Any]]:
    """The lines of a results file, corrected by the overrides file beside it unless `overrides` is False."""
    if not overrides:
        return iter_records(results)
    return apply_reviews(iter_records(results), load_reviews(results))


# --- reviewed answers as labelled data (grade calibrate --from-review) -----------------------------------------


@dataclass(frozen=True, slots=True)
class ConceptLabel:
    concept_id: str
    name: str
    machine: Status
    reviewer: Status


@dataclass(frozen=True, slots=True)
class ReviewedAnswer:
    """One reviewed answer: the machine's grade and the reviewer's, score and the concepts the reviewer set."""

    candidate: str
    question_id: str
    machine_score: float
    reviewed_score: float
    max_score: float
    concepts: tuple[ConceptLabel, ...]


def reviewed_answers(results: Path) -> list[ReviewedAnswer]:
    """The answers of a results file that a reviewer looked at (any override), the latest line of each
    (candidate, question), in file order."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in reviewed_records(results):
        if isinstance(record.get("grade"), dict):
            latest[(record["candidate"], record["question_id"])] = record
    answers = []
    for record in latest.values():
        review = record.get("review")
        if review is None:
            continue
        grade = record["grade"]
        names = {c["id"]: c.get("name", c["id"]) for c in grade.get("concepts") or ()}
        current = {c["id"]: c["status"] for c in grade.get("concepts") or ()}
        labels = tuple(
            ConceptLabel(cid, names[cid], review["machine_statuses"][cid], current[cid]) for cid in review["concepts"]
        )
        answers.append(
            ReviewedAnswer(
                candidate=record["candidate"],
                question_id=record["question_id"],
                machine_score=float(review["machine_score"]),
                reviewed_score=float(grade["score"]),
                max_score=float(grade.get("max_score", 10.0)),
                concepts=labels,
            )
        )
    return answers
