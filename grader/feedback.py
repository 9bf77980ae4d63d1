"""A grade built in code from verdicts: its score (by `grader.scoring`), a short summary and what to study next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.flags import KEYWORD_STUFFING, LLM_KEYWORD_GAP, PROMPT_INJECTION, UNVERIFIED_EVIDENCE
from grader.memo import PerRubric
from grader.models import ConceptResult, Grade, Method, MisconceptionResult, Rubric, Scale, StudyItem
from grader.scoring import RUBRIC_SCALE, band_for, compute_score

MAX_STUDY_ITEMS = 4

_FLAG_ADVICE = {
    KEYWORD_STUFFING: "Much of the answer is a bare list of terms: explain how and why, not only what.",
    PROMPT_INJECTION: "The answer contains text addressed to the grader; it was ignored and flagged.",
    UNVERIFIED_EVIDENCE: "Some verdicts cited evidence that does not show the concept; they were downgraded.",
    LLM_KEYWORD_GAP: "The model credited this short answer far above what its words show; have a person check it.",
}


def grade_from_verdicts(
    rubric: Rubric,
    method: Method,
    concepts: list[ConceptResult],
    misconceptions: list[MisconceptionResult],
    flags: list[str],
    *,
    scale: Scale | None = RUBRIC_SCALE,
    relevance: float | None = None,
    feedback: str | None = None,
    study_next: list[StudyItem] | None = None,
    **details: Any,
) -> Grade:
    """The Grade every grader returns for its verdicts: the score computed from them on `scale` (and `relevance`),
    its band, the summary and the study plan (unless the grader words its own), and the grader's `details`
    (model, usage, confidence...)."""
    score = compute_score(concepts, misconceptions, flags, scale=scale, relevance=relevance)
    return Grade(
        question_id=rubric.question_id,
        score=score,
        band=band_for(score),
        method=method,
        scale=scale,
        relevance=relevance,
        concepts=concepts,
        misconceptions=misconceptions,
        flags=flags,
        feedback=summarise(concepts, misconceptions, flags) if feedback is None else feedback,
        study_next=plan_study(concepts, rubric) if study_next is None else study_next,
        rubric_version=rubric.version,
        **details,
    )


def plan_study(concepts: Sequence[ConceptResult], rubric: Rubric) -> list[StudyItem]:
    """The missed, then partly covered, concepts, heaviest first, each with its follow-up question."""
    items = _study_items(rubric)
    weak = [c for c in concepts if c.status != "covered" and c.id in items]
    weak.sort(key=_study_order)
    return [
        items[c.id] if items[c.id].name == c.name else _study_item(c.name, c.id, rubric)  # named as the result is
        for c in weak[:MAX_STUDY_ITEMS]
    ]


def _study_order(concept: ConceptResult) -> tuple[bool, float]:
    return concept.status != "missing", -concept.weight


_STUDY_ITEMS: PerRubric[dict[str, StudyItem]] = PerRubric()


def _study_items(rubric: Rubric) -> dict[str, StudyItem]:
    """A StudyItem for each concept of the rubric, built once per rubric (they are frozen: grades share them)."""
    return _STUDY_ITEMS.get(rubric, lambda r: {c.id: _study_item(c.name, c.id, r) for c in r.concepts})


def _study_item(name: str, concept_id: str, rubric: Rubric) -> StudyItem:
    concept = next(c for c in rubric.concepts if c.id == concept_id)
    return StudyItem(concept_id=concept_id, name=name, description=concept.description, follow_up=concept.follow_up)


def summarise(
    concepts: Sequence[ConceptResult],
    misconceptions: Sequence[MisconceptionResult],
    flags: Sequence[str],
) -> str:
    """Two or three sentences a candidate can act on."""
    covered = [c.name for c in concepts if c.status == "covered"]
    partial = [c.name for c in concepts if c.status == "partial"]
    missing = sorted((c for c in concepts if c.status == "missing"), key=lambda c: -c.weight)
    parts = [
        f"You covered {len(covered)} of {len(concepts)} concepts"
        + (f" and touched on {len(partial)} more." if partial else ".")
    ]
    if covered:
        parts.append("Strong on: " + _join(covered[:3]) + ".")
    if missing:
        parts.append("Missing: " + _join([c.name for c in missing[:3]]) + ".")
    elif partial:
        parts.append("Go deeper on: " + _join(partial[:3]) + ".")
    if misconceptions:
        parts.append("Watch out: " + _join([m.description for m in misconceptions[:2]]))
    parts.extend(_FLAG_ADVICE[f] for f in flags if f in _FLAG_ADVICE)
    return " ".join(parts)


def _join(items: Sequence[str]) -> str:
    items = [i.rstrip(".") for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
