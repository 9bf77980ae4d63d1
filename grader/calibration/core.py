"""Agreement with human grades: read labelled answers, grade them, measure, fit a monotone mapping.

A labelled file is JSON Lines, one answer a line: `answer`, the human `score` and `max_score`, and either
`question` + `reference` (a reference-answer question; `qid` groups the answers to one question) or
`question_id`, a bank question. Records are graded through `grader.pipeline.grade_answer`; on the keyword
path a reference-answer question also learns from the other answers to it in the file (never the answer
being graded, and never any human score).

Predictions on the human scale are `score / 10 * max_score`, or the calibration mapping's value when one is
applied. QWK rounds both sides to the human scale's steps (the largest of 1, 0.5, 0.25, 0.2, 0.1, 0.05,
0.01 that every human score is a multiple of) and compares the step indexes.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from grader.bank.loader import Bank
from grader.errors import AnswerError, ConfigError, StorageError
from grader.keyword.reference import DEFAULT_SETTINGS, ReferenceSettings, TermStats, derive_rubric
from grader.models import Grade, Question, Rubric
from grader.pipeline import GradeOptions, grade_answer, rubric_for

STEPS = (1.0, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01)
EXCERPT = 160
LABELLED_CATEGORY = "labelled"
_SLUG = re.compile(r"[^a-z0-9]+")


class LabelledDataError(AnswerError):
    """A labelled file that cannot be read: the CLI exits 3, like any other unusable answer input."""


# --- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledRecord:
    line: int
    record_id: str
    group: str  # answers to the same question share it: per-question figures and peers
    question: Question
    answer: str
    human: float
    max_score: float
    from_bank: bool


def read_labelled(path: Path, bank_loader: Callable[[], Bank] | None = None) -> list[LabelledRecord]:
    """Every record of a labelled JSONL file; a LabelledDataError names the line of the first bad one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabelledDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledDataError(f"{path}: cannot read: {exc}") from None
    records: list[LabelledRecord] = []
    bank: Bank | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledDataError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise LabelledDataError(f"{where}: expected a JSON object")
        if "question" not in data and bank is None and bank_loader is not None and "question_id" in data:
            bank = bank_loader()
        records.append(_record(data, number, where, bank))
    if not records:
        raise LabelledDataError(f"{path}: no records")
    return records


def _record(data: dict, number: int, where: str, bank: Bank | None) -> LabelledRecord:
    answer = data.get("answer")
    if not isinstance(answer, str):
        raise LabelledDataError(f"{where}: 'answer' must be a string")
    human, max_score = _number(data, "score", where), _number(data, "max_score", where)
    if max_score <= 0 or not 0 <= human <= max_score:
        raise LabelledDataError(f"{where}: need 0 <= score <= max_score and max_score > 0")
    record_id = str(data.get("id", number))
    if isinstance(data.get("question"), str) and isinstance(data.get("reference"), str):
        text, reference = data["question"].strip(), data["reference"].strip()
        if not text or not reference:
            raise LabelledDataError(f"{where}: 'question' and 'reference' must not be empty")
        group = str(data.get("qid") or data.get("question_id") or text)
        question = Question(id=_slug(group, text), category=LABELLED_CATEGORY, text=text, reference=reference)
        return LabelledRecord(number, record_id, group, question, answer, human, max_score, False)
    question_id = data.get("question_id")
    if not isinstance(question_id, str):
        raise LabelledDataError(f"{where}: need 'question' and 'reference', or a bank 'question_id'")
    if bank is None:
        raise LabelledDataError(f"{where}: 'question_id' needs a question bank")
    if question_id.strip().lower() not in bank.questions:
        raise LabelledDataError(f"{where}: no question '{question_id}' in the bank")
    question = bank.question(question_id)
    return LabelledRecord(number, record_id, question.id, question, answer, human, max_score, True)


def _number(data: dict, key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LabelledDataError(f"{where}: '{key}' must be a number")
    return float(value)


def _slug(group: str, text: str) -> str:
    slug = _SLUG.sub("-", group.lower()).strip("-")[:48]
    if not slug:
        slug = f"q{abs(hash(text)) % 10**8}"
    return slug if slug[0].isalnum() else f"q{slug}"


# --- grading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradedRecord:
    record: LabelledRecord
    grade: Grade
    predicted: float  # on the record's human scale


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


# --- metrics ----------------------------------------------------------------------------------------------


class Agreement(BaseModel):
    n: int
    pearson: float | None
    spearman: float | None
    qwk: float | None
    mae: float
    rmse: float


def scale_step(values: Sequence[float]) -> float:
    """The largest step of the human scale that every human score is a multiple of."""
    for step in STEPS:
        if all(abs(v / step - round(v / step)) < 1e-6 for v in values):
            return step
    return STEPS[-1]


def agreement(
    predicted: Sequence[float], human: Sequence[float], max_scores: Sequence[float], step: float
) -> Agreement:
    """The five figures, on the human scale; pearson/spearman/qwk are None when undefined."""
    n = len(human)
    errors = [p - h for p, h in zip(predicted, human, strict=True)]
    clipped = [min(m, max(0.0, p)) for p, m in zip(predicted, max_scores, strict=True)]
    return Agreement(
        n=n,
        pearson=_round(pearson(predicted, human)),
        spearman=_round(pearson(_ranks(predicted), _ranks(human))),
        qwk=_round(quadratic_weighted_kappa([round(p / step) for p in clipped], [round(h / step) for h in human])),
        mae=round(sum(abs(e) for e in errors) / n, 4) if n else 0.0,
        rmse=round(math.sqrt(sum(e * e for e in errors) / n), 4) if n else 0.0,
    )


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sxy / math.sqrt(sxx * syy)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2
        start = end + 1
    return ranks


def quadratic_weighted_kappa(rater_a: Sequence[int], rater_b: Sequence[int]) -> float | None:
    """Cohen's kappa with quadratic weights over integer categories; None when undefined."""
    if len(rater_a) < 2:
        return None
    low = min(min(rater_a), min(rater_b))
    size = max(max(rater_a), max(rater_b)) - low + 1
    if size < 2:
        return None
    observed = Counter(zip(rater_a, rater_b, strict=True))
    hist_a, hist_b = Counter(rater_a), Counter(rater_b)
    n = len(rater_a)
    num = sum(count * (a - b) ** 2 for (a, b), count in observed.items())
    den = sum(hist_a[a] * hist_b[b] * (a - b) ** 2 for a in hist_a for b in hist_b) / n
    return 1.0 - num / den if den > 0 else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- the mapping ------------------------------------------------------------------------------------------


class CalibrationMapping(BaseModel):
    """A monotone mapping from the grader's 0-10 score to a human scale, piecewise linear between points."""

    kind: Literal["isotonic"] = "isotonic"
    version: Literal[1] = 1
    human_max: float = Field(gt=0)
    points: list[tuple[float, float]] = Field(min_length=1)  # (grader score, human fraction 0..1), ascending
    records: int = 0
    fitted_on: str | None = None

    def human(self, score: float) -> float:
        """The human-scale value (0..human_max) for a grader score."""
        points = self.points
        if score <= points[0][0]:
            fraction = points[0][1]
        elif score >= points[-1][0]:
            fraction = points[-1][1]
        else:
            fraction = points[-1][1]
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                if x0 <= score <= x1:
                    fraction = y0 if x1 == x0 else y0 + (y1 - y0) * (score - x0) / (x1 - x0)
                    break
        return round(fraction * self.human_max, 3)

    def apply_to(self, grade: Grade) -> Grade:
        return grade.model_copy(update={"calibrated_score": self.human(grade.score), "calibrated_max": self.human_max})


def fit_isotonic(scores: Sequence[float], fractions: Sequence[float]) -> list[tuple[float, float]]:
    """Pool-adjacent-violators on (score, human fraction); one point per pooled block at its mean score.

    Interpolating between block means (rather than a step per block) keeps the mapping smooth where the data
    are thin, which generalises better to new questions (see benchmarks/asag_calibration.py).
    """
    if not scores:
        raise ValueError("nothing to fit")
    groups: dict[float, list[float]] = {}
    for x, y in zip(scores, fractions, strict=True):
        group = groups.setdefault(x, [0.0, 0.0])
        group[0] += y
        group[1] += 1
    blocks: list[list[float]] = []  # [sum x, sum y, count]
    for x in sorted(groups):
        total, count = groups[x]
        blocks.append([x * count, total, count])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            sx, sy, c = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += c
    return [(round(sx / c, 4), round(sy / c, 4)) for sx, sy, c in blocks]


def fit_mapping(graded: Sequence[GradedRecord], fitted_on: str | None = None) -> CalibrationMapping:
    """Fit the mapping from grader scores to the human fraction of the maximum."""
    scores = [g.grade.score for g in graded]
    fractions = [g.record.human / g.record.max_score for g in graded]
    human_max = Counter(g.record.max_score for g in graded).most_common(1)[0][0]
    return CalibrationMapping(
        human_max=human_max, points=fit_isotonic(scores, fractions), records=len(graded), fitted_on=fitted_on
    )


def load_mapping(path: Path) -> CalibrationMapping:
    """Read a mapping saved by `--fit`; a ConfigError (exit 5) names the file when it is unusable."""
    try:
        return CalibrationMapping.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: calibration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read calibration: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: not a calibration mapping: {where}: {first['msg']}") from None


def save_mapping(mapping: CalibrationMapping, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(mapping.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write calibration: {exc.strerror or exc}") from None


# --- the report -------------------------------------------------------------------------------------------


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
