"""Calibrating against human grades: grade a labelled file, measure agreement, fit a mapping.

Records are graded through `grader.pipeline.grade_answer`; on the keyword path a reference-answer question also
learns from the other answers to it in the file (never the answer being graded, and never any human score).
Predictions on the human scale are `score / 10 * max_score`, or the calibration mapping's value when one is
applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from grader.bank.loader import Bank
from grader.calibration.agreement import Agreement, agreement, scale_step
from grader.calibration.labelled import GradedRecord, LabelledRecord, read_labelled
from grader.calibration.mapping import CalibrationMapping, fit_mapping
from grader.keyword.reference import DEFAULT_SETTINGS, ReferenceSettings, TermStats, derive_rubric
from grader.models import Rubric
from grader.pipeline import GradeOptions, grade_answer, rubric_for

EXCERPT = 160


def grade_records(
    records: Sequence[LabelledRecord],
    bank_loader: Callable[[], Bank] | None,
    options: GradeOptions | None = None,
    *,
    mapping: CalibrationMapping | None = None,
    use_peers: bool = True,
    settings: ReferenceSettings = DEFAULT_SETTINGS,
    progress: Callable[[int, int], None] | None = None,
) -> list[GradedRecord]:
    """Grade every record. Reference questions on the keyword path use the other answers to them as peers."""
    options = options or GradeOptions()
    stats = labelled_stats(records)
    peers_on = use_peers and options.method() == "keyword"
    by_group: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_group.setdefault(record.group, []).append(index)
    shared: dict[str, Rubric] = {}
    graded: list[GradedRecord] = []
    for index, record in enumerate(records):
        if record.from_bank:
            if record.group not in shared:
                assert bank_loader is not None
                shared[record.group] = rubric_for(bank_loader(), record.question)
            rubric = shared[record.group]
        elif peers_on:
            peers = [records[j].answer for j in by_group[record.group] if j != index]
            rubric = derive_rubric(record.question, stats=stats, peers=peers, settings=settings)
        else:
            if record.group not in shared:
                shared[record.group] = derive_rubric(record.question, stats=stats, settings=settings)
            rubric = shared[record.group]
        grade = grade_answer(record.question, rubric, record.answer, options)
        if mapping is not None:
            grade = mapping.apply_to(grade)
            predicted = grade.calibrated_score / mapping.human_max * record.max_score  # type: ignore[operator]
        else:
            predicted = grade.score / grade.max_score * record.max_score
        graded.append(GradedRecord(record, grade, predicted))
        if progress is not None:
            progress(index + 1, len(records))
    return graded


def labelled_stats(records: Sequence[LabelledRecord]) -> TermStats:
    """Idf over the file itself: every answer and every distinct reference (no human score is used)."""
    stats = TermStats(record.answer for record in records)
    for reference in dict.fromkeys(r.question.reference for r in records if r.question.reference):
        stats.add(reference or "")
    return stats


class QuestionAgreement(BaseModel):
    question: str
    text: str
    human_mean: float
    predicted_mean: float
    agreement: Agreement


class Disagreement(BaseModel):
    id: str
    question: str
    human: float
    predicted: float
    score: float
    max_score: float
    answer: str


class CalibrationReport(BaseModel):
    file: str
    step: float
    calibrated: bool
    overall: Agreement
    per_question: list[QuestionAgreement]
    disagreements: list[Disagreement]
    fitted: CalibrationMapping | None = None
    fitted_overall: Agreement | None = None  # in-sample figures of the fitted mapping

    def as_json(self) -> dict:
        """Overall figures as top-level keys (`pearson`, `spearman`, `qwk`, `mae`, `rmse`), details below."""
        data = self.model_dump(mode="json", exclude={"overall"})
        return {**self.overall.model_dump(), **data}


def calibrate(
    path: Path,
    bank_loader: Callable[[], Bank] | None,
    options: GradeOptions | None = None,
    *,
    mapping: CalibrationMapping | None = None,
    fit: bool = False,
    use_peers: bool = True,
    top: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationReport:
    """Grade a labelled file and report agreement with the human scores (and fit a mapping if asked)."""
    records = read_labelled(path, bank_loader)
    graded = grade_records(records, bank_loader, options, mapping=mapping, use_peers=use_peers, progress=progress)
    return build_report(graded, str(path), calibrated=mapping is not None, fit=fit, top=top)


def build_report(
    graded: Sequence[GradedRecord], file: str, *, calibrated: bool = False, fit: bool = False, top: int = 10
) -> CalibrationReport:
    step = scale_step([g.record.human for g in graded])
    overall = _agreement_of(graded, step)
    groups: dict[str, list[GradedRecord]] = {}
    for g in graded:
        groups.setdefault(g.record.group, []).append(g)
    per_question = [
        QuestionAgreement(
            question=group,
            text=items[0].record.question.text,
            human_mean=round(sum(i.record.human for i in items) / len(items), 3),
            predicted_mean=round(sum(i.predicted for i in items) / len(items), 3),
            agreement=_agreement_of(items, step),
        )
        for group, items in groups.items()
    ]
    worst = sorted(graded, key=lambda g: (-abs(g.predicted - g.record.human), g.record.line))[: max(0, top)]
    disagreements = [
        Disagreement(
            id=g.record.record_id,
            question=g.record.group,
            human=g.record.human,
            predicted=round(g.predicted, 2),
            score=g.grade.score,
            max_score=g.record.max_score,
            answer=_excerpt(g.record.answer),
        )
        for g in worst
    ]
    fitted = fitted_overall = None
    if fit:
        fitted = fit_mapping(graded, Path(file).name)
        remapped = [
            GradedRecord(g.record, g.grade, fitted.human(g.grade.score) / fitted.human_max * g.record.max_score)
            for g in graded
        ]
        fitted_overall = _agreement_of(remapped, step)
    return CalibrationReport(
        file=file, step=step, calibrated=calibrated, overall=overall, per_question=per_question,
        disagreements=disagreements, fitted=fitted, fitted_overall=fitted_overall,
    )


def _agreement_of(graded: Sequence[GradedRecord], step: float) -> Agreement:
    return agreement(
        [g.predicted for g in graded], [g.record.human for g in graded], [g.record.max_score for g in graded], step
    )


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"
