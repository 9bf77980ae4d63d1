"""Practice that teaches: follow-ups graded against the follow-up question, not offered again once answered
well, drafts kept on Ctrl-C, and the answer box wrapping between words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.answer_box import wrap_padding
from grader.models import Concept, Question, Rubric
from grader.pipeline import grade_answer
from grader.practice.drafts import list_drafts, make_draft, save_draft
from grader.practice.history import list_attempts
from grader.practice.picks import answered_follow_ups, follow_up_concept, follow_up_round

REPO = Path(__file__).resolve().parent.parent
STATE = Concept(
    id="state",
    name="Remote state",
    description="State lives in a remote backend with locking.",
    weight=2,
    keywords=["remote state", "state locking"],
    follow_up="How do you manage per-environment variables and settings with Terraform?",
)
QUESTION = Question(id="infra-9", category="infra", text="What is Infrastructure as Code?")
RUBRIC = Rubric(question_id="infra-9", concepts=[STATE], model_answer="m")
TFVARS = (
    "We keep one tfvars file per environment with that environment's variables, and Terraform picks the "
    "file in the pipeline, so staging and prod differ only in those settings."
)


def test_a_follow_up_is_graded_against_the_follow_up_question() -> None:
    """The issue's case: a right answer about per-environment tfvars scored 0 against the parent's keywords."""
    on_parent = grade_answer(QUESTION, RUBRIC.model_copy(update={"concepts": [STATE]}), TFVARS)
    assert on_parent.concepts[0].status == "missing"  # what practice used to grade it on
    prompt, rubric = follow_up_round(QUESTION, RUBRIC, STATE)
    assert prompt.text == STATE.follow_up and [c.id for c in rubric.concepts] == ["state"]
    grade = grade_answer(prompt, rubric, TFVARS)
    assert grade.concepts[0].status == "covered" and grade.score == 10
    off_topic = grade_answer(prompt, rubric, "We use Kubernetes with Helm charts and Argo CD for deployments.")
    assert off_topic.concepts[0].status == "missing"


def test_follow_up_keywords_from_the_rubric_win() -> None:
    concept = STATE.model_copy(update={"follow_up_keywords": ["tfvars", "workspace"]})
    _, rubric = follow_up_round(QUESTION, RUBRIC, concept)
    assert rubric.concepts[0].keywords == ["tfvars", "workspace"] and rubric.concepts[0].min_hits == 2


def test_a_follow_up_answered_well_is_not_offered_again(runner: CliRunner, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:  # fmt: skip
    root = tmp_path / "bank"
    shutil.copytree(REPO / "questions", root / "questions")
    (root / "rubrics").mkdir()
    shutil.copy(REPO / "rubrics" / "cicd-3.yaml", root / "rubrics")
    monkeypatch.setenv("GRADER_BANK", str(root))
    weak = "Blue-green means two identical environments; we switch traffic at the load balancer."
    result = runner.invoke(app, ["practice", "-c", "cicd"], input=f"{weak}\n.\nq\n")
    first = list_attempts()[0]
    concept_id = first.grade.study_next[0].concept_id
    from grader.bank.loader import load_bank

    rubric = load_bank(root).rubric("cicd-3")
    concept = next(c for c in rubric.concepts if c.id == concept_id)
    _, sub = follow_up_round(load_bank(root).question("cicd-3"), rubric, concept)
    good = " ".join(sub.concepts[0].keywords[:4]) + "."
    result = runner.invoke(app, ["practice", "-c", "cicd"], input=f"{weak}\n.\nf\n{good}\n.\nq\n")
    assert result.exit_code == 0, result.stderr
    follow = list_attempts()[-1]
    assert follow.source == "follow-up" and follow.grade.concepts[0].status == "covered"
    assert answered_follow_ups(list_attempts(), "cicd-3") == {concept_id}
    assert follow_up_concept(first.grade, rubric, answered={concept_id}).id != concept_id
    again = runner.invoke(app, ["practice", "-c", "cicd"], input=f"{weak}\n.\nq\n")
    assert f"on '{concept.name}'" not in again.stderr


@pytest.mark.parametrize(
    ("line", "width", "pads"),
    [
        pytest.param("short line", 20, [], id="fits"),
        pytest.param("we keep two identical", 10, [(8, 2), (12, 6)], id="breaks-between-words"),
        pytest.param("a verylongwordthatcannotfit", 10, [], id="long-word-breaks-where-it-must"),
        pytest.param("abcd efgh", 4, [(5, 3)], id="space-at-the-edge"),
    ],
)
def test_wrap_padding(line: str, width: int, pads: list[tuple[int, int]]) -> None:
    assert wrap_padding(line, width) == pads
    padded = line
    for at, spaces in reversed(pads):
        padded = padded[:at] + " " * spaces + padded[at:]
    rows = [padded[i : i + width] for i in range(0, len(padded), width)]
    words = {w for w in line.split() if len(w) <= width}
    assert all(any(w in row.split() for row in rows) for w in words)  # no word that fits is cut


def test_the_answer_box_keeps_the_text_and_ctrl_c_returns_the_draft() -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from grader.cli.answer_box import DraftInterrupt, TerminalSource

    text = "We keep two identical environments and switch the load balancer when the green one is healthy " * 2
    with create_pipe_input() as keys:
        source = TerminalSource(input=keys, output=DummyOutput())
        keys.send_text(text + "\x04")
        assert source.answer(None).text == text.strip()  # the wrapping is on screen only
        keys.send_text("half an answer\x03")  # Ctrl-C
        with pytest.raises(DraftInterrupt) as stopped:
            source.answer(None)
        assert stopped.value.text == "half an answer"
        keys.send_text(" and the rest\x04")
        assert source.answer(None, draft="half an answer").text == "half an answer and the rest"


def test_practice_offers_a_kept_draft_and_grades_it_when_resumed(runner: CliRunner, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    root = tmp_path / "bank"
    shutil.copytree(REPO / "questions", root / "questions")
    (root / "rubrics").mkdir()
    for qid in ("cicd-3", "security-3"):
        shutil.copy(REPO / "rubrics" / f"{qid}.yaml", root / "rubrics")
    monkeypatch.setenv("GRADER_BANK", str(root))
    save_draft(make_draft("security-3", "Secrets live in Vault with short-lived credentials"))
    result = runner.invoke(app, ["practice"], input="\n, rotated and audited.\n.\nq\n")
    assert result.exit_code == 0, result.stderr
    assert "unfinished answer to security-3" in result.stderr
    (attempt,) = list_attempts()
    assert attempt.question_id == "security-3"
    assert attempt.answer == "Secrets live in Vault with short-lived credentials\n, rotated and audited."
    assert list_drafts() == []  # graded: the draft is gone


def test_practice_discards_a_draft_when_asked(runner: CliRunner) -> None:
    save_draft(make_draft("cicd-3", "half"))
    result = runner.invoke(app, ["practice", "-c", "cicd"], input="d\n\n.\n")
    assert "unfinished answer to cicd-3" in result.stderr and list_drafts() == []


def test_progress_in_an_empty_category_says_where_the_attempts_are(runner: CliRunner) -> None:
    good = "Blue-green: two identical environments, switch the load balancer, roll back by switching back."
    assert runner.invoke(app, ["answer", "-q", "cicd-3", "--json"], input=good).exit_code == 0
    result = runner.invoke(app, ["progress", "-c", "security"])
    assert result.exit_code == 0
    assert "No attempts in category 'security' yet (1 attempt in other categories)" in " ".join(result.stdout.split())
