"""Concept coverage across a cohort: read a results file, then which concepts who covered, per question
and per candidate. Used by `grade coverage` and by the batch reports.

The latest graded line of each (candidate, question) counts; an error line counts only while that
(candidate, question) has no grade. Partial credit comes from `grader.scoring.CREDIT`, as in scores. A reviewer's
overrides (`grader.cohort.corrections`) are applied by `load_cohort` unless asked not to; such answers are `reviewed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cohort.corrections import reviewed_records
from grader.cohort.inputs import UNKNOWN
from grader.models import Status
from grader.scoring import CREDIT

Pair = tuple[str, str]  # (candidate, question_id)


@dataclass(frozen=True, slots=True)
class ConceptInfo:
    id: str
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """What a report needs of one graded answer (never the answer text or the evidence)."""

    candidate: str
    question_id: str
    source: str
    score: float
    max_score: float
    band: str
    method: str
    fallback: bool
    flags: tuple[str, ...]
    statuses: dict[str, Status]  # concept id -> status
    model: str | None = None  # the model that graded it, if one did
    reviewed: bool = False  # a reviewer's overrides were applied (see grader.cohort.corrections)


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    candidate: str
    question_id: str
    source: str
    error: str
    exit_kind: str


@dataclass
class Cohort:
    """The graded answers of a results file, one per (candidate, question), and each question's concepts."""

    answers: dict[Pair, AnswerRecord] = field(default_factory=dict)
    errors: dict[Pair, ErrorRecord] = field(default_factory=dict)
    concepts: dict[str, dict[str, ConceptInfo]] = field(default_factory=dict)  # question -> id -> concept

    @property
    def candidates(self) -> list[str]:
        named = {c for c, _ in self.errors if c != UNKNOWN}  # a line too broken to name its candidate is no one
        return sorted({c for c, _ in self.answers} | named, key=natural_key)

    @property
    def questions(self) -> list[str]:
        return sorted(self.concepts, key=natural_key)

    def add(self, record: dict[str, Any]) -> None:
        pair = (record["candidate"], record["question_id"])
        grade = record.get("grade")
        if isinstance(grade, dict):
            self.answers[pair] = self._answer(record, grade)
            self.errors.pop(pair, None)
        elif pair not in self.answers:
            self.errors[pair] = ErrorRecord(
                *pair, record["source"], record.get("error", ""), record.get("exit_kind") or "internal"
            )

    def _answer(self, record: dict[str, Any], grade: dict[str, Any]) -> AnswerRecord:
        question_id = record["question_id"]
        known = self.concepts.setdefault(question_id, {})
        statuses: dict[str, Status] = {}
        for concept in grade.get("concepts") or ():
            concept_id = concept["id"]
            if concept_id not in known:
                known[concept_id] = ConceptInfo(concept_id, concept.get("name", concept_id), concept.get("weight", 1))
            statuses[concept_id] = concept.get("status", "missing")
        return AnswerRecord(
            candidate=record["candidate"],
            question_id=question_id,
            source=record["source"],
            score=float(grade.get("score", 0.0)),
            max_score=float(grade.get("max_score", 10.0)),
            band=str(grade.get("band", "")),
            method=str(grade.get("method", "")),
            fallback=grade.get("fallback_reason") is not None,
            flags=tuple(grade.get("flags") or ()),
            statuses=statuses,
            model=grade.get("model") if grade.get("fallback_reason") is None else None,
            reviewed="review" in record,
        )


def load_cohort(path: Path, overrides: bool = True) -> Cohort:
    """The cohort of a results file (a StorageError if it is not one), corrected by its overrides file unless
    `overrides` is False."""
    return cohort_of(reviewed_records(path, overrides))


def cohort_of(records: Iterable[dict[str, Any]]) -> Cohort:
    cohort = Cohort()
    for record in records:
        cohort.add(record)
    return cohort


# --- per question -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConceptCoverage:
    question_id: str
    concept: ConceptInfo
    covered: int
    partial: int
    missing: int

    @property
    def answers(self) -> int:
        return self.covered + self.partial + self.missing

    @property
    def coverage(self) -> float:
        """Share of the credit the cohort earned on this concept, 0..1."""
        if not self.answers:
            return 0.0
        earned = self.covered * CREDIT["covered"] + self.partial * CREDIT["partial"]
        return earned / self.answers

    @property
    def missed(self) -> float:
        """Share of answers that missed the concept entirely."""
        return self.missing / self.answers if self.answers else 0.0


@dataclass(frozen=True, slots=True)
class QuestionSummary:
    question_id: str
    answers: int
    failed: int
    mean: float
    low: float
    high: float
    bands: dict[str, int]
    concepts: list[ConceptCoverage]  # in rubric order

    def most_missed(self, limit: int | None = None) -> list[ConceptCoverage]:
        ranked = sorted(self.concepts, key=lambda c: (c.coverage, -c.concept.weight))
        return ranked[:limit] if limit is not None else ranked


def question_summaries(cohort: Cohort) -> list[QuestionSummary]:
    failed: dict[str, int] = {}
    for _, question_id in cohort.errors:
        failed[question_id] = failed.get(question_id, 0) + 1
    by_question: dict[str, list[AnswerRecord]] = {}
    for (_, question_id), answer in cohort.answers.items():
        by_question.setdefault(question_id, []).append(answer)
    summaries = []
    for question_id in cohort.questions:
        answers = by_question.get(question_id, [])
        scores = [a.score for a in answers]
        bands: dict[str, int] = {}
        for answer in answers:
            bands[answer.band] = bands.get(answer.band, 0) + 1
        summaries.append(
            QuestionSummary(
                question_id=question_id,
                answers=len(answers),
                failed=failed.get(question_id, 0),
                mean=sum(scores) / len(scores) if scores else 0.0,
                low=min(scores, default=0.0),
                high=max(scores, default=0.0),
                bands=bands,
                concepts=[_concept_coverage(question_id, c, answers) for c in cohort.concepts[question_id].values()],
            )
        )
    return summaries


def _concept_coverage(question_id: str, concept: ConceptInfo, answers: list[AnswerRecord]) -> ConceptCoverage:
    counts = {"covered": 0, "partial": 0, "missing": 0}
    for answer in answers:
        status = answer.statuses.get(concept.id)
        if status is not None:
            counts[status] += 1
    return ConceptCoverage(question_id, concept, counts["covered"], counts["partial"], counts["missing"])


# --- per candidate ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeakConcept:
    question_id: str
    concept: ConceptInfo
    status: Status


@dataclass(frozen=True, slots=True)
class CandidateSummary:
    candidate: str
    answers: int
    failed: int
    total: float
    possible: float
    fallbacks: int
    weakest: list[WeakConcept]  # missed, then partial; heavier concepts first

    @property
    def mean(self) -> float:
        return self.total / self.answers if self.answers else 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.possible if self.possible else 0.0


def candidate_summaries(cohort: Cohort, weakest: int = 3) -> list[CandidateSummary]:
    by_candidate: dict[str, list[AnswerRecord]] = {}
    for (candidate, _), answer in cohort.answers.items():
        by_candidate.setdefault(candidate, []).append(answer)
    failed: dict[str, int] = {}
    for candidate, _ in cohort.errors:
        failed[candidate] = failed.get(candidate, 0) + 1
    summaries = []
    for candidate in cohort.candidates:
        answers = sorted(by_candidate.get(candidate, []), key=lambda a: natural_key(a.question_id))
        summaries.append(
            CandidateSummary(
                candidate=candidate,
                answers=len(answers),
                failed=failed.get(candidate, 0),
                total=sum(a.score for a in answers),
                possible=sum(a.max_score for a in answers),
                fallbacks=sum(a.fallback for a in answers),
                weakest=weak_concepts(cohort, answers)[:weakest],
            )
        )
    return summaries


def weak_concepts(cohort: Cohort, answers: Iterable[AnswerRecord]) -> list[WeakConcept]:
    """The concepts these answers missed or only touched: missing before partial, heavier first."""
    weak = []
    for answer in answers:
        known = cohort.concepts.get(answer.question_id, {})
        for concept_id, status in answer.statuses.items():
            if status != "covered" and concept_id in known:
                weak.append(WeakConcept(answer.question_id, known[concept_id], status))
    return sorted(weak, key=lambda w: (CREDIT[w.status], -w.concept.weight))


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort `infra-2` before `infra-10`."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in _DIGITS.split(text))


def reviewed_count(cohort: Cohort) -> int:
    """How many answers of the cohort a reviewer corrected (`grade review`)."""
    return sum(answer.reviewed for answer in cohort.answers.values())
