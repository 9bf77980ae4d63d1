"""Agreement between predicted and human scores: Pearson, Spearman, QWK, MAE, RMSE.

QWK rounds both sides to the human scale's steps (the largest of 1, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01 that every
human score is a multiple of) and compares the step indexes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel

STEPS = (1.0, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01)


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
        spearman=_round(spearman(predicted, human)),
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


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their mean rank); None when undefined."""
    return pearson(ranks(xs), ranks(ys))


def ranks(values: Sequence[float]) -> list[float]:
    """The 0-based rank of each value, ties sharing their mean rank."""
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
