"""Answers written to game the keyword grader score low (issue 12), on the real bank's rubrics.

Every text here is our own, built from the rubric's keywords the way a gamer would: the same sentence frame
repeated for each keyword, "X is a thing." sentences, a bare list in a code block, an answer that negates every
keyword, and a content-free story. Each pattern must stay at or below GAMED_MAX (and be flagged
keyword_stuffing where the flag fits); negated concepts are never covered; a content-free story stays at or
below NARRATIVE_MAX.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from grader.bank.loader import Bank, load_bank
from grader.flags import KEYWORD_STUFFING
from grader.keyword.grader import grade_by_keywords

GAMED_MAX = 3.0
NARRATIVE_MAX = 2.0
QUESTIONS = ["infra-3", "cicd-3", "monitoring-3", "containers-5", "security-2", "behavioral-1", "behavioral-4"]


@cache
def bank() -> Bank:
    return load_bank()


def keywords(question_id: str) -> list[str]:
    return [k for c in bank().rubric(question_id).concepts for k in c.keywords if "..." not in k]


def also_use(words: list[str]) -> str:
    return " ".join(f"We also use {k} in production." for k in words)


def is_a_thing(words: list[str]) -> str:
    return " ".join(f"{k[0].upper()}{k[1:]} is a thing." for k in words)


def code_block(words: list[str]) -> str:
    return "Here is what I know:\n\n```\n" + ", ".join(words) + "\n```\n"


def code_lines(words: list[str]) -> str:
    return "```\n" + "\n".join(words) + "\n```\n"


PATTERNS: dict[str, Callable[[list[str]], str]] = {
    "also-use": also_use,
    "is-a-thing": is_a_thing,
    "code-block": code_block,
    "code-lines": code_lines,
}


@pytest.mark.parametrize("question_id", QUESTIONS)
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_keyword_lists_dressed_up_score_low_and_are_flagged(pattern: str, question_id: str) -> None:
    grade = grade_by_keywords(bank().rubric(question_id), PATTERNS[pattern](keywords(question_id)))
    assert grade.score <= GAMED_MAX, (grade.score, [c.status for c in grade.concepts])
    assert KEYWORD_STUFFING in grade.flags
    assert all(c.status != "covered" for c in grade.concepts)


@pytest.mark.parametrize("question_id", QUESTIONS)
def test_an_answer_that_negates_every_keyword_covers_nothing(question_id: str) -> None:
    words = keywords(question_id)
    text = " ".join(
        f"We never use {k}." if i % 3 == 0 else f"We don't do {k}." if i % 3 == 1 else f"We cannot rely on {k}."
        for i, k in enumerate(words)
    )
    grade = grade_by_keywords(bank().rubric(question_id), text)
    assert grade.score <= GAMED_MAX
    assert all(c.status == "missing" for c in grade.concepts), [(c.id, c.matched) for c in grade.concepts]


def test_negating_half_the_answer_loses_exactly_those_concepts() -> None:
    affirmed = "We run blue-green with two identical environments and switch traffic at the load balancer."
    denied = "We never do canary releases and we don't shift a small percentage of traffic gradually."
    grade = grade_by_keywords(bank().rubric("cicd-3"), f"{affirmed} {denied}")
    statuses = {c.id: c.status for c in grade.concepts}
    assert statuses["traffic-switch"] == "covered"
    assert statuses["canary-gradual"] == "missing"


CONTENT_FREE = (
    "It was a really tough time for everyone involved and I remember it well. I worked closely with the team and "
    "we talked through what was going on. Everyone did their part and we got through it together in the end. "
    "Looking back, it taught me a lot about people and about staying calm under pressure."
)


@pytest.mark.parametrize(
    "question_id", ["behavioral-1", "behavioral-2", "behavioral-3", "behavioral-4", "behavioral-5", "monitoring-4"]
)
def test_a_content_free_story_scores_low(question_id: str) -> None:
    assert grade_by_keywords(bank().rubric(question_id), CONTENT_FREE).score <= NARRATIVE_MAX


def test_a_real_story_is_not_mistaken_for_gaming() -> None:
    story = (
        "Last year I was on call when checkout started failing: an alert fired on the 5xx error rate and "
        "customers reported failed payments. I declared a sev1, opened an incident channel and posted regular "
        "updates to the status page. The recent deploy was the obvious suspect, so we rolled back first and "
        "service recovered within 12 minutes. It turned out a config change had dropped the database pool to "
        "two connections. In the blameless postmortem we added a validation step to the pipeline and an alert on "
        "pool saturation. The lesson I took: mitigate first, investigate after."
    )
    grade = grade_by_keywords(bank().rubric("behavioral-1"), story)
    assert grade.flags == []
    assert grade.score >= 7.0, [(c.id, c.status) for c in grade.concepts]
