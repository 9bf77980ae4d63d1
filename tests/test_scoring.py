from __future__ import annotations

import pytest

from grader.models import ConceptResult, MisconceptionResult
from grader.scoring import band_for, compute_score


def concept(status: str, weight: float) -> ConceptResult:
    return ConceptResult(id=f"c{weight}{status}", name="c", weight=weight, status=status)  # type: ignore[arg-type]


def wrong(penalty: float) -> MisconceptionResult:
    return MisconceptionResult(id="m", description="m", penalty=penalty)


@pytest.mark.parametrize(
    ("concepts", "misconceptions", "flags", "expected"),
    [
        pytest.param([concept("covered", 2), concept("missing", 2)], [], [], 5.0, id="half-covered"),
        pytest.param([concept("partial", 1)], [], [], 5.0, id="partial-is-half"),
        pytest.param([concept("covered", 3), concept("partial", 1)], [], [], 8.8, id="weighted"),
        pytest.param([concept("covered", 1)], [wrong(1.5)], [], 8.5, id="penalty"),
        pytest.param([concept("partial", 1)], [wrong(9)], [], 0.0, id="never-below-zero"),
        pytest.param([concept("covered", 1)], [], ["keyword_stuffing"], 5.0, id="stuffing-halves"),
        pytest.param([], [], [], 0.0, id="no-concepts"),
    ],
)
def test_compute_score(concepts, misconceptions, flags, expected) -> None:
    assert compute_score(concepts, misconceptions, flags) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (10, "excellent"),
        (8.5, "excellent"),
        (8.4, "good"),
        (7, "good"),
        (5, "fair"),
        (3, "weak"),
        (2.9, "poor"),
        (0, "poor"),
    ],
)
def test_band_for(score: float, band: str) -> None:
    assert band_for(score) == band
