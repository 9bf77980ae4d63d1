"""What every report shows of a cohort: its context (when, from what, graded how), one row per candidate with
a cell per question, and the concepts the cohort covers least.

Totals: every candidate is scored out of the same number of questions, the most that any candidate of the
cohort has results for (all of them when everyone sat the same questions; 6 when each got 6 of a larger bank).
An answer that could not be graded (empty, unreadable, failed) counts 0, and so does each question short of
that number; the cells say which is which, so a total is never flattered by the answers it leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from grader.cohort.coverage import (
    Cohort,
    ConceptCoverage,
    QuestionSummary,
    candidate_summaries,
    question_summaries,
)

DEFAULT_MAX = 10.0
WEAKEST = 10  # concepts listed in "Weakest concepts"


@dataclass(frozen=True)
class ReportContext:
    """What a report says about where it comes from. `questions` maps question ids to their text."""

    title: str = "Batch grading report"
    source: str | None = None
    generated: datetime | None = None
    questions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cell:
    """A candidate's result on one question: `graded` (with its score), `failed` or `absent` (both count 0)."""

    kind: Literal["graded", "failed", "absent"]
    score: float = 0.0
    max_score: float = DEFAULT_MAX
    note: str = ""  # the band of a graded answer, the error of a failed one


@dataclass(frozen=True, slots=True)
class Row:
    candidate: str
    cells: dict[str, Cell]  # question id -> cell, for every question of the cohort
    weakest: str  # the candidate's weakest concept, "name (question)", or ""
    expected: int  # questions every candidate is scored out of

    @property
    def total(self) -> float:
        return sum(c.score for c in self.cells.values())

    @property
    def possible(self) -> float:
        """The maxima of the questions with a result, and DEFAULT_MAX for each one short of `expected`."""
        given = [c.max_score for c in self.cells.values() if c.kind != "absent"]
        return sum(given) + max(0, self.expected - len(given)) * DEFAULT_MAX

    @property
    def unanswered(self) -> int:
        """Questions short of `expected` (they count 0)."""
        return max(0, self.expected - self.count("graded") - self.count("failed"))

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.possible if self.possible else 0.0

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.cells.values())


@dataclass(frozen=True)
class Gradebook:
    questions: list[str]
    rows: list[Row]
    summaries: list[QuestionSummary]
    weakest: list[ConceptCoverage]
    method: str  # "keyword", "llm · gpt-4o-mini", "llm · m; 3 fell back to keywords", ...
    expected: int  # questions every candidate is scored out of

    @property
    def graded(self) -> int:
        return sum(r.count("graded") for r in self.rows)


def gradebook(cohort: Cohort) -> Gradebook:
    """The cohort's rows (one per candidate, a cell per question), question summaries and weakest concepts."""
    summaries = question_summaries(cohort)
    questions = [q.question_id for q in summaries]
    maxima = {q: DEFAULT_MAX for q in questions}
    for (_, question_id), answer in cohort.answers.items():
        maxima[question_id] = answer.max_score
    weakest_of = {s.candidate: s.weakest for s in candidate_summaries(cohort, weakest=1)}
    records: dict[str, int] = {}
    for candidate, _ in cohort.answers.keys() | cohort.errors.keys():
        records[candidate] = records.get(candidate, 0) + 1
    expected = max(records.values(), default=0)
    rows = []
    for candidate in cohort.candidates:
        cells: dict[str, Cell] = {}
        for question_id in questions:
            answer = cohort.answers.get((candidate, question_id))
            error = cohort.errors.get((candidate, question_id))
            if answer is not None:
                cells[question_id] = Cell("graded", answer.score, answer.max_score, answer.band)
            elif error is not None:
                cells[question_id] = Cell("failed", 0.0, maxima[question_id], error.error)
            else:
                cells[question_id] = Cell("absent", 0.0, maxima[question_id], "no answer")
        weak = weakest_of.get(candidate) or []
        label = f"{weak[0].concept.name} ({weak[0].question_id})" if weak else ""
        rows.append(Row(candidate, cells, label, expected))
    concepts = [c for q in summaries for c in q.concepts if c.answers]
    weakest = sorted(concepts, key=lambda c: (c.coverage, -c.concept.weight, -c.answers))[:WEAKEST]
    return Gradebook(questions, rows, summaries, weakest, grading_method(cohort), expected)


def grading_method(cohort: Cohort) -> str:
    """How the cohort was graded, in a few words."""
    methods: dict[str, int] = {}
    for answer in cohort.answers.values():
        label = answer.method + (f" · {answer.model}" if answer.model else "")
        methods[label] = methods.get(label, 0) + 1
    fallbacks = sum(a.fallback for a in cohort.answers.values())
    if not methods:
        return "nothing graded"
    ranked = sorted(methods.items(), key=lambda kv: -kv[1])
    text = ranked[0][0] if len(ranked) == 1 else "; ".join(f"{label} ({count})" for label, count in ranked)
    if fallbacks:
        text += f"; {fallbacks} fell back to keywords"
    return text
