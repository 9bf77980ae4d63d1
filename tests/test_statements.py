"""Reading structure and meaning around a keyword (issue 12): tables, code, negation, figures, templates, stories,
passing mentions and relevance. Pure functions, then the keyword grader on a small rubric."""

from __future__ import annotations

import pytest

from grader.flags import KEYWORD_STUFFING
from grader.keyword.grader import LONG_ANSWER_WORDS, grade_by_keywords
from grader.keyword.statements import figure_hits, is_negated, narrative_share, negators
from grader.keyword.text import CODE, PROSE, TABLE, analyse
from grader.models import Concept, Rubric


def concept(cid: str, keywords: list[str], **extra: object) -> Concept:
    return Concept(id=cid, name=cid, description=cid, weight=1, keywords=keywords, follow_up="?", **extra)


RUBRIC = Rubric(
    question_id="demo-1",
    concepts=[
        concept("switch", ["blue-green", "switch traffic", "load balancer"]),
        concept("canary", ["canary", "small percentage", "gradual"]),
        concept("result", ["deploy time", "faster"], figures=True),
    ],
    model_answer="m",
)
STORY = RUBRIC.model_copy(update={"story": True})


def statuses(answer: str, rubric: Rubric = RUBRIC) -> dict[str, str]:
    return {c.id: c.status for c in grade_by_keywords(rubric, answer).concepts}


# --- structure -----------------------------------------------------------------------------------------------

TABLE_ANSWER = """How they compare:

| Feature | Blue-green | Canary |
|---|---|---|
| Traffic | switch traffic at the load balancer in one step | a small percentage first, then gradual steps |
| Tools | ALB | Argo |
"""


def test_table_rows_are_sentences_and_rows_with_content_explain() -> None:
    doc = analyse(TABLE_ANSWER)
    kinds = [(s.kind, s.list_like) for s in doc.sentences]
    assert kinds == [(PROSE, False), (TABLE, True), (TABLE, False), (TABLE, True)]


def test_a_table_with_content_covers_concepts() -> None:
    assert statuses(TABLE_ANSWER) == {"switch": "covered", "canary": "covered", "result": "missing"}
    assert KEYWORD_STUFFING not in grade_by_keywords(RUBRIC, TABLE_ANSWER).flags


def test_code_lines_are_list_like_and_earn_partial_at_most() -> None:
    answer = "```\nblue-green\nswitch traffic\nload balancer\n```\n"
    doc = analyse(answer)
    assert {(s.kind, s.list_like) for s in doc.sentences} == {(CODE, True)}
    assert statuses(answer)["switch"] == "partial"


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("- **Blue-green**: we switch traffic at the load balancer in one step.", id="label-bullet"),
        pytest.param("1. Deploy the new version.\n2. Switch traffic to blue-green's idle side.", id="numbered"),
        pytest.param("Action:\nWe did blue-green and switched traffic at the load balancer.", id="star-heading"),
    ],
)
def test_structured_prose_is_explanation(answer: str) -> None:
    assert statuses(answer)["switch"] == "covered"


# --- negation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "negated"),
    [
        pytest.param("We never do canary releases.", True, id="never"),
        pytest.param("We don't have a canary stage at all.", True, id="dont-a-few-words-before"),
        pytest.param("We cannot run a canary here.", True, id="cannot"),
        pytest.param("We do not run anything like a real canary.", True, id="far-in-the-clause"),
        pytest.param("We don't use Jenkins, but a canary runs on every release.", False, id="clause-break"),
        pytest.param("We never deploy on Fridays and always start with a canary.", False, id="and-ends-the-clause"),
        pytest.param("Not only do we run a canary, we also watch it.", False, id="not-only"),
        pytest.param("There is no single point of failure; the canary shows it.", False, id="no-is-not-a-denial"),
        pytest.param("A canary goes first.", False, id="plain"),
    ],
)
def test_negation_of_a_keyword(answer: str, negated: bool) -> None:
    doc = analyse(answer)
    index = doc.words.index("canary")
    from grader.keyword.matcher import Hit

    hit = Hit("canary", index, index, doc.sentence_of[index])
    assert is_negated(hit, doc, negators(doc)) is negated


def test_a_negation_inside_the_keyword_itself_is_part_of_it() -> None:
    rubric = Rubric(
        question_id="demo-2",
        concepts=[concept("conn", ["can't connect", "connection refused"], min_hits=1)],
        model_answer="m",
    )
    assert statuses("The app can't connect to the database.", rubric) == {"conn": "covered"}


# --- figures -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "figure"),
    [
        pytest.param("Deploy time went from 45 mins → 10 mins.", "45 mins → 10 mins", id="before-after-arrow"),
        pytest.param("That was a 77% improvement.", "77%", id="percent"),
        pytest.param("Builds got 3x faster.", "3x", id="times"),
        pytest.param("We saved $40k a year.", "$40k", id="money"),
        pytest.param("It cut 200 alerts to 40.", "200 alerts to 40", id="from-to"),
        pytest.param("Version 2 of the tool was better.", None, id="a-number-without-a-unit"),
    ],
)
def test_figures(sentence: str, figure: str | None) -> None:
    assert [h.label for h in figure_hits(analyse(sentence))] == ([] if figure is None else [figure])


def test_figures_count_once_for_a_result_concept() -> None:
    one = "Deploy time dropped by 60%."
    many = "Deploy time dropped by 60%. Releases went from 2 a week to 20. Rollbacks took 30 seconds."
    assert statuses(one)["result"] == "covered"  # deploy time + a figure: two keywords
    grade = grade_by_keywords(RUBRIC, "Releases went from 2 a week to 20. Rollbacks took 30 seconds. Errors fell 40%.")
    assert next(c for c in grade.concepts if c.id == "result").status == "partial"  # figures alone: one keyword
    assert statuses(many)["result"] == "covered"


# --- templates -----------------------------------------------------------------------------------------------


def test_sentences_from_one_template_are_stuffing() -> None:
    words = ["blue-green", "load balancer", "canary", "small percentage", "gradual", "switch traffic"]
    grade = grade_by_keywords(RUBRIC, " ".join(f"We also use {w} in production." for w in words))
    assert KEYWORD_STUFFING in grade.flags
    assert all(c.status != "covered" for c in grade.concepts)


def test_three_similar_sentences_are_not_a_template() -> None:
    answer = "We use blue-green for the API. We use a canary for the workers. We use a load balancer for both."
    assert KEYWORD_STUFFING not in grade_by_keywords(RUBRIC, answer).flags


# --- stories, relevance, passing mentions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "story"),
    [
        pytest.param("We rolled back the release. The alert fired at 2am and I was on call.", True, id="past"),
        pytest.param("Rolled back the deploy. Added an alert.", True, id="sentence-starts-with-a-past-verb"),
        pytest.param("We use canaries and switch traffic at the load balancer.", False, id="present"),
        pytest.param("I would first check the logs, then roll back.", False, id="hypothetical"),
    ],
)
def test_narrative_share(answer: str, story: bool) -> None:
    assert (narrative_share(analyse(answer)) == 1.0) is story


def test_a_story_question_wants_what_happened() -> None:
    how = "We use blue-green and switch traffic at the load balancer, with a canary for a small percentage."
    what = "We used blue-green and switched traffic at the load balancer; a canary took a small percentage first."
    assert grade_by_keywords(STORY, how).score < grade_by_keywords(STORY, what).score
    assert grade_by_keywords(STORY, how).relevance == 0.0
    assert grade_by_keywords(STORY, what).relevance == 1.0


def test_an_answer_mostly_about_something_else_keeps_part_of_its_score() -> None:
    on_topic = "We run blue-green, switch traffic at the load balancer, and send a canary a small percentage first."
    padding = " ".join(["Our team also spends a lot of time on documentation, hiring and planning meetings."] * 8)
    focused, diluted = grade_by_keywords(RUBRIC, on_topic), grade_by_keywords(RUBRIC, on_topic + " " + padding)
    assert focused.relevance == 1.0 and diluted.relevance is not None and diluted.relevance < 0.4
    assert diluted.score < focused.score


def test_one_word_said_once_in_a_long_answer_is_a_passing_mention() -> None:
    filler = " ".join(["We spent the quarter on capacity planning for storage and on hiring two engineers."] * 12)
    assert len(filler.split()) >= LONG_ANSWER_WORDS
    long_answer = filler + " We looked at canary ideas once."
    grade = grade_by_keywords(RUBRIC, long_answer)
    canary = next(c for c in grade.concepts if c.id == "canary")
    assert canary.status == "missing" and canary.reason and "passing" in canary.reason
    assert statuses("We looked at canary ideas once.")["canary"] == "partial"  # in a short answer it counts
