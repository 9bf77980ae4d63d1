"""The calibration mapping: a monotone, piecewise-linear map from the grader's 0-10 score to a human scale."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from grader.calibration.labelled import GradedRecord
from grader.errors import ConfigError, StorageError
from grader.files import output_problem, read_regular
from grader.models import Grade

MAX_MAPPING_BYTES = 1 << 20


Point = tuple[
    Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)],  # a grader score
    Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)],  # the human fraction of the maximum
]


class CalibrationMapping(BaseModel):
    """A monotone mapping from the grader's 0-10 score to a human scale, piecewise linear between points.

    Validated as a contract: scores within 0-10, fractions within 0-1, all finite, both ascending (a mapping that
    is not monotone, or maps outside the human scale, is refused rather than applied)."""

    kind: Literal["isotonic"] = "isotonic"
    version: Literal[1] = 1
    human_max: float = Field(gt=0, le=1e6, allow_inf_nan=False)
    points: list[Point] = Field(min_length=1, max_length=10_000)
    records: int = Field(default=0, ge=0)
    fitted_on: str | None = None

    @model_validator(mode="after")
    def _monotone(self) -> CalibrationMapping:
        for (x0, y0), (x1, y1) in itertools.pairwise(self.points):
            if x1 < x0:
                raise ValueError(f"points must be in ascending order of score ({x1:g} comes after {x0:g})")
            if y1 < y0:
                raise ValueError(f"the mapping must not decrease ({y0:g} at score {x0:g}, then {y1:g} at {x1:g})")
        return self

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
    """Read a mapping saved by `--fit`; a ConfigError (exit 5) names the file when it is unusable (only a regular
    file of at most MAX_MAPPING_BYTES is read)."""
    try:
        data = read_regular(path, MAX_MAPPING_BYTES)
        if len(data) > MAX_MAPPING_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_MAPPING_BYTES >> 20} MiB; not a calibration mapping")
        return CalibrationMapping.model_validate_json(data)
    except FileNotFoundError:
        raise ConfigError(f"{path}: calibration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read calibration: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: not a calibration mapping: {where}: {first['msg']}") from None


def save_mapping(mapping: CalibrationMapping, path: Path) -> None:
    """Write the mapping as JSON; a path that is a symbolic link or a special file is refused (StorageError)."""
    problem = output_problem(path)
    if problem is not None:
        raise StorageError(f"{path}: {problem}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(mapping.model_dump_json(indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write calibration: {exc.strerror or exc}") from None
