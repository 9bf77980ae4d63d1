"""The history of graded answers: a SQLite file under GRADER_HOME, safe for several terminals at once.

Every connection runs in WAL mode with a busy timeout, so two `grade` processes can write at the same time
without losing an attempt; every write is one transaction. The schema only changes through `migrations`, a
plain list of functions whose names are recorded in the `_migrations` table once they have run.

A file that is not a SQLite database, or one SQLite reports as damaged, raises StorageError naming the file
and what to do; it is never overwritten or repaired behind the user's back. One row that cannot be read (its
grade is not JSON, its text is not UTF-8) is skipped by the functions that read many rows, which say so through
their `unreadable` list, so one bad row never hides the others.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from grader.errors import GraderError, StorageError
from grader.files import output_problem, same_file
from grader.models import Grade, Question
from grader.paths import grader_home

if TYPE_CHECKING:  # sqlite3 is imported only when the history is really used
    import sqlite3

DB_NAME = "history.db"
BUSY_TIMEOUT_SECONDS = 15.0
SQLITE_MAGIC = b"SQLite format 3\x00"
Source = Literal["answer", "practice", "follow-up"]


class UnknownAttemptError(GraderError):
    """No attempt has this id."""


class Attempt(BaseModel):
    """One graded answer as stored. `source` says which command graded it; a `follow-up` attempt answered one
    concept's follow-up question, so its grade holds that concept alone."""

    id: int
    created_at: datetime
    question_id: str
    category: str | None = None
    source: Source = "answer"
    method: str
    model: str | None = None
    rubric_version: int
    score: float
    max_score: float
    band: str
    elapsed_seconds: float | None = None
    answer: str
    grade: Grade

    @property
    def full(self) -> bool:
        """True for an answer to the whole question (not a follow-up on one concept)."""
        return self.source != "follow-up"


# --- migrations ---------------------------------------------------------------------------------

Migration = Callable[["sqlite3.Connection"], None]
migrations: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Append a schema change to `migrations`; each runs once, in order, recorded by its name."""
    migrations.append(function)
    return function


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            question_id TEXT NOT NULL,
            category TEXT,
            method TEXT NOT NULL,
            model TEXT,
            rubric_version INTEGER NOT NULL,
            score REAL NOT NULL,
            max_score REAL NOT NULL,
            band TEXT NOT NULL,
            answer TEXT NOT NULL,
            grade_json TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX attempts_by_question ON attempts (question_id, id)")


@migration
def m002_source_and_time(db: sqlite3.Connection) -> None:
    """Practice mode: which command graded the attempt, and how long the answer took to write."""
    db.execute("ALTER TABLE attempts ADD COLUMN source TEXT NOT NULL DEFAULT 'answer'")
    db.execute("ALTER TABLE attempts ADD COLUMN elapsed_seconds REAL")


# --- opening the file ------------------------------------------------------------------------------


def history_path() -> Path:
    """Where the history lives: `GRADER_HOME/history.db`."""
    return grader_home() / DB_NAME


@contextmanager
def open_history(path: Path | None = None, *, upgrade: bool = True) -> Iterator[sqlite3.Connection]:
    """A connection to the history at `path` (default `history_path()`), migrated to the current schema.

    Any SQLite failure inside the block becomes a StorageError naming the file.
    """
    import sqlite3

    path = path if path is not None else history_path()
    _check_header(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"{path.parent}: cannot create the history folder: {exc.strerror or exc}") from None
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise _storage_error(path, exc) from None
    db.text_factory = _text  # text that is not UTF-8 makes its row unreadable, not the whole query
    try:
        _prepare(db, upgrade)
        yield db
    except sqlite3.Error as exc:
        raise _storage_error(path, exc) from None
    finally:
        db.close()


def _prepare(db: sqlite3.Connection, upgrade: bool) -> None:
    """WAL mode, the busy timeout, and the migrations. Switching to WAL can report "locked" at once, without
    waiting, while another process opens or closes the file, so that step retries until the busy timeout."""
    import sqlite3
    import time

    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    db.execute("PRAGMA synchronous = NORMAL")
    if upgrade:
        migrate(db)


def applied_migrations(db: sqlite3.Connection) -> list[str]:
    """Names of the migrations that have run on `db`, oldest first."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(db: sqlite3.Connection) -> list[str]:
    """Run the migrations `db` has not had yet, all in one write transaction; returns their names."""
    wanted = [m.__name__ for m in migrations]
    if _has_migrations_table(db) and set(wanted) <= set(applied_migrations(db)):
        return []
    with transaction(db):
        done = set(applied_migrations(db))  # re-read under the write lock: another process may have migrated
        ran = []
        for step in migrations:
            if step.__name__ in done:
                continue
            step(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (step.__name__, _now().isoformat()))
            ran.append(step.__name__)
    return ran


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: takes the write lock up front (waiting up to the busy timeout)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _has_migrations_table(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    return row is not None


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite sees it (an empty file is a new database)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StorageError(f"{path}: is a folder, not the history database; move it aside") from None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the history database: {exc.strerror or exc}") from None
    if head and head != SQLITE_MAGIC:
        raise StorageError(_damaged(path, "not a SQLite database"))


def _storage_error(path: Path, exc: Exception) -> StorageError:
    message = str(exc)
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return StorageError(
            f"{path}: the history database stayed busy for {BUSY_TIMEOUT_SECONDS:g} s (another grade process "
            "is writing); try again, or use --no-save"
        )
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return StorageError(_damaged(path, message))
    return StorageError(f"{path}: cannot use the history database: {message}")


def _damaged(path: Path, detail: str) -> str:
    return (
        f"{path}: the history database is damaged ({detail}); it was left untouched. Move it aside "
        f"(mv '{path}' '{path}.damaged') to start a new history, or try 'sqlite3 {path} .recover'"
    )


def _text(data: bytes) -> str:
    """A TEXT value as str; bytes that are not UTF-8 are kept as surrogate escapes, which `_attempt` refuses."""
    return data.decode("utf-8", "surrogateescape")


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading and writing attempts -----------------------------------------------------------------

_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by `_text`
_COLUMNS = (
    "id, created_at, question_id, category, source, method, model, rubric_version, score, max_score, band, "
    "elapsed_seconds, answer, grade_json"
)


def make_attempt(
    question: Question,
    answer: str,
    grade: Grade,
    *,
    source: Source = "answer",
    elapsed_seconds: float | None = None,
    created_at: datetime | None = None,
    attempt_id: int = 0,
) -> Attempt:
    """The attempt a graded answer makes, as stored (`attempt_id` 0 until the database gives it one)."""
    return Attempt(
        id=attempt_id,
        created_at=(created_at or _now()).astimezone(UTC),
        question_id=question.id,
        category=question.category,
        source=source,
        method=grade.method,
        model=grade.model,
        rubric_version=grade.rubric_version,
        score=grade.score,
        max_score=grade.max_score,
        band=grade.band,
        elapsed_seconds=elapsed_seconds,
        answer=answer,
        grade=grade,
    )


def record_attempt(
    question: Question,
    answer: str,
    grade: Grade,
    *,
    source: Source = "answer",
    elapsed_seconds: float | None = None,
    created_at: datetime | None = None,
    path: Path | None = None,
) -> int:
    """Save one graded answer; returns the new attempt's id."""
    attempt = make_attempt(
        question, answer, grade, source=source, elapsed_seconds=elapsed_seconds, created_at=created_at
    )
    row = (
        attempt.created_at.isoformat(),
        attempt.question_id,
        attempt.category,
        attempt.source,
        attempt.method,
        attempt.model,
        attempt.rubric_version,
        attempt.score,
        attempt.max_score,
        attempt.band,
        attempt.elapsed_seconds,
        attempt.answer,
        grade.model_dump_json(),
    )
    with open_history(path) as db, transaction(db):
        cursor = db.execute(
            "INSERT INTO attempts (created_at, question_id, category, source, method, model, rubric_version, "
            "score, max_score, band, elapsed_seconds, answer, grade_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        return int(cursor.lastrowid or 0)


def list_attempts(
    question_id: str | None = None,
    *,
    last: int | None = None,
    category: str | None = None,
    path: Path | None = None,
    unreadable: list[str] | None = None,
) -> list[Attempt]:
    """Attempts oldest first, optionally of one question or category, optionally only the `last` N.

    A row that cannot be read is skipped, and why is appended to `unreadable`; without that list, it is a
    StorageError."""
    where, params = _filters(question_id, category)
    query = f"SELECT {_COLUMNS} FROM attempts{where} ORDER BY id DESC"
    if last is not None:
        query += " LIMIT ?"
        params.append(max(0, last))
    with open_history(path) as db:
        rows = db.execute(query, params).fetchall()
    return _readable(reversed(rows), unreadable)


def _readable(rows: Iterable[tuple[object, ...]], unreadable: list[str] | None) -> list[Attempt]:
    attempts = []
    for row in rows:
        try:
            attempts.append(_attempt(row))
        except StorageError as exc:
            if unreadable is None:
                raise
            unreadable.append(str(exc))
    return attempts


def count_attempts(question_id: str | None = None, *, category: str | None = None, path: Path | None = None) -> int:
    where, params = _filters(question_id, category)
    with open_history(path) as db:
        return int(db.execute(f"SELECT count(*) FROM attempts{where}", params).fetchone()[0])


def get_attempt(attempt_id: int, *, path: Path | None = None) -> Attempt:
    """One attempt by id; UnknownAttemptError when there is none."""
    with open_history(path) as db:
        row = db.execute(f"SELECT {_COLUMNS} FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        if row is None:
            total = db.execute("SELECT count(*), max(id) FROM attempts").fetchone()
    if row is None:
        hint = f"ids run up to {total[1]}" if total[0] else "the history is empty"
        raise UnknownAttemptError(f"no attempt {attempt_id}; {hint} (list them with 'grade history')")
    return _attempt(row)


def export_attempts(
    write: Callable[[str], object], *, path: Path | None = None, unreadable: list[str] | None = None
) -> int:
    """Pass every attempt, oldest first, to `write` as one JSON line (with its newline); returns the count.
    Rows that cannot be read are skipped and listed in `unreadable` (without it, a StorageError)."""
    count = 0
    for attempt in list_attempts(path=path, unreadable=unreadable):
        write(attempt.model_dump_json() + "\n")
        count += 1
    return count


def export_to_file(target: Path, *, path: Path | None = None, unreadable: list[str] | None = None) -> int:
    """Write the JSONL export to `target` atomically (a temporary file beside it, then a rename).

    A target that is a symbolic link, a device, a pipe or a folder, or the history database itself, is refused
    (StorageError) and left as it is."""
    import tempfile

    problem = output_problem(target)
    if problem is not None:
        raise StorageError(f"{target}: {problem}")
    if same_file(target, path if path is not None else history_path()):
        raise StorageError(f"{target}: is the history database itself; export somewhere else")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        descriptor, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise StorageError(f"{target}: cannot write the export: {exc.strerror or exc}") from None
    temporary = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; an export gets the usual mode
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            count = export_attempts(handle.write, path=path, unreadable=unreadable)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise StorageError(f"{target}: cannot write the export: {exc.strerror or exc}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


def _filters(question_id: str | None, category: str | None) -> tuple[str, list[object]]:
    clauses, params = [], []
    if question_id is not None:
        clauses.append("question_id = ?")
        params.append(question_id)
    if category is not None:
        clauses.append("category = ?")
        params.append(category)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _attempt(row: tuple[object, ...]) -> Attempt:
    names = [name.strip() for name in _COLUMNS.split(",")]
    data = dict(zip(names, row, strict=True))
    if any(isinstance(value, str) and _NOT_UTF8.search(value) for value in data.values()):
        raise StorageError(f"attempt {data.get('id')} in the history cannot be read: its text is not UTF-8")
    try:
        data["grade"] = json.loads(str(data.pop("grade_json")))
        return Attempt.model_validate(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and ValidationError are ValueErrors
        problem = str(exc).splitlines()[0]
        raise StorageError(f"attempt {data.get('id')} in the history cannot be read: {problem}") from None
