"""Values computed once per rubric object: a batch grades every answer to a question with one Rubric object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from grader.models import Rubric

Value = TypeVar("Value")


class PerRubric(Generic[Value]):
    """A memo keyed by rubric identity (rubrics are frozen); it forgets everything past `limit` rubrics."""

    def __init__(self, limit: int = 256) -> None:
        self._values: dict[int, tuple[Rubric, Value]] = {}
        self._limit = limit

    def get(self, rubric: Rubric, build: Callable[[Rubric], Value]) -> Value:
        """The value for `rubric`, built by `build(rubric)` the first time."""
        found = self._values.get(id(rubric))
        if found is not None and found[0] is rubric:
            return found[1]
        value = build(rubric)
        if len(self._values) >= self._limit:
            self._values.clear()
        self._values[id(rubric)] = (rubric, value)
        return value

    def clear(self) -> None:
        self._values.clear()
