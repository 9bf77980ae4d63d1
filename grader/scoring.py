"""The one place where verdicts become a score: weights, partial credit, penalties, a curve, bands.

Every grader (keyword, reference, llm, hybrid) produces verdicts; only `compute_score` turns them into a score:

    plain = 10 * sum(weight * credit) / sum(weight)     credit: covered 1, partial 0.5, missing 0
    plain = plain * STUFFING_FACTOR                     when the answer is flagged keyword_stuffing
    plain = clamp(plain - sum(misconception penalties), 0, 10), rounded to 0.1
    score = 10 * (plain / 10) ** curve, rounded to 0.1  (curve = 1: the plain score)

The curve belongs to the grading method: the reference grader (`grader.keyword.reference`) uses a concave one
because human graders give full marks to an answer that makes the reference's point without all its words.
"""

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
    curve: float = 1.0,
) -> float:
    """Weighted credit of the concepts on a 0-10 scale, minus misconception penalties, rounded to 0.1, then put on
    the curve (see the module's docstring)."""
    total = sum(c.weight for c in concepts)
    earned = sum(c.weight * CREDIT[c.status] for c in concepts)
    score = MAX_SCORE * earned / total if total else 0.0
    if "keyword_stuffing" in flags:
        score *= STUFFING_FACTOR
    score -= sum(m.penalty for m in misconceptions)
    score = round(min(MAX_SCORE, max(0.0, score)), 1)
    if curve != 1.0:
        score = round(MAX_SCORE * (score / MAX_SCORE) ** curve, 1)
    return score


def band_for(score: float) -> str:
    for floor, name in BANDS:
        if score >= floor:
            return name
    return BANDS[-1][1]
