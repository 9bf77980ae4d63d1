"""A SQLite cache of LLM grades under GRADER_HOME, so the same request is never sent twice.

The key covers everything that shapes the reply: model, API base, prompt version, the rubric's content,
the answer, the number of samples and the temperature. Only grades the model produced are stored (never
fallbacks), and nothing about the request beyond that hash: no prompt, no headers, no key.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from grader.errors import StorageError
from grader.models import Grade, Rubric
from grader.paths import grader_home

CACHE_FILE = "llm-cache.sqlite3"
BUSY_TIMEOUT_MS = 10_000
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


def cache_key(
    *,
    model: str,
    api_base: str | None,
    prompt_version: str,
    rubric: Rubric,
    answer: str,
    samples: int,
    temperature: float,
) -> str:
    """A hex digest that changes whenever anything that shapes the model's reply changes."""
    rubric_hash = hashlib.sha256(rubric.model_dump_json().encode()).hexdigest()
    payload = json.dumps(
        {
            "model": model,
            "api_base": (api_base or "").rstrip("/"),
            "prompt_version": prompt_version,
            "rubric": rubric_hash,
            "answer": answer,
            "samples": samples,
            "temperature": temperature,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class GradeCache:
    """Grades by key in one SQLite file; safe for several processes at once (WAL, busy timeout)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or grader_home() / CACHE_FILE

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open the LLM cache {self.path}: {exc}") from exc
        return connection

    def get(self, key: str) -> Grade | None:
        """The cached grade for `key`, marked as cached and free; None when there is none."""
        connection = self._connect()
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
        connection = self._connect()
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
        rows = [(key, g.model or "", _prompt_version(), time.time(), g.model_dump_json()) for key, g in grades]
        if not rows:
            return
        connection = self._connect()
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
        connection = self._connect()
        try:
            connection.execute(
                "INSERT OR REPLACE INTO llm_grades (key, model, prompt_version, created, grade)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, grade.model or "", _prompt_version(), time.time(), grade.model_dump_json()),
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


def _prompt_version() -> str:
    from grader.llm.prompt import PROMPT_VERSION

    return PROMPT_VERSION
