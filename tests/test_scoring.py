from __future__ import annotations

import math

import pytest

from grader.models import ConceptResult, MisconceptionResult, Scale
from grader.scoring import RUBRIC_SCALE, band_for, compute_score, curve, rescore


def concept(status: str, weight: float) -> ConceptResult:
    return ConceptResult(id=f"c{weight}{status}", name="c", weight=weight, status=status)  # type: ignore[arg-type]


def wrong(penalty: float) -> MisconceptionResult:
    return MisconceptionResult(id="m", description="m", penalty=penalty)


def s_curve(share: float, midpoint: float = 0.3, steepness: float = 10.0) -> float:
    """The documented logistic, stretched to 0 at a share of 0 and 1 at a share of 1, computed by hand."""

    def logistic(x: float) -> float:
        return 1 / (1 + math.exp(-steepness * (x - midpoint)))

    return (logistic(share) - logistic(0)) / (logistic(1) - logistic(0))


PLAIN = None  # the plain share: 10 x weighted credit
POWER = Scale(shape="power", exponent=0.5)


@pytest.mark.parametrize(
    ("concepts", "misconceptions", "flags", "scale", "relevance", "expected"),
    [
        pytest.param([concept("covered", 2), concept("missing", 2)], [], [], PLAIN, None, 5.0, id="half-covered"),
        pytest.param([concept("partial", 1)], [], [], PLAIN, None, 5.0, id="partial-is-half"),
        pytest.param([concept("covered", 3), concept("partial", 1)], [], [], PLAIN, None, 8.8, id="weighted"),
        pytest.param([concept("covered", 1)], [wrong(1.5)], [], PLAIN, None, 8.5, id="penalty"),
        pytest.param([concept("partial", 1)], [wrong(9)], [], PLAIN, None, 0.0, id="never-below-zero"),
        pytest.param([concept("covered", 1)], [], ["keyword_stuffing"], PLAIN, None, 3.0, id="stuffing-keeps-30pct"),
        pytest.param([], [], [], PLAIN, None, 0.0, id="no-concepts"),
        pytest.param([concept("covered", 1), concept("missing", 3)], [], [], POWER, None, 5.0, id="power-curve"),
        pytest.param(
            [concept("covered", 1), concept("missing", 3)], [], [], RUBRIC_SCALE, None,
            round(10 * s_curve(0.25), 1), id="s-curve-quarter",
        ),
        pytest.param(
            [concept("covered", 1), concept("missing", 1)], [], [], RUBRIC_SCALE, None,
            round(10 * s_curve(0.5), 1), id="s-curve-half",
        ),
        pytest.param([concept("covered", 1)], [], [], PLAIN, 0.2, 5.0, id="relevance-below-share-scales"),
        pytest.param([concept("covered", 1)], [], [], PLAIN, 0.05, 2.5, id="relevance-floor"),
        pytest.param([concept("covered", 1)], [], [], PLAIN, 0.4, 10.0, id="relevant-enough"),
        pytest.param([concept("covered", 1)], [wrong(1)], ["keyword_stuffing"], PLAIN, 0.2, 0.5,
                     id="relevance-then-stuffing-then-penalty"),
    ],
)
def test_compute_score(concepts, misconceptions, flags, scale, relevance, expected) -> None:
    assert compute_score(concepts, misconceptions, flags, scale=scale, relevance=relevance) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        pytest.param(0.0, 0.0, id="nothing"),
        pytest.param(0.15, 1.4, id="a-concept-or-two-is-poor"),
        pytest.param(0.3, 4.8, id="a-third-is-about-fair"),
        pytest.param(0.5, 8.8, id="half-is-excellent"),
        pytest.param(1.0, 10.0, id="everything"),
    ],
)
def test_rubric_scale_is_the_documented_s_curve(share: float, expected: float) -> None:
    assert round(10 * curve(share, RUBRIC_SCALE), 1) == expected == round(10 * s_curve(share), 1)


def test_curve_is_monotone() -> None:
    values = [curve(i / 100, RUBRIC_SCALE) for i in range(101)]
    assert values == sorted(values) and values[0] == 0 and values[-1] == pytest.approx(1)


def test_rescore_recomputes_from_corrected_verdicts_on_the_grades_own_scale() -> None:
    from grader.models import Grade

    concepts = [concept("covered", 1), concept("missing", 1)]
    grade = Grade(question_id="q", score=0, band="poor", method="keyword", concepts=concepts, scale=POWER)
    corrected = rescore(grade, [concept("covered", 1), concept("covered", 1)])
    assert (corrected.score, corrected.band) == (10.0, "excellent")
    assert rescore(grade).score == round(10 * 0.5**0.5, 1)


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
