"""A SQLite cache of LLM grades under GRADER_HOME, so the same request is never sent twice.

The key covers everything that changes a grade: the question's text, the rubric's content, the answer, every
prompt template and the reply schema (hashed, so editing one is a new key), the model, its server and sampling
parameters, and `code_version()`: a digest of the source of every module that turns a reply into a grade
(scoring, feedback, the contracts, the LLM grader and the keyword grader that supplies its flags). Only grades the
model produced are stored (never fallbacks), and nothing about the request beyond that hash: no prompt, no
headers, no key. The same file holds what each model was found to accept (`grader.llm.capabilities`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

from grader.errors import StorageError
from grader.memo import PerRubric
from grader.models import Grade, Question, Rubric
from grader.paths import grader_home

CACHE_FILE = "llm-cache.sqlite3"
BUSY_TIMEOUT_MS = 10_000
# The modules whose code shapes an LLM grade, relative to the package: a change to any of them is a new key.
GRADING_SOURCES = ("scoring.py", "feedback.py", "models.py", "flags.py", "llm", "keyword")
MANY = 500  # keys per query in get_many (SQLite binds at most 999 parameters in older builds)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_grades (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    created REAL NOT NULL,
    grade TEXT NOT NULL
)
"""


_RUBRIC_DIGESTS: PerRubric[str] = PerRubric()  # a rubric's content, digested once (rubrics are frozen)


def cache_key(
    *,
    question: Question,
    rubric: Rubric,
    answer: str,
    model: str,
    api_base: str | None,
    samples: int,
    temperature: float,
    max_tokens: int | None,
    templates: str,
    schema: str,
    code: str,
) -> str:
    """A hex digest that changes whenever anything that changes the grade changes."""
    payload = json.dumps(
        {
            "question": [question.id, question.text],
            "rubric": _RUBRIC_DIGESTS.get(rubric, lambda r: hashlib.sha256(r.model_dump_json().encode()).hexdigest()),
            "answer": answer,
            "model": model,
            "api_base": (api_base or "").rstrip("/"),
            "samples": samples,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "templates": templates,
            "schema": schema,
            "code": code,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@cache
def code_version() -> str:
    """A digest of the source files named by GRADING_SOURCES (memoised: the code does not change while it runs)."""
    return source_digest(Path(__file__).resolve().parent.parent, GRADING_SOURCES)


def source_digest(root: Path, names: tuple[str, ...]) -> str:
    """A digest of the Python files named (a file, or every .py file under a folder) under `root`, with their
    paths; files that cannot be read count by name only."""
    digest = hashlib.sha256()
    for name in names:
        target = root / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"(unreadable)")
            digest.update(b"\0")
    return digest.hexdigest()


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the cache file at `path` with `schema` created; StorageError when it cannot be used."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(schema)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"cannot open the LLM cache {path}: {exc}") from exc
    return connection


def cache_path() -> Path:
    return _in(grader_home())


@lru_cache(maxsize=8)
def _in(home: Path) -> Path:  # the LLM path asks once or twice an answer
    return home / CACHE_FILE


class GradeCache:
    """Grades by key in one SQLite file; safe for several processes at once (WAL, busy timeout)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()

    def get(self, key: str) -> Grade | None:
        """The cached grade for `key`, marked as cached and free; None when there is none."""
        connection = connect(self.path, _SCHEMA)
        try:
            row = connection.execute("SELECT grade FROM llm_grades WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the LLM cache {self.path}: {exc}") from exc
        finally:
            connection.close()
        if row is None:
            return None
        return _cached(row[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, Grade]:
        """`get` for many keys over one connection: the grades found, by key."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Grade] = {}
        if not wanted:
            return found
        connection = connect(self.path, _SCHEMA)
        try:
            for start in range(0, len(wanted), MANY):
                chunk = wanted[start : start + MANY]
                marks = ",".join("?" * len(chunk))
                for key, text in connection.execute(
                    f"SELECT key, grade FROM llm_grades WHERE key IN ({marks})", chunk
                ).fetchall():
                    grade = _cached(text)
                    if grade is not None:
                        found[key] = grade
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the LLM cache {self.path}: {exc}") from exc
        finally:
            connection.close()
        return found

    def put_many(self, grades: Iterable[tuple[str, Grade]]) -> None:
        """`put` for many grades in one transaction."""
        rows = [(key, g.model or "", code_version()[:16], time.time(), g.model_dump_json()) for key, g in grades]
        if not rows:
            return
        connection = connect(self.path, _SCHEMA)
        try:
            with connection:
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT OR REPLACE INTO llm_grades (key, model, prompt_version, created, grade)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the LLM cache {self.path}: {exc}") from exc
        finally:
            connection.close()

    def put(self, key: str, grade: Grade) -> None:
        connection = connect(self.path, _SCHEMA)
        try:
            connection.execute(
                "INSERT OR REPLACE INTO llm_grades (key, model, prompt_version, created, grade)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, grade.model or "", code_version()[:16], time.time(), grade.model_dump_json()),
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the LLM cache {self.path}: {exc}") from exc
        finally:
            connection.close()


def _cached(text: str) -> Grade | None:
    """A stored grade, marked as cached and free; None when it was written by an incompatible version."""
    try:
        grade = Grade.model_validate_json(text)
    except ValueError:
        return None
    usage = grade.usage.model_copy(update={"cached": True, "cost_usd": 0.0}) if grade.usage else None
    return grade.model_copy(update={"usage": usage})
