"""Choosing a grader for an answer and running it: the one entry point the CLI and batch use."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from grader.bank import Bank
from grader.keyword_grader import grade_by_keywords
from grader.models import Grade, Question, Rubric

Mode = Literal["auto", "keyword", "llm", "hybrid"]


@dataclass(frozen=True)
class GradeOptions:
    """How to grade. `mode="auto"` uses the LLM when a model is configured, else keywords."""

    mode: Mode = "auto"
    model: str | None = None
    api_base: str | None = None
    timeout: float = 60.0
    samples: int = 1
    use_cache: bool = True

    def method(self) -> Literal["keyword", "llm", "hybrid"]:
        if self.mode == "auto":
            return "llm" if self.model else "keyword"
        return self.mode


def rubric_for(bank: Bank, question: Question) -> Rubric:
    """The question's rubric from the bank."""
    return bank.rubric(question.id)


def grade_answer(question: Question, rubric: Rubric, answer: str, options: GradeOptions | None = None) -> Grade:
    """Grade one answer to `question` with the grader `options` select."""
    options = options or GradeOptions()
    del question
    return grade_by_keywords(rubric, answer)


async def grade_answer_async(
    question: Question, rubric: Rubric, answer: str, options: GradeOptions | None = None
) -> Grade:
    """`grade_answer` for an event loop: the keyword path runs inline, the LLM path off the loop."""
    options = options or GradeOptions()
    if options.method() == "keyword":
        return grade_answer(question, rubric, answer, options)
    return await asyncio.to_thread(grade_answer, question, rubric, answer, options)
