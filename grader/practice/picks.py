"""Practice mode's choices, as pure functions of the history and the bank: which question comes next, and which
missed concept's follow-up question to offer after a grade.

Order: questions never answered first (bank order); then the question whose concepts are weakest, i.e. the
lowest weighted mastery of its rubric's concepts, each at its latest status (follow-up answers included);
ties go to the question practised longest ago. Questions in `avoid` (just practised) come last.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from grader.bank.loader import Bank
from grader.models import Concept, Grade, Question, Rubric, Status
from grader.practice.history import Attempt
from grader.scoring import CREDIT


@dataclass(frozen=True)
class Pick:
    """The next question and why: `new` (never answered) or `weakest` (with its mastery, 0-1, and the concepts
    that were not covered at their latest attempt, heaviest first)."""

    question: Question
    reason: Literal["new", "weakest"]
    mastery: float | None = None
    weak_concepts: tuple[str, ...] = ()


def practice_pool(bank: Bank, category: str | None = None) -> tuple[list[Question], dict[str, Rubric]]:
    """The questions of `category` (or all) that have a rubric, in bank order, with their rubrics."""
    questions = [q for q in bank.in_category(category) if bank.has_rubric(q.id)]
    return questions, {q.id: bank.rubric(q.id) for q in questions}


def latest_statuses(attempts: Sequence[Attempt]) -> dict[tuple[str, str], Status]:
    """The latest status of every (question id, concept id) seen in the attempts."""
    latest: dict[tuple[str, str], Status] = {}
    for attempt in sorted(attempts, key=lambda a: a.id):
        for result in attempt.grade.concepts:
            latest[(attempt.question_id, result.id)] = result.status
    return latest


def question_mastery(rubric: Rubric, latest: Mapping[tuple[str, str], Status]) -> float:
    """Weighted mean credit of the rubric's concepts at their latest status; a concept never seen counts 0."""
    total = sum(c.weight for c in rubric.concepts)
    earned = sum(
        c.weight * CREDIT[latest[(rubric.question_id, c.id)]]
        for c in rubric.concepts
        if (rubric.question_id, c.id) in latest
    )
    return earned / total if total else 0.0


def choose_next(
    questions: Sequence[Question],
    rubrics: Mapping[str, Rubric],
    attempts: Sequence[Attempt],
    *,
    avoid: Collection[str] = (),
) -> Pick | None:
    """The question to practise next among `questions` (each with a rubric in `rubrics`); None when empty."""
    candidates = [q for q in questions if q.id in rubrics]
    if not candidates:
        return None
    answered = {a.question_id for a in attempts if a.full}
    last_seen = {a.question_id: a.id for a in sorted(attempts, key=lambda a: a.id)}
    latest = latest_statuses(attempts)

    def rank(item: tuple[int, Question]) -> tuple[bool, bool, float, int, int]:
        position, question = item
        is_new = question.id not in answered
        mastery = 0.0 if is_new else question_mastery(rubrics[question.id], latest)
        return (question.id in avoid, not is_new, mastery, last_seen.get(question.id, 0), position)

    _, best = min(enumerate(candidates), key=rank)
    if best.id not in answered:
        return Pick(question=best, reason="new")
    rubric = rubrics[best.id]
    weak = sorted(
        (c for c in rubric.concepts if latest.get((best.id, c.id), "missing") != "covered"),
        key=lambda c: (latest.get((best.id, c.id), "missing") != "missing", -c.weight),
    )
    return Pick(
        question=best,
        reason="weakest",
        mastery=question_mastery(rubric, latest),
        weak_concepts=tuple(c.name for c in weak),
    )


def follow_up_concept(grade: Grade, rubric: Rubric, answered: Collection[str] = ()) -> Concept | None:
    """The concept whose follow-up question to offer next: the grade's first study item (missed before partly
    covered, heaviest first), else None when every concept was covered. Concepts in `answered` (their
    follow-up was already answered well) are not offered again."""
    by_id = {c.id: c for c in rubric.concepts if c.id not in answered}
    for item in grade.study_next:
        if item.concept_id in by_id:
            return by_id[item.concept_id]
    weak = sorted(
        (r for r in grade.concepts if r.status != "covered" and r.id in by_id),
        key=lambda r: (r.status != "missing", -r.weight),
    )
    return by_id[weak[0].id] if weak else None


def answered_follow_ups(attempts: Sequence[Attempt], question_id: str) -> set[str]:
    """The concepts of `question_id` whose follow-up question was answered well (covered) in `attempts`."""
    return {
        attempt.grade.concepts[0].id
        for attempt in attempts
        if attempt.question_id == question_id
        and attempt.source == "follow-up"
        and attempt.grade.concepts
        and attempt.grade.concepts[0].status == "covered"
    }


# Words of a follow-up question that say how it asks, not what it is about.
_ASKING = frozenset(
    "how what why when where which who would could should can you your do does did is are keep handle describe "
    "explain tell give example make makes use used approach way ways think pick choose one two other others "
    "any more most still same over exactly happen happens need needs long around after before only many walk "
    "through between like instead time times several across first each little decide actually without setup "
    "specific run round cover allowed built someone never nobody day days change changes thing things team "
    "really always ever else just much well".split()
)
MAX_TOPIC_TERMS = 8


def follow_up_round(question: Question, rubric: Rubric, concept: Concept) -> tuple[Question, Rubric]:
    """The follow-up as something gradable on its own terms: the concept's follow-up question, and a rubric of
    one concept (the parent's id, so the answer counts towards that concept's mastery) that an answer to the
    follow-up covers. Its keywords are the concept's `follow_up_keywords` when the rubric has them; else the
    topic words of the follow-up question (those the original question does not already use) together with
    the concept's own keywords. A model, when one is configured, judges the answer against the follow-up
    question and this concept's description. The rubric's misconceptions still apply. Saved under the original
    question id as a `follow-up`."""
    prompt = Question(id=question.id, category=question.category, text=concept.follow_up)
    if concept.follow_up_keywords:
        keywords, synonyms = list(concept.follow_up_keywords), {}
    else:
        keywords = [*_topic_terms(concept.follow_up, question.text), *concept.keywords]
        synonyms = dict(concept.synonyms)
    keywords = list(dict.fromkeys(keywords))
    focused = concept.model_copy(
        update={
            "description": f"{concept.description} Asked as a follow-up: {concept.follow_up}",
            "keywords": keywords,
            "synonyms": {k: v for k, v in synonyms.items() if k in keywords},
            "min_hits": min(2, len(keywords)),
            "weight": 1.0,
        }
    )
    return prompt, rubric.model_copy(update={"concepts": [focused]})


def _topic_terms(follow_up: str, asked: str) -> list[str]:
    """Content words of the follow-up question that the original question does not use, in order."""
    from grader.keyword.reference import content_words, stem_set

    already = stem_set(asked)
    terms: list[str] = []
    seen: set[str] = set()
    for stem, word in content_words(follow_up):
        if word in _ASKING or stem in already or stem in seen or len(word) < 4:
            continue
        seen.add(stem)
        terms.append(word)
    return terms[:MAX_TOPIC_TERMS]
