"""grader: grades written answers to DevOps/SRE interview questions, concept by concept.

The public Python API (imported lazily, so `import grader` stays cheap):

    from grader import load_bank, grade_answer, GradeOptions

    bank = load_bank()                                  # the bundled bank, or GRADER_BANK / a folder
    question = bank.question("cicd-3")
    rubric = rubric_for(bank, question)
    grade = grade_answer(question, rubric, "We run canaries ...")            # keyword grader, offline
    grade = grade_answer(question, rubric, text, GradeOptions(model="openai/gpt-4o-mini"))  # with a model
    print(grade.score, grade.band, [c.status for c in grade.concepts])

- `load_bank(root=None) -> Bank`: questions and rubrics (`Bank.question(id)`, `Bank.rubric(id)`).
- `rubric_for(bank, question) -> Rubric`: the question's rubric (derived from its reference answer if it has none).
- `grade_answer(question, rubric, answer, options=None) -> Grade`: grade one answer; `GradeOptions` picks the
  grader (`mode`: auto, keyword, llm, hybrid) and the model.
- `grade_by_keywords(rubric, answer) -> Grade`: the offline grader alone.
- `check_bank(root) -> CheckReport`: what `grade rubrics check` reports.
- `compute_score(concepts, misconceptions, flags) -> float`: the one place verdicts become a score.
- The contracts (pydantic): `Question`, `Rubric`, `Concept`, `Misconception`, `Grade`, `ConceptResult`.
- Errors: `GraderError` and its kinds (`UnknownQuestionError`, `BankError`, `AnswerError`, `ConfigError`,
  `LLMError`, `StorageError`).

The package is made of one subpackage per concern: `bank` (loading, validation, import), `keyword` (the offline
grader), `llm` (the model grader), `cohort` (batch, results, coverage, reports, reviewers' overrides), `practice`
(history, progress, practice), `calibration`, `review` (the review web app, an extra), and `cli` (the `grade` command
and its views). The shared contracts live at the top.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "load_bank": "grader.bank.loader",
    "Bank": "grader.bank.loader",
    "check_bank": "grader.bank.validation",
    "CheckReport": "grader.bank.validation",
    "grade_answer": "grader.pipeline",
    "grade_by_keywords": "grader.pipeline",
    "rubric_for": "grader.pipeline",
    "GradeOptions": "grader.pipeline",
    "compute_score": "grader.scoring",
    "band_for": "grader.scoring",
    "Question": "grader.models",
    "Rubric": "grader.models",
    "Concept": "grader.models",
    "Misconception": "grader.models",
    "Grade": "grader.models",
    "ConceptResult": "grader.models",
    "MisconceptionResult": "grader.models",
    "GraderError": "grader.errors",
    "UnknownQuestionError": "grader.errors",
    "BankError": "grader.errors",
    "AnswerError": "grader.errors",
    "ConfigError": "grader.errors",
    "LLMError": "grader.errors",
    "StorageError": "grader.errors",
}

__all__ = [
    "AnswerError",
    "Bank",
    "BankError",
    "CheckReport",
    "Concept",
    "ConceptResult",
    "ConfigError",
    "Grade",
    "GradeOptions",
    "GraderError",
    "LLMError",
    "Misconception",
    "MisconceptionResult",
    "Question",
    "Rubric",
    "StorageError",
    "UnknownQuestionError",
    "band_for",
    "check_bank",
    "compute_score",
    "grade_answer",
    "grade_by_keywords",
    "load_bank",
    "rubric_for",
]

if TYPE_CHECKING:
    from grader.bank.loader import Bank, load_bank
    from grader.bank.validation import CheckReport, check_bank
    from grader.errors import (
        AnswerError,
        BankError,
        ConfigError,
        GraderError,
        LLMError,
        StorageError,
        UnknownQuestionError,
    )
    from grader.models import Concept, ConceptResult, Grade, Misconception, MisconceptionResult, Question, Rubric
    from grader.pipeline import GradeOptions, grade_answer, grade_by_keywords, rubric_for
    from grader.scoring import band_for, compute_score


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute '{name}'")
    return getattr(import_module(module), name)
