"""The one place where verdicts become a score: weights, partial credit, penalties, bands."""

from __future__ import annotations

from collections.abc import Sequence

from grader.models import ConceptResult, MisconceptionResult, Status

MAX_SCORE = 10.0
CREDIT: dict[Status, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}
STUFFING_FACTOR = 0.5  # an answer flagged keyword_stuffing keeps half its score
BANDS: tuple[tuple[float, str], ...] = (
    (8.5, "excellent"),
    (7.0, "good"),
    (5.0, "fair"),
    (3.0, "weak"),
    (0.0, "poor"),
)


def compute_score(
    concepts: Sequence[ConceptResult],
    misconceptions: Sequence[MisconceptionResult] = (),
    flags: Sequence[str] = (),
) -> float:
    """Weighted credit of the concepts on a 0-10 scale, minus misconception penalties, rounded to 0.1."""
    total = sum(c.weight for c in concepts)
    earned = sum(c.weight * CREDIT[c.status] for c in concepts)
    score = MAX_SCORE * earned / total if total else 0.0
    if "keyword_stuffing" in flags:
        score *= STUFFING_FACTOR
    score -= sum(m.penalty for m in misconceptions)
    return round(min(MAX_SCORE, max(0.0, score)), 1)


def band_for(score: float) -> str:
    for floor, name in BANDS:
        if score >= floor:
            return name
    return BANDS[-1][1]
