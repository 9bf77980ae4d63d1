"""The one place where verdicts become a score: weights, partial credit, the scale, relevance, stuffing,
misconception penalties, bands.

Every grader (keyword, reference, llm, hybrid) produces verdicts; only `compute_score` turns them into a score:

    share = sum(weight * credit) / sum(weight)      credit: covered 1, partial 0.5, missing 0
    score = 10 * curve(share)                       the grade's scale (below)
    score = score * max(RELEVANCE_FLOOR, relevance / RELEVANT_SHARE)
                                                    only when relevance is measured and below RELEVANT_SHARE
    score = score * STUFFING_FACTOR                 when the answer is flagged keyword_stuffing
    score = clamp(score - sum(misconception penalties), 0, 10), rounded to 0.1

- **The scale of a written rubric** (`RUBRIC_SCALE`) is S-shaped. A rubric lists everything a strong answer might
  say, far more than one complete answer says: an answer that makes the main points (about half of the weighted
  concepts) is good or excellent, about a third is fair (5), and touching one or two concepts stays poor. The
  curve is the logistic `1 / (1 + exp(-steepness * (share - midpoint)))`, stretched so that a share of 0 scores
  0 and a share of 1 scores 10. Its two numbers were chosen on one half of a set of real, labelled interview
  answers and checked on the other half (benchmarks/real_answers.py).
- **A rubric derived from a reference answer** has a power curve, `10 * share ** exponent`
  (`grader.keyword.reference`). Every grade records its scale (`Grade.scale`).
- **Relevance** (keyword grader only): the share of the answer's words in sentences about this question's
  concepts (for a story question, about what happened). An answer mostly about something else keeps a
  proportional part of its score, at least RELEVANCE_FLOOR; the grade records it (`Grade.relevance`).
- **Stuffing**: an answer that is mostly bare lists of terms, or sentences stamped from one template, keeps
  STUFFING_FACTOR of its score.

`rescore` recomputes a grade's score from corrected verdicts, on the grade's own scale and relevance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from grader.flags import KEYWORD_STUFFING
from grader.models import ConceptResult, Grade, MisconceptionResult, Scale, Status

MAX_SCORE = 10.0
CREDIT: dict[Status, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}
RUBRIC_SCALE = Scale(shape="s", midpoint=0.3, steepness=10.0)
STUFFING_FACTOR = 0.3  # an answer flagged keyword_stuffing keeps this share of its score
RELEVANT_SHARE = 0.4  # an answer with at least this share of its words about the question is not reduced
RELEVANCE_FLOOR = 0.25  # the least share of its score an answer keeps for relevance
BANDS: tuple[tuple[float, str], ...] = (
    (8.5, "excellent"),
    (7.0, "good"),
    (5.0, "fair"),
    (3.0, "weak"),
    (0.0, "poor"),
)


def concept_share(concepts: Sequence[ConceptResult]) -> float:
    """The weighted share of the concepts covered, 0..1 (partial counts half)."""
    total = sum(c.weight for c in concepts)
    return sum(c.weight * CREDIT[c.status] for c in concepts) / total if total else 0.0


def curve(share: float, scale: Scale | None) -> float:
    """`share` (0..1) on the scale, 0..1; None is the plain share."""
    if scale is None:
        return share
    if scale.shape == "power":
        return share**scale.exponent
    low, high = _logistic(0.0, scale), _logistic(1.0, scale)
    return (_logistic(share, scale) - low) / (high - low)


def _logistic(share: float, scale: Scale) -> float:
    return 1.0 / (1.0 + math.exp(-scale.steepness * (share - scale.midpoint)))


def compute_score(
    concepts: Sequence[ConceptResult],
    misconceptions: Sequence[MisconceptionResult] = (),
    flags: Sequence[str] = (),
    *,
    scale: Scale | None = RUBRIC_SCALE,
    relevance: float | None = None,
) -> float:
    """The score of these verdicts on a 0-10 scale (see the module's docstring), rounded to 0.1."""
    score = MAX_SCORE * curve(concept_share(concepts), scale)
    if relevance is not None and relevance < RELEVANT_SHARE:
        score *= max(RELEVANCE_FLOOR, relevance / RELEVANT_SHARE)
    if KEYWORD_STUFFING in flags:
        score *= STUFFING_FACTOR
    score -= sum(m.penalty for m in misconceptions)
    return round(min(MAX_SCORE, max(0.0, score)), 1)


def rescore(
    grade: Grade,
    concepts: Sequence[ConceptResult] | None = None,
    misconceptions: Sequence[MisconceptionResult] | None = None,
) -> Grade:
    """`grade` with its score and band recomputed from (corrected) verdicts, on the grade's own scale and
    relevance: what a reviewer's correction of a verdict does to the score."""
    concepts = list(grade.concepts if concepts is None else concepts)
    misconceptions = list(grade.misconceptions if misconceptions is None else misconceptions)
    score = compute_score(concepts, misconceptions, grade.flags, scale=grade.scale, relevance=grade.relevance)
    return grade.model_copy(
        update={"concepts": concepts, "misconceptions": misconceptions, "score": score, "band": band_for(score)}
    )


def band_for(score: float) -> str:
    for floor, name in BANDS:
        if score >= floor:
            return name
    return BANDS[-1][1]
