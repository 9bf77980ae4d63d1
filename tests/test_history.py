"""The history store: saving and reading attempts, migrations, damaged files, concurrent writers, export."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.errors import StorageError
from grader.models import ConceptResult, Grade, Question
from grader.practice import history
from grader.practice.history import (
    UnknownAttemptError,
    count_attempts,
    export_attempts,
    export_to_file,
    get_attempt,
    history_path,
    list_attempts,
    m001_initial,
    migrations,
    open_history,
    record_attempt,
)
from grader.scoring import band_for, compute_score

QUESTION = Question(id="cicd-3", category="cicd", text="How do you handle blue-green or canary deployments?")
OTHER = Question(id="security-3", category="security", text="How do you manage secrets?")


def make_grade(question_id: str = "cicd-3", statuses: tuple[str, ...] = ("covered", "missing")) -> Grade:
    concepts = [
        ConceptResult(id=f"c{n}", name=f"Concept {n}", weight=1.0, status=s)  # type: ignore[arg-type]
        for n, s in enumerate(statuses)
    ]
    score = compute_score(concepts)
    return Grade(
        question_id=question_id,
        score=score,
        band=band_for(score),
        method="keyword",
        concepts=concepts,
        rubric_version=3,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- saving and reading ---------------------------------------------------------------------------


def test_record_and_get_round_trip(grader_home: Path) -> None:
    grade = make_grade()
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    attempt_id = record_attempt(QUESTION, "my answer", grade, source="practice", elapsed_seconds=42.5, created_at=when)
    attempt = get_attempt(attempt_id)
    assert history_path() == grader_home / "history.db" and history_path().is_file()
    assert attempt.id == attempt_id == 1
    assert attempt.answer == "my answer" and attempt.grade == grade
    assert (attempt.question_id, attempt.category, attempt.source) == ("cicd-3", "cicd", "practice")
    assert (attempt.method, attempt.model, attempt.rubric_version) == ("keyword", None, 3)
    assert (attempt.score, attempt.band, attempt.elapsed_seconds) == (grade.score, grade.band, 42.5)
    assert attempt.created_at == when


def test_list_filters_and_last(grader_home: Path) -> None:
    for n in range(5):
        record_attempt(QUESTION if n % 2 == 0 else OTHER, f"answer {n}", make_grade())
    assert [a.answer for a in list_attempts()] == [f"answer {n}" for n in range(5)]
    assert [a.answer for a in list_attempts("cicd-3")] == ["answer 0", "answer 2", "answer 4"]
    assert [a.answer for a in list_attempts(last=2)] == ["answer 3", "answer 4"]
    assert [a.answer for a in list_attempts("security-3", last=1)] == ["answer 3"]
    assert [a.answer for a in list_attempts(category="security")] == ["answer 1", "answer 3"]
    assert count_attempts() == 5 and count_attempts("cicd-3") == 3


def test_unknown_attempt(grader_home: Path) -> None:
    with pytest.raises(UnknownAttemptError, match="history is empty"):
        get_attempt(1)
    record_attempt(QUESTION, "a", make_grade())
    with pytest.raises(UnknownAttemptError, match="no attempt 7; ids run up to 1"):
        get_attempt(7)


def test_unreadable_stored_grade_is_a_storage_error(grader_home: Path) -> None:
    record_attempt(QUESTION, "a", make_grade())
    with open_history() as db:
        db.execute("UPDATE attempts SET grade_json = '{not json'")
    with pytest.raises(StorageError, match="attempt 1 in the history cannot be read"):
        get_attempt(1)


def test_database_uses_wal_and_a_busy_timeout(grader_home: Path) -> None:
    record_attempt(QUESTION, "a", make_grade())
    with open_history() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


# --- migrations ---------------------------------------------------------------------------------


def test_migrations_are_a_plain_ordered_list() -> None:
    names = [m.__name__ for m in migrations]
    assert names[0] == "m001_initial"
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(n.startswith(f"m{i + 1:03d}_") for i, n in enumerate(names))


def test_fresh_database_records_every_migration_once(grader_home: Path) -> None:
    record_attempt(QUESTION, "a", make_grade())
    record_attempt(QUESTION, "b", make_grade())
    with open_history() as db:
        rows = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert rows == [m.__name__ for m in migrations]


def test_upgrade_from_an_m001_only_database(grader_home: Path) -> None:
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    m001_initial(db)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', '2025-01-01T00:00:00+00:00')")
    old = make_grade()
    db.execute(
        "INSERT INTO attempts (created_at, question_id, category, method, model, rubric_version, score, "
        "max_score, band, answer, grade_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "2025-01-01T10:00:00+00:00",
            "cicd-3",
            "cicd",
            "keyword",
            None,
            3,
            old.score,
            10,
            old.band,
            "old answer",
            old.model_dump_json(),
        ),
    )
    db.commit()
    db.close()

    new_id = record_attempt(QUESTION, "new answer", make_grade(), source="practice", elapsed_seconds=3.0)

    first, second = list_attempts()
    assert (first.answer, first.source, first.elapsed_seconds, first.grade) == ("old answer", "answer", None, old)
    assert (second.id, second.source, second.elapsed_seconds) == (new_id, "practice", 3.0)
    with open_history() as db:
        applied = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert applied == [m.__name__ for m in migrations]


def test_a_failing_migration_changes_nothing(grader_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_attempt(QUESTION, "a", make_grade())

    def m999_broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE attempts ADD COLUMN half_done TEXT")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr(history, "migrations", [*migrations, m999_broken])
    with pytest.raises(StorageError, match="boom"):
        count_attempts()
    monkeypatch.setattr(history, "migrations", migrations)
    with open_history() as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(attempts)")]
        applied = [r[0] for r in db.execute("SELECT name FROM _migrations")]
    assert "half_done" not in columns and "m999_broken" not in applied


# --- damaged files --------------------------------------------------------------------------------


def _real_database(count: int = 120) -> bytes:
    """A history of many pages: one real attempt, copied `count` times in one transaction."""
    record_attempt(QUESTION, "answer " + "words " * 60, make_grade())
    with open_history() as db, history.transaction(db):
        for _ in range(count):
            db.execute(
                "INSERT INTO attempts (created_at, question_id, category, source, method, model, rubric_version, "
                "score, max_score, band, elapsed_seconds, answer, grade_json) SELECT created_at, question_id, "
                "category, source, method, model, rubric_version, score, max_score, band, elapsed_seconds, answer, "
                "grade_json FROM attempts WHERE id = 1"
            )
    assert count_attempts() == count + 1
    data = history_path().read_bytes()
    assert len(data) > 20 * 4096
    return data


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        pytest.param(lambda data: os.urandom(40_000), "not a SQLite database", id="random-bytes"),
        pytest.param(lambda data: b"hello, this is a text file\n" * 10, "not a SQLite database", id="text-file"),
        pytest.param(lambda data: data[: len(data) // 2], "malformed", id="truncated-half"),
        pytest.param(lambda data: data[:4096], "malformed", id="truncated-first-page"),
        pytest.param(lambda data: data[:60], "", id="truncated-header"),
    ],
)
def test_damaged_database_is_a_clear_error_and_left_untouched(grader_home: Path, damage, detail: str) -> None:
    data = _real_database()
    path = history_path()
    path.write_bytes(damage(data))
    before = digest(path)
    for action in (count_attempts, list_attempts, lambda: record_attempt(QUESTION, "x", make_grade())):
        with pytest.raises(StorageError) as caught:
            action()
        message = str(caught.value)
        assert str(path) in message and "damaged" in message and detail in message
        assert "left untouched" in message and "mv " in message and "\n" not in message
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["history.db"]


def test_an_empty_file_is_a_new_database(grader_home: Path) -> None:
    history_path().parent.mkdir(parents=True, exist_ok=True)
    history_path().write_bytes(b"")
    record_attempt(QUESTION, "a", make_grade())
    assert count_attempts() == 1


def test_history_path_that_is_a_folder(grader_home: Path) -> None:
    history_path().mkdir(parents=True)
    with pytest.raises(StorageError, match="is a folder"):
        count_attempts()


# --- two terminals at once ------------------------------------------------------------------------

WRITER = """
import sys, time
from grader.practice.history import record_attempt
from grader.models import ConceptResult, Grade, Question
question = Question(id="cicd-3", category="cicd", text="q")
grade = Grade(question_id="cicd-3", score=5, band="fair", method="keyword",
              concepts=[ConceptResult(id="c", name="C", weight=1, status="partial")])
tag, count, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
for n in range(count):
    record_attempt(question, f"{tag}-{n}", grade)
"""


@pytest.mark.parametrize("writers", [pytest.param(2, id="two-writers"), pytest.param(4, id="four-writers")])
def test_concurrent_writers_lose_nothing(grader_home: Path, writers: int) -> None:
    """Real processes start writing at the same instant into a database that does not exist yet."""
    per_writer = 150
    start = time.time() + 1.0  # every process is up and waiting before the first write
    env = {**os.environ, "GRADER_HOME": str(grader_home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{k}", str(per_writer), str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(writers)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    answers = [a.answer for a in list_attempts()]
    assert len(answers) == writers * per_writer == count_attempts()
    assert set(answers) == {f"w{k}-{n}" for k in range(writers) for n in range(per_writer)}
    for k in range(writers):  # each writer's attempts keep their order
        mine = [a for a in answers if a.startswith(f"w{k}-")]
        assert mine == [f"w{k}-{n}" for n in range(per_writer)]
    with open_history() as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(migrations)


# --- export ---------------------------------------------------------------------------------------


def test_export_is_one_attempt_a_line(grader_home: Path) -> None:
    record_attempt(QUESTION, "first\nwith a second line", make_grade())
    record_attempt(OTHER, "second", make_grade("security-3"), source="practice")
    lines: list[str] = []
    assert export_attempts(lines.append) == 2
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["answer"] == "first\nwith a second line"
    assert rows[1]["source"] == "practice" and rows[1]["grade"]["question_id"] == "security-3"
    assert Grade.model_validate(rows[0]["grade"]) == make_grade()


def test_export_to_file_is_atomic(grader_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_attempt(QUESTION, "a", make_grade())
    target = tmp_path / "out.jsonl"
    target.write_text("previous export\n")

    def broken(write, **kwargs) -> int:
        write('{"id": 1}\n')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history, "export_attempts", broken)
    with pytest.raises(StorageError, match="No space left on device"):
        export_to_file(target)
    assert target.read_text() == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]

    monkeypatch.undo()
    monkeypatch.setenv("GRADER_HOME", str(grader_home))
    assert export_to_file(target) == 1
    assert [json.loads(line)["answer"] for line in target.read_text().splitlines()] == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_export_into_a_missing_folder(grader_home: Path, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot write the export"):
        export_to_file(tmp_path / "nope" / "out.jsonl")


CLI_WRITER = """
import sys, time
from typer.testing import CliRunner
from grader.cli import app
tag, count, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
runner = CliRunner()
while time.time() < start:
    time.sleep(0.001)
for n in range(count):
    text = f"{tag}-{n}: two identical environments, switch traffic at the load balancer, canary with 5% first."
    result = runner.invoke(app, ["answer", "-q", "cicd-3", "--json"], input=text)
    assert result.exit_code == 0, result.output
"""


def test_two_terminals_running_grade_answer_lose_nothing(grader_home: Path) -> None:
    """Two processes each run the real `grade answer` command (in-process, to keep the test fast) 20 times."""
    per_writer = 20
    start = time.time() + 1.0
    env = {**os.environ, "GRADER_HOME": str(grader_home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLI_WRITER, tag, str(per_writer), str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("left", "right")
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    attempts = list_attempts()
    assert len(attempts) == 2 * per_writer
    assert {a.answer.split(":")[0] for a in attempts} == {
        f"{tag}-{n}" for tag in ("left", "right") for n in range(per_writer)
    }
    assert all(a.grade.question_id == "cicd-3" and a.score > 0 for a in attempts)
