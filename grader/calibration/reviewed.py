"""Reviewed answers as labelled data: how well the automatic grades agree with a reviewer's corrections.

The answers come from `grade review` (the CLI reads them with `grader.cohort.corrections.reviewed_answers`; any
object with the attributes of `Reviewed` will do). Two kinds of agreement:

- per score: the machine's score against the reviewed score (every reviewed answer; both on 0-10): pearson,
  spearman, qwk, mae, rmse, overall and per question, as `grade calibrate` reports for a labelled file;
- per concept: the machine's status against the reviewer's, for the concepts the reviewer set (confirming an answer
  sets all of them): the share that agree, qwk over missing < partial < covered, and the credit given that the
  reviewer took away ("over") or withheld that the reviewer gave ("under").

`fit` fits the same monotone mapping as `grade calibrate --fit`, from the machine's score to the reviewed score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel

from grader.calibration.agreement import Agreement, agreement, quadratic_weighted_kappa, scale_step
from grader.calibration.mapping import CalibrationMapping, fit_isotonic
from grader.models import Status

ORDER: dict[str, int] = {"missing": 0, "partial": 1, "covered": 2}
MAX_SCORE = 10.0


class Label(Protocol):
    @property
    def concept_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def machine(self) -> Status: ...
    @property
    def reviewer(self) -> Status: ...


class Reviewed(Protocol):
    @property
    def candidate(self) -> str: ...
    @property
    def question_id(self) -> str: ...
    @property
    def machine_score(self) -> float: ...
    @property
    def reviewed_score(self) -> float: ...
    @property
    def concepts(self) -> Sequence[Label]: ...


class ConceptAgreement(BaseModel):
    question: str
    concept_id: str
    name: str
    n: int
    agree: int
    over: int  # the machine gave more credit than the reviewer
    under: int  # the machine gave less credit than the reviewer
    qwk: float | None

    @property
    def rate(self) -> float:
        return self.agree / self.n if self.n else 0.0


class ScoreAgreement(BaseModel):
    question: str
    reviewer_mean: float
    machine_mean: float
    agreement: Agreement


class ScoreDisagreement(BaseModel):
    candidate: str
    question: str
    machine: float
    reviewed: float


class ReviewReport(BaseModel):
    file: str
    answers: int
    step: float
    overall: Agreement  # scores
    per_question: list[ScoreAgreement]
    concepts: ConceptAgreement  # every labelled concept together (question and concept_id "*")
    per_concept: list[ConceptAgreement]
    disagreements: list[ScoreDisagreement]
    fitted: CalibrationMapping | None = None
    fitted_overall: Agreement | None = None  # in-sample figures of the fitted mapping

    def as_json(self) -> dict:
        """Overall score figures as top-level keys (like `grade calibrate --json`), details below."""
        data = self.model_dump(mode="json", exclude={"overall"})
        data["concepts"]["rate"] = round(self.concepts.rate, 4)
        for item, model in zip(data["per_concept"], self.per_concept, strict=True):
            item["rate"] = round(model.rate, 4)
        return {**self.overall.model_dump(), **data}


class NoReviewsError(ValueError):
    """No answer of the results file was reviewed."""


def review_report(answers: Sequence[Reviewed], file: str, *, fit: bool = False, top: int = 10) -> ReviewReport:
    """Agreement of the machine's grades with the reviewer's on `answers` (a NoReviewsError when empty)."""
    if not answers:
        raise NoReviewsError(f"{file}: no reviewed answers; review some with 'grade review {file}'")
    step = scale_step([a.reviewed_score for a in answers])
    by_question: dict[str, list[Reviewed]] = {}
    for answer in answers:
        by_question.setdefault(answer.question_id, []).append(answer)
    per_question = [
        ScoreAgreement(
            question=question,
            reviewer_mean=round(sum(a.reviewed_score for a in items) / len(items), 3),
            machine_mean=round(sum(a.machine_score for a in items) / len(items), 3),
            agreement=_scores(items, step),
        )
        for question, items in sorted(by_question.items())
    ]
    labels: dict[tuple[str, str], list[Label]] = {}
    for answer in answers:
        for label in answer.concepts:
            labels.setdefault((answer.question_id, label.concept_id), []).append(label)
    per_concept = [_concepts(q, cid, items[0].name, items) for (q, cid), items in sorted(labels.items())]
    worst = sorted(answers, key=lambda a: -abs(a.machine_score - a.reviewed_score))[: max(0, top)]
    report = ReviewReport(
        file=file,
        answers=len(answers),
        step=step,
        overall=_scores(answers, step),
        per_question=per_question,
        concepts=_concepts("*", "*", "all concepts", [label for items in labels.values() for label in items]),
        per_concept=per_concept,
        disagreements=[
            ScoreDisagreement(candidate=a.candidate, question=a.question_id, machine=a.machine_score,
                              reviewed=a.reviewed_score)
            for a in worst if a.machine_score != a.reviewed_score
        ],
    )  # fmt: skip
    if fit:
        mapping = CalibrationMapping(
            human_max=MAX_SCORE,
            points=fit_isotonic([a.machine_score for a in answers], [a.reviewed_score / MAX_SCORE for a in answers]),
            records=len(answers),
            fitted_on=file,
        )
        mapped = [mapping.human(a.machine_score) for a in answers]
        report.fitted = mapping
        report.fitted_overall = agreement(
            mapped, [a.reviewed_score for a in answers], [MAX_SCORE] * len(answers), step
        )
    return report


def _scores(answers: Sequence[Reviewed], step: float) -> Agreement:
    return agreement(
        [a.machine_score for a in answers], [a.reviewed_score for a in answers], [MAX_SCORE] * len(answers), step
    )


def _concepts(question: str, concept_id: str, name: str, labels: Sequence[Label]) -> ConceptAgreement:
    machine = [ORDER[label.machine] for label in labels]
    reviewer = [ORDER[label.reviewer] for label in labels]
    qwk = quadratic_weighted_kappa(machine, reviewer) if labels else None
    return ConceptAgreement(
        question=question,
        concept_id=concept_id,
        name=name,
        n=len(labels),
        agree=sum(m == r for m, r in zip(machine, reviewer, strict=True)),
        over=sum(m > r for m, r in zip(machine, reviewer, strict=True)),
        under=sum(m < r for m, r in zip(machine, reviewer, strict=True)),
        qwk=None if qwk is None else round(qwk, 4),
    )
