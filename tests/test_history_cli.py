"""`grade answer` saving, `grade history`, `grade history show`, `grade export` through the CLI."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.common import EXIT_PARTIAL, EXIT_STORAGE, EXIT_USAGE
from grader.practice.history import history_path, list_attempts

GOOD = (
    "We keep two identical environments and switch traffic at the load balancer once the new one passes "
    "smoke tests; rolling back is just switching back. For canaries we send 5% of traffic to the new version "
    "and watch error rate and latency before increasing gradually."
)
WEAK = "I would use Jenkins to deploy it and check that it works."


def run(runner: CliRunner, *args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def answer(runner: CliRunner, text: str, *extra: str, question: str = "cicd-3") -> dict:
    result = run(runner, "answer", "-q", question, "--json", *extra, input=text)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_answer_saves_the_attempt(runner: CliRunner, grader_home: Path) -> None:
    before = datetime.now().astimezone()
    grade = answer(runner, GOOD)
    (attempt,) = list_attempts()
    assert history_path() == grader_home / "history.db"
    assert attempt.answer == GOOD
    assert attempt.grade.model_dump(mode="json") == grade
    assert (attempt.question_id, attempt.category, attempt.source) == ("cicd-3", "cicd", "answer")
    assert (attempt.method, attempt.model) == ("keyword", None)
    assert attempt.rubric_version == grade["rubric_version"] and attempt.score == grade["score"]
    assert before <= attempt.created_at <= datetime.now().astimezone()


def test_json_stdout_stays_pure_json_when_saving(runner: CliRunner) -> None:
    result = run(runner, "answer", "-q", "cicd-3", "--json", input=GOOD)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["question_id"] == "cicd-3"
    assert result.stderr == ""


def test_no_save_saves_nothing(runner: CliRunner) -> None:
    answer(runner, GOOD, "--no-save")
    result = run(runner, "answer", "-q", "cicd-3", "--no-save", input=GOOD)
    assert result.exit_code == 0 and "Score" in result.stdout
    assert not history_path().exists()


def test_history_lists_attempts(runner: CliRunner) -> None:
    answer(runner, WEAK)
    answer(runner, GOOD)
    answer(runner, "Vault with short-lived credentials.", question="security-3")
    result = run(runner, "history")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "cicd-3" in line or "security-3" in line]
    assert len(lines) == 3 and "cicd-3" in lines[0] and "security-3" in lines[2]

    only = run(runner, "history", "--question", "cicd-3", "--json")
    assert only.exit_code == 0, only.stderr
    assert [a["answer"] for a in json.loads(only.stdout)] == [WEAK, GOOD]

    last = run(runner, "history", "--last", "1", "--json")
    assert [a["question_id"] for a in json.loads(last.stdout)] == ["security-3"]
    shown = run(runner, "history", "--last", "2")
    assert "the last 2 of 3 attempts" in shown.stdout


def test_history_when_empty_and_unknown_question(runner: CliRunner) -> None:
    empty = run(runner, "history")
    assert empty.exit_code == 0 and "No attempts saved yet" in empty.stdout
    wrong = run(runner, "history", "--question", "cicd-33")
    assert wrong.exit_code == EXIT_USAGE and "unknown question 'cicd-33'" in wrong.stderr


def test_history_show_repeats_the_full_feedback(runner: CliRunner) -> None:
    answer(runner, WEAK)
    grade = answer(runner, GOOD)
    result = run(runner, "history", "show", "2")
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Attempt #2" in out and "How do you handle blue-green or canary deployments?" in out
    assert "two identical environments" in out
    assert f"Score {grade['score']:g} / 10" in out
    for concept in grade["concepts"]:
        assert concept["name"].split()[0] in out
    as_json = json.loads(run(runner, "history", "show", "2", "--json").stdout)
    assert as_json["id"] == 2 and as_json["grade"] == grade and as_json["answer"] == GOOD


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["history", "show", "9"], EXIT_USAGE, "no attempt 9", id="unknown-attempt"),
        pytest.param(["history", "show", "abc"], EXIT_USAGE, "ATTEMPT", id="not-a-number"),
        pytest.param(["history", "--last", "0"], EXIT_USAGE, "--last", id="last-zero"),
    ],
)
def test_history_usage_errors(runner: CliRunner, args: list[str], code: int, message: str) -> None:
    answer(runner, GOOD)
    result = run(runner, *args)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: os.urandom(8192), id="random-bytes"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["answer", "-q", "cicd-3", "--json"], id="answer"),
        pytest.param(["history"], id="history"),
        pytest.param(["history", "show", "1"], id="show"),
        pytest.param(["progress"], id="progress"),
        pytest.param(["export"], id="export"),
    ],
)
def test_damaged_database_exit_7_one_line_file_untouched(runner: CliRunner, damage, command: list[str]) -> None:
    for _ in range(3):
        answer(runner, GOOD + " " + "more words " * 300)
    path = history_path()
    path.write_bytes(damage(path.read_bytes()))
    before = digest(path)
    result = run(runner, *command, input=GOOD)
    assert result.exit_code == EXIT_STORAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    message = lines[0]
    assert message.startswith("error:") and "damaged" in message and "history.db" in message
    assert "Traceback" not in result.stderr
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name != "cache") == ["history.db"]  # no -wal, -shm


def test_answer_still_shows_the_grade_when_the_history_is_damaged(runner: CliRunner) -> None:
    history_path().parent.mkdir(parents=True, exist_ok=True)
    history_path().write_bytes(b"not a database at all" * 100)
    result = run(runner, "answer", "-q", "cicd-3", "--json", input=GOOD)
    assert result.exit_code == EXIT_STORAGE
    assert json.loads(result.stdout)["question_id"] == "cicd-3"
    assert "--no-save" in run(runner, "answer", "--help").stdout
    assert run(runner, "answer", "-q", "cicd-3", "--no-save", "--json", input=GOOD).exit_code == 0


def test_export_to_stdout_is_jsonl(runner: CliRunner) -> None:
    answer(runner, WEAK)
    answer(runner, GOOD)
    result = run(runner, "export")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    rows = [json.loads(line) for line in lines]
    assert [r["answer"] for r in rows] == [WEAK, GOOD]
    assert {"id", "created_at", "question_id", "source", "method", "score", "answer", "grade"} <= set(rows[0])


def test_export_to_a_file(runner: CliRunner, tmp_path: Path) -> None:
    answer(runner, GOOD)
    target = tmp_path / "history.jsonl"
    result = run(runner, "export", "--out", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "Exported 1 attempt to" in result.stderr
    assert json.loads(target.read_text())["answer"] == GOOD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.jsonl"]
    missing = run(runner, "export", "--out", str(tmp_path / "no" / "such" / "x.jsonl"))
    assert missing.exit_code == EXIT_STORAGE and "cannot write the export" in missing.stderr


def test_empty_export(runner: CliRunner) -> None:
    result = run(runner, "export")
    assert result.exit_code == 0 and result.stdout == ""


# --- bad rows and bad targets (issue 14) ----------------------------------------------------------------


def spoil_row(attempt_id: int, *, grade_json: str | None = None, answer: bytes | None = None) -> None:
    """Damage one row the way another tool (or a disk) could: a grade that is not JSON, text that is not UTF-8."""
    import sqlite3

    with sqlite3.connect(history_path()) as db:
        if grade_json is not None:
            db.execute("UPDATE attempts SET grade_json = ? WHERE id = ?", (grade_json, attempt_id))
        if answer is not None:
            db.execute("UPDATE attempts SET answer = CAST(? AS TEXT) WHERE id = ?", (answer, attempt_id))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param({"grade_json": "{not json"}, id="grade-not-json"),
        pytest.param({"answer": b"caf\xe9 latin-1"}, id="answer-not-utf8"),
        pytest.param({"grade_json": "[" * 100_000}, id="grade-nested-too-deep"),
    ],
)
def test_probe6_one_unreadable_row_is_skipped_and_reported(runner: CliRunner, tmp_path: Path, damage: dict) -> None:
    """Probe 6: one unreadable history row made history, progress, export and practice all fail."""
    answer(runner, WEAK)
    answer(runner, GOOD)
    answer(runner, WEAK, question="security-3")
    spoil_row(2, **damage)
    warning = "attempt 2 in the history cannot be read"
    listed = run(runner, "history", "--json")
    assert listed.exit_code == 0 and [a["id"] for a in json.loads(listed.stdout)] == [1, 3]
    assert warning in listed.stderr and "skipped" in listed.stderr
    progress = run(runner, "progress", "--json")
    assert progress.exit_code == 0 and warning in progress.stderr
    assert json.loads(progress.stdout)["categories"]
    exported = run(runner, "export")
    assert exported.exit_code == EXIT_PARTIAL and warning in exported.stderr
    assert [json.loads(line)["id"] for line in exported.stdout.splitlines()] == [1, 3]
    target = tmp_path / "export.jsonl"
    to_file = run(runner, "export", "--out", str(target))
    assert to_file.exit_code == EXIT_PARTIAL and len(target.read_text().splitlines()) == 2
    practised = run(runner, "practice", "-c", "cicd", input=GOOD + "\n.\nq\n")
    assert practised.exit_code == 0 and practised.stderr.count(warning) == 1
    shown = run(runner, "history", "show", "2")
    assert shown.exit_code == EXIT_STORAGE and warning in shown.stderr  # asked for by id: an error
    import sqlite3

    with sqlite3.connect(history_path()) as db:  # the bad row is left as it was; practice saved one more
        assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 4


@pytest.mark.parametrize("kind", ["symlink", "fifo", "history-itself"])
def test_probe5_export_never_replaces_a_link_a_device_or_the_history(
    runner: CliRunner, tmp_path: Path, kind: str
) -> None:
    """Probe 5: `grade export --out` replaced a symbolic link (and, as root, a device node) with a regular file."""
    answer(runner, GOOD)
    target = tmp_path / "export.jsonl"
    if kind == "symlink":
        (tmp_path / "real.jsonl").write_text("keep\n")
        target.symlink_to(tmp_path / "real.jsonl")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target = history_path()
    before = os.lstat(target)
    result = run(runner, "export", "--out", str(target))
    assert "Traceback" not in result.stderr
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode, after.st_size) == (before.st_ino, before.st_mode, before.st_size)
    assert result.exit_code == EXIT_USAGE
    if kind == "symlink":
        assert "symbolic link" in result.stderr
        assert (tmp_path / "real.jsonl").read_text() == "keep\n"
    assert sorted(p.name for p in target.parent.iterdir() if p.name.startswith(".export")) == []


def test_probe5_a_device_is_refused_before_anything_is_written() -> None:
    """The device case of probe 5 without root: the check that refuses it, on a real device node."""
    from grader.files import output_problem

    assert output_problem("/dev/full") == "is a character device, not a regular file; it is never written"
