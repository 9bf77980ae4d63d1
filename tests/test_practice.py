"""Practice mode: choosing the next question (tables over known grades), follow-ups, the CLI session,
time limits (a real process with an open pipe, and the terminal box fed through prompt_toolkit's pipe input)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from practice_bank import QUESTIONS, RUBRICS
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.answer_box import StreamSource, countdown
from grader.feedback import plan_study, summarise
from grader.models import ConceptResult, Grade
from grader.practice.history import Attempt, list_attempts
from grader.practice.picks import choose_next, follow_up_concept, follow_up_round, question_mastery
from grader.scoring import band_for, compute_score


def grade_of(qid: str, **statuses: str) -> Grade:
    """A grade as the keyword grader would build it, from known concept statuses."""
    by_id = {c.id: c for c in RUBRICS[qid].concepts}
    results = [
        ConceptResult(id=cid, name=by_id[cid].name, weight=by_id[cid].weight, status=status)  # type: ignore[arg-type]
        for cid, status in statuses.items()
    ]
    score = compute_score(results)
    return Grade(
        question_id=qid,
        score=score,
        band=band_for(score),
        method="keyword",
        concepts=results,
        feedback=summarise(results, [], []),
        study_next=plan_study(results, RUBRICS[qid]),
    )


def attempt(n: int, qid: str, source: str = "answer", **statuses: str) -> Attempt:
    grade = grade_of(qid, **statuses)
    return Attempt(
        id=n,
        created_at="2025-01-01T00:00:00Z",
        question_id=qid,
        category=QUESTIONS[qid].category,  # type: ignore[arg-type]
        source=source,
        method="keyword",
        rubric_version=1,
        score=grade.score,
        max_score=10,  # type: ignore[arg-type]
        band=grade.band,
        answer="...",
        grade=grade,
    )


GOOD = (
    "We keep two identical environments and switch traffic at the load balancer once the new one passes "
    "smoke tests; rolling back is just switching back. For canaries we send 5% of traffic to the new version "
    "and watch error rate and latency before increasing gradually."
)
ORDER = list(QUESTIONS.values())


@pytest.mark.parametrize(
    ("history", "avoid", "expected", "reason"),
    [
        pytest.param([], (), "a-1", "new", id="empty-history-bank-order"),
        pytest.param([attempt(1, "a-1", x="covered", y="covered")], (), "a-2", "new", id="never-answered-first"),
        pytest.param(
            [
                attempt(1, "a-1", x="covered", y="covered"),
                attempt(2, "a-2", z="missing"),
                attempt(3, "b-1", w="covered"),
            ],
            (),
            "a-2",
            "weakest",
            id="weakest-question",
        ),
        pytest.param(
            # a-1: x (weight 2) missing -> 1/3 mastered; a-2: z partial -> 1/2; b-1 covered
            [
                attempt(1, "a-1", x="missing", y="covered"),
                attempt(2, "a-2", z="partial"),
                attempt(3, "b-1", w="covered"),
            ],
            (),
            "a-1",
            "weakest",
            id="weights-matter",
        ),
        pytest.param(
            [
                attempt(1, "a-1", x="missing", y="covered"),
                attempt(2, "a-2", z="partial"),
                attempt(3, "b-1", w="covered"),
                attempt(4, "a-1", "follow-up", x="covered"),
            ],
            (),
            "a-2",
            "weakest",
            id="follow-up-lifts-a-concept",
        ),
        pytest.param(
            [
                attempt(1, "a-2", z="missing"),
                attempt(2, "b-1", w="missing"),
                attempt(3, "a-1", x="missing", y="missing"),
            ],
            (),
            "a-2",
            "weakest",
            id="tie-goes-to-longest-ago",
        ),
        pytest.param(
            [
                attempt(1, "a-1", x="missing", y="missing"),
                attempt(2, "a-2", z="covered"),
                attempt(3, "b-1", w="covered"),
            ],
            ("a-1",),
            "a-2",
            "weakest",
            id="just-practised-goes-last",
        ),
        pytest.param(
            [
                attempt(1, "a-1", x="missing", y="missing"),
                attempt(2, "a-2", z="covered"),
                attempt(3, "b-1", w="covered"),
            ],
            ("a-1", "a-2", "b-1"),
            "a-1",
            "weakest",
            id="all-avoided-still-weakest",
        ),
    ],
)
def test_choose_next(history, avoid, expected: str, reason: str) -> None:
    pick = choose_next(ORDER, RUBRICS, history, avoid=avoid)
    assert pick is not None
    assert (pick.question.id, pick.reason) == (expected, reason)


def test_pick_reports_mastery_and_weak_concepts() -> None:
    history = [
        attempt(1, "a-1", x="partial", y="missing"),
        attempt(2, "a-2", z="covered"),
        attempt(3, "b-1", w="covered"),
    ]
    pick = choose_next(ORDER, RUBRICS, history)
    assert pick is not None and pick.question.id == "a-1"
    assert pick.mastery == pytest.approx((2 * 0.5 + 1 * 0) / 3)
    assert pick.weak_concepts == ("Concept Y", "Concept X")  # missing before partial


def test_questions_without_a_rubric_are_never_picked() -> None:
    assert choose_next([QUESTIONS["a-3"]], RUBRICS, []) is None
    assert choose_next([], RUBRICS, []) is None


def test_question_mastery_counts_unseen_concepts_as_zero() -> None:
    latest = {("a-1", "y"): "covered"}
    assert question_mastery(RUBRICS["a-1"], latest) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param({"x": "covered", "y": "covered"}, None, id="all-covered"),
        pytest.param({"x": "partial", "y": "missing"}, "y", id="missing-before-partial"),
        pytest.param({"x": "missing", "y": "missing"}, "x", id="heaviest-missing"),
        pytest.param({"x": "covered", "y": "partial"}, "y", id="partial-when-nothing-missing"),
    ],
)
def test_follow_up_concept(statuses: dict[str, str], expected: str | None) -> None:
    grade = grade_of("a-1", **statuses)
    chosen = follow_up_concept(grade, RUBRICS["a-1"])
    assert (chosen.id if chosen else None) == expected
    bare = grade.model_copy(update={"study_next": []})  # a grader that gave no study plan
    chosen = follow_up_concept(bare, RUBRICS["a-1"])
    assert (chosen.id if chosen else None) == expected


def test_follow_up_round_grades_one_concept() -> None:
    rubric = RUBRICS["a-1"]
    prompt, sub = follow_up_round(QUESTIONS["a-1"], rubric, rubric.concepts[1])
    assert (prompt.id, prompt.category, prompt.text) == ("a-1", "alpha", "Tell me more about y?")
    assert [c.id for c in sub.concepts] == ["y"] and sub.question_id == "a-1"
    assert sub.misconceptions == rubric.misconceptions and sub.version == rubric.version


# --- the session through the CLI ------------------------------------------------------------------


REPO = Path(__file__).resolve().parent.parent
SECURITY_GOOD = (
    "Every image is scanned with Trivy in CI and the build fails on fixable criticals; the registry is rescanned "
    "nightly because new CVEs appear for what is already running. We rank findings by CVSS and exploitability, "
    "patch criticals within seven days, and rebuild images from patched base images instead of patching in place."
)


@pytest.fixture(autouse=True)
def two_rubric_bank(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real questions, but only two rubrics (cicd-3, security-3): picks must not depend on bank growth."""
    root = tmp_path_factory.mktemp("bank")
    shutil.copytree(REPO / "questions", root / "questions")
    (root / "rubrics").mkdir()
    for qid in ("cicd-3", "security-3"):
        shutil.copy(REPO / "rubrics" / f"{qid}.yaml", root / "rubrics")
    monkeypatch.setenv("GRADER_BANK", str(root))
    return root


def run(runner: CliRunner, *args: str, input: str):
    return runner.invoke(app, ["practice", *args], input=input)


def test_practice_picks_never_answered_then_saves(runner: CliRunner) -> None:
    result = run(runner, "--category", "cicd", input=GOOD + "\n.\nq\n")
    assert result.exit_code == 0, result.stderr
    (saved,) = list_attempts()
    assert (saved.question_id, saved.source, saved.answer) == ("cicd-3", "practice", GOOD)
    assert saved.elapsed_seconds is not None and saved.elapsed_seconds >= 0
    out = " ".join(result.stdout.split())
    assert "How do you handle blue-green or canary deployments?" in out and "never answered" in out
    assert "Score" in out and "1 answer graded" in result.stderr


def test_practice_follow_up_is_graded_on_its_concept_and_saved(runner: CliRunner) -> None:
    weak = "Blue-green means two identical environments; we switch traffic at the load balancer."
    follow = "We send 5% of traffic to the canary first, then 25% and 50%, increasing gradually while healthy."
    result = run(runner, "-c", "cicd", input=f"{weak}\n.\nf\n{follow}\n.\nq\n")
    assert result.exit_code == 0, result.stderr
    first, second = list_attempts()
    assert (first.source, second.source) == ("practice", "follow-up")
    assert second.question_id == "cicd-3" and len(second.grade.concepts) == 1
    offered = first.grade.study_next[0]
    assert second.grade.concepts[0].id == offered.concept_id
    assert "Follow-up" in result.stdout and offered.follow_up.split()[0] in result.stdout
    assert "2 answers graded" in result.stderr


def test_practice_next_question_skips_the_one_just_done(runner: CliRunner) -> None:
    result = run(runner, input=f"{GOOD}\n.\nn\n{SECURITY_GOOD}\n.\nq\n")
    assert result.exit_code == 0, result.stderr
    first, second = list_attempts()
    assert (first.question_id, second.question_id) == ("cicd-3", "security-3")
    assert (first.source, second.source) == ("practice", "practice")


@pytest.mark.parametrize(
    ("cicd_answer", "security_answer", "expected"),
    [
        pytest.param(GOOD, "I do not know.", "security-3", id="security-weaker"),
        pytest.param("I do not know.", SECURITY_GOOD, "cicd-3", id="cicd-weaker"),
    ],
)
def test_practice_picks_the_weakest_from_saved_history(
    runner: CliRunner, cicd_answer: str, security_answer: str, expected: str
) -> None:
    for qid, text in (("cicd-3", cicd_answer), ("security-3", security_answer)):
        assert runner.invoke(app, ["answer", "-q", qid, "--json"], input=text).exit_code == 0
    scores = {a.question_id: a.score for a in list_attempts()}
    assert scores[expected] < min(v for k, v in scores.items() if k != expected)  # known grades
    result = run(runner, input="")
    assert f"{expected} ·" in result.stdout and "weakest so far" in result.stdout
    assert result.exit_code == 3  # nothing typed: nothing graded


def test_practice_no_save_touches_no_history(runner: CliRunner) -> None:
    from grader.practice.history import history_path

    result = run(runner, "-c", "cicd", "--no-save", input=GOOD + "\n.\nq\n")
    assert result.exit_code == 0, result.stderr
    assert not history_path().exists()


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        pytest.param(["-c", "nope"], "", 2, "unknown category 'nope'", id="unknown-category"),
        pytest.param(["-c", "cicd"], "", 3, "nothing graded", id="no-answer"),
        pytest.param(["-c", "cicd", "--time-limit", "0"], "", 2, "--time-limit", id="zero-time-limit"),
    ],
)
def test_practice_errors(runner: CliRunner, args: list[str], stdin: str, code: int, message: str) -> None:
    result = run(runner, *args, input=stdin)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list_attempts() == []


# --- time limits ----------------------------------------------------------------------------------


def test_time_limit_grades_what_arrived_in_time(grader_home: Path) -> None:
    """A real `grade practice` whose stdin stays open: after 1.2 s the lines typed so far are graded."""
    env = {**os.environ, "GRADER_HOME": str(grader_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "practice", "-c", "cicd", "--time-limit", "0.02"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stderr is not None
    seen = []
    while not any("You have" in line for line in seen):  # the clock starts once the question is shown
        line = proc.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    proc.stdin.write("We keep two identical environments and switch traffic at the load balancer.\n")
    proc.stdin.flush()
    time.sleep(2.5)  # past the 1.2 s limit, without ending the answer
    _, rest = proc.communicate("too late\n.\nq\n", timeout=60)
    stderr = "".join(seen) + rest
    assert proc.returncode == 0, stderr
    assert "Time is up" in stderr and "grading what you typed so far" in stderr
    (saved,) = list_attempts()
    assert saved.answer == "We keep two identical environments and switch traffic at the load balancer."
    assert 1.0 <= (saved.elapsed_seconds or 0) < 2.5


def test_stream_source_stops_at_the_deadline() -> None:
    read, write = os.pipe()
    with os.fdopen(read, "rb") as reader, os.fdopen(write, "w") as writer:
        source = StreamSource(reader)
        writer.write("first line\nsecond")
        writer.flush()
        start = time.monotonic()
        typed = source.answer(0.3)
        assert typed.timed_out and typed.text == "first line"
        assert 0.25 <= time.monotonic() - start < 2
        writer.write(" line\n.\nyes\n")
        writer.flush()
        assert source.answer(None).text == "second line"
        assert source.choice("?") == "yes"
        writer.close()
        assert source.choice("?") is None


def test_terminal_box_submits_the_unfinished_line_when_time_is_up() -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from grader.cli.answer_box import TerminalSource

    with create_pipe_input() as keys:
        source = TerminalSource(input=keys, output=DummyOutput())
        keys.send_text("first line\nsecond, unfinished")
        typed = source.answer(0.5)
        assert typed.timed_out and typed.text == "first line\nsecond, unfinished"
        keys.send_text("done early\x04")  # Ctrl-D submits
        typed = source.answer(30)
        assert not typed.timed_out and typed.text == "done early" and typed.seconds < 5
        keys.send_text("n\r")
        assert source.choice("? ") == "n"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(300, "5:00", id="five-minutes"),
        pytest.param(59.2, "1:00", id="rounds-up"),
        pytest.param(61, "1:01", id="minute-and-second"),
        pytest.param(-3, "0:00", id="never-negative"),
    ],
)
def test_countdown(seconds: float, shown: str) -> None:
    assert countdown(seconds) == shown


# --- piped answers that are not text (issue 14) ---------------------------------------------------------


def test_probe9_practice_with_non_utf8_stdin_is_a_clear_error_and_keeps_what_was_graded(grader_home: Path) -> None:
    """Probe 9: non-UTF-8 stdin ended in an internal error after grading, and nothing was saved. Under the C locale
    Python decodes stdin with surrogate escapes, so the bad byte reached grading and then the history."""
    env = {**os.environ, "GRADER_HOME": str(grader_home), "LC_ALL": "C"}
    env.pop("PYTHONIOENCODING", None)
    stdin = (GOOD + "\n.\nn\n").encode() + b"Secrets in Vault, caf\xe9.\n.\nq\n"
    result = subprocess.run(
        [sys.executable, "-m", "grader", "practice"], input=stdin, capture_output=True, env=env, timeout=60
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 3, stderr
    assert "error: stdin: not UTF-8 text (byte 0xe9 at offset 21)" in stderr and "internal error" not in stderr
    (saved,) = list_attempts()  # the first answer, graded and shown before, is kept
    assert saved.answer == GOOD


def test_a_piped_answer_past_the_limit_is_refused_without_reading_on() -> None:
    from grader.errors import AnswerError

    source = StreamSource(io.BytesIO(b"x" * (10 << 20)))  # one line, no end: never held whole
    with pytest.raises(AnswerError, match="over 65,536 bytes"):
        source.answer(None)
