"""Mastery computed from the history: per category and per concept (latest, best, trend), the concepts missed
most often, and a study plan built from the rubrics' concept descriptions.

Units: a concept's mastery is its credit in an attempt (covered 1, partial 0.5, missing 0, as in
`grader.scoring.CREDIT`); a category's mastery is the mean, over its answered questions, of the latest (or best)
score as a share of the maximum. `trend` is the change of that mastery caused by the most recent attempt
(None after a single attempt). Follow-up attempts (one concept) count for their concept, never for a score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from grader.bank.loader import Bank
from grader.errors import BankError
from grader.models import Concept, Rubric, Status
from grader.practice.history import Attempt
from grader.scoring import CREDIT

MAX_MOST_MISSED = 5
MAX_PLAN = 5


class ConceptMastery(BaseModel):
    question_id: str
    concept_id: str
    name: str
    category: str | None
    weight: float
    attempts: int
    misses: int
    latest: float
    best: float
    trend: float | None
    last_status: Status
    series: list[float]


class CategoryMastery(BaseModel):
    category: str
    title: str
    questions: int
    answered: int
    attempts: int
    latest: float | None
    best: float | None
    trend: float | None
    series: list[float]


class PlanItem(BaseModel):
    question_id: str
    concept_id: str
    name: str
    description: str
    follow_up: str
    latest: float
    misses: int
    attempts: int


class Progress(BaseModel):
    attempts: int
    questions_answered: int
    categories: list[CategoryMastery]
    concepts: list[ConceptMastery]
    most_missed: list[ConceptMastery]
    plan: list[PlanItem]


@dataclass
class _ConceptTrack:
    question_id: str
    concept_id: str
    name: str = ""
    category: str | None = None
    weight: float = 0.0
    statuses: list[Status] = field(default_factory=list)


def compute_progress(attempts: Sequence[Attempt], bank: Bank, category: str | None = None) -> Progress:
    """Everything `grade progress` shows, from the attempts and the bank's current rubrics; with `category`,
    only that category's attempts and row."""
    ordered = sorted((a for a in attempts if category is None or _category(bank, a) == category), key=lambda a: a.id)
    tracks = track_concepts(ordered, bank)
    concepts = [_concept_mastery(t) for t in tracks]
    most_missed = sorted(
        (c for c in concepts if c.misses), key=lambda c: (-c.misses, -c.misses / c.attempts, c.latest)
    )[:MAX_MOST_MISSED]
    full = [a for a in ordered if a.full]
    return Progress(
        attempts=len(ordered),
        questions_answered=len({a.question_id for a in full}),
        categories=category_mastery(full, bank, category),
        concepts=concepts,
        most_missed=most_missed,
        plan=study_plan(concepts, bank),
    )


def track_concepts(attempts: Iterable[Attempt], bank: Bank) -> list[_ConceptTrack]:
    """Each concept's statuses over time, keyed by (question, concept), in bank and rubric order."""
    tracks: dict[tuple[str, str], _ConceptTrack] = {}
    for attempt in attempts:
        for result in attempt.grade.concepts:
            key = (attempt.question_id, result.id)
            track = tracks.setdefault(key, _ConceptTrack(attempt.question_id, result.id))
            track.name, track.weight = result.name, result.weight
            track.category = _category(bank, attempt)
            track.statuses.append(result.status)
    order = {qid: n for n, qid in enumerate(bank.questions)}
    return sorted(tracks.values(), key=lambda t: (order.get(t.question_id, len(order)), t.question_id))


def category_mastery(full_attempts: Sequence[Attempt], bank: Bank, only: str | None = None) -> list[CategoryMastery]:
    """One row per category of the bank (and any category only the history knows), in bank order."""
    categories = list(bank.titles)
    for attempt in full_attempts:
        category = _category(bank, attempt)
        if category and category not in categories:
            categories.append(category)
    rows = []
    for category in categories:
        if only is not None and category != only:
            continue
        mine = [a for a in full_attempts if _category(bank, a) == category]
        latest: dict[str, float] = {}
        best: dict[str, float] = {}
        series: list[float] = []
        for attempt in mine:
            share = attempt.score / attempt.max_score if attempt.max_score else 0.0
            latest[attempt.question_id] = share
            best[attempt.question_id] = max(share, best.get(attempt.question_id, 0.0))
            series.append(_mean(latest.values()))
        rows.append(
            CategoryMastery(
                category=category,
                title=bank.titles.get(category, category),
                questions=len(bank.in_category(category)),
                answered=len(latest),
                attempts=len(mine),
                latest=series[-1] if series else None,
                best=_mean(best.values()) if best else None,
                trend=_trend(series),
                series=series,
            )
        )
    return rows


def study_plan(concepts: Sequence[ConceptMastery], bank: Bank, limit: int = MAX_PLAN) -> list[PlanItem]:
    """The weakest concepts still in the bank's rubrics: lowest latest mastery, heaviest, most missed first."""
    weak = sorted((c for c in concepts if c.latest < 1.0), key=lambda c: (c.latest, -c.weight, -c.misses))
    plan: list[PlanItem] = []
    for mastery in weak:
        concept = _rubric_concept(bank, mastery.question_id, mastery.concept_id)
        if concept is None:  # the rubric changed since: nothing current to study from
            continue
        plan.append(
            PlanItem(
                question_id=mastery.question_id,
                concept_id=mastery.concept_id,
                name=concept.name,
                description=concept.description,
                follow_up=concept.follow_up,
                latest=mastery.latest,
                misses=mastery.misses,
                attempts=mastery.attempts,
            )
        )
        if len(plan) == limit:
            break
    return plan


def _concept_mastery(track: _ConceptTrack) -> ConceptMastery:
    series = [CREDIT[s] for s in track.statuses]
    return ConceptMastery(
        question_id=track.question_id,
        concept_id=track.concept_id,
        name=track.name,
        category=track.category,
        weight=track.weight,
        attempts=len(series),
        misses=sum(1 for s in track.statuses if s == "missing"),
        latest=series[-1],
        best=max(series),
        trend=_trend(series),
        last_status=track.statuses[-1],
        series=series,
    )


def _trend(series: Sequence[float]) -> float | None:
    return round(series[-1] - series[-2], 4) if len(series) > 1 else None


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else 0.0


def _category(bank: Bank, attempt: Attempt) -> str | None:
    """The category saved with the attempt, else the bank's."""
    if attempt.category:
        return attempt.category
    question = bank.questions.get(attempt.question_id)
    return question.category if question else None


def _rubric_concept(bank: Bank, question_id: str, concept_id: str) -> Concept | None:
    rubric = _rubric(bank, question_id)
    if rubric is None:
        return None
    return next((c for c in rubric.concepts if c.id == concept_id), None)


def _rubric(bank: Bank, question_id: str) -> Rubric | None:
    if question_id not in bank.questions:
        return None
    try:
        return bank.rubric(question_id)
    except BankError:
        return None
