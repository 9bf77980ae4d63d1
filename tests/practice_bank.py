"""A tiny bank shared by the practice and progress tests: two categories, weighted concepts, one question
without a rubric."""

from __future__ import annotations

from grader.models import Concept, Question, Rubric


def concept(cid: str, weight: float) -> Concept:
    return Concept(
        id=cid,
        name=f"Concept {cid.upper()}",
        description=f"What {cid} means.",
        weight=weight,
        keywords=[cid],
        follow_up=f"Tell me more about {cid}?",
    )


RUBRICS = {
    "a-1": Rubric(question_id="a-1", concepts=[concept("x", 2), concept("y", 1)], model_answer="m"),
    "a-2": Rubric(question_id="a-2", concepts=[concept("z", 1)], model_answer="m"),
    "b-1": Rubric(question_id="b-1", concepts=[concept("w", 1)], model_answer="m"),
}
QUESTIONS = {
    "a-1": Question(id="a-1", category="alpha", text="A one?"),
    "a-2": Question(id="a-2", category="alpha", text="A two?"),
    "a-3": Question(id="a-3", category="alpha", text="A three (no rubric)?"),
    "b-1": Question(id="b-1", category="beta", text="B one?"),
}
