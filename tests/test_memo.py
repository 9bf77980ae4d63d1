"""grader.memo.PerRubric: one value per rubric object."""

from __future__ import annotations

from pathlib import Path

from grader.bank.loader import load_bank
from grader.memo import PerRubric
from grader.models import Rubric

REPO = Path(__file__).resolve().parent.parent


def test_built_once_per_rubric_object_and_bounded() -> None:
    rubric = load_bank(REPO).rubric("cicd-3")
    built: list[Rubric] = []

    def build(r: Rubric) -> str:
        built.append(r)
        return r.question_id + str(len(built))

    memo: PerRubric[str] = PerRubric(limit=2)
    assert memo.get(rubric, build) == memo.get(rubric, build) == "cicd-31"
    copy = rubric.model_copy(deep=True)  # equal, but another object: built again (identity, not equality)
    assert memo.get(copy, build) == "cicd-32"
    memo.get(rubric.model_copy(deep=True), build)  # a third rubric: past the limit, the memo starts over
    assert memo.get(rubric, build) == "cicd-34"
    assert len(built) == 4
