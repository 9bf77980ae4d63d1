"""The reviewer's desk: a results file's answers in memory, with their overrides, filtered and sorted into a queue.

One `Entry` per (candidate, question), as a cohort counts them (the latest graded line; an error line while there
is none). Overrides are appended to the overrides file (`grader.cohort.overrides`) and applied at once; lines that
another process appended are picked up by `refresh`, which every request calls (a stat when nothing changed).
"""

from __future__ import annotations

import gc
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.bank.loader import Bank
from grader.cohort.corrections import correct
from grader.cohort.coverage import natural_key
from grader.cohort.overrides import (
    STATUSES,
    Override,
    Review,
    append_override,
    overrides_path,
    read_overrides,
    reviews_of,
)
from grader.cohort.results import iter_records
from grader.errors import GraderError
from grader.flags import PROMPT_INJECTION
from grader.models import Status

LOW_CONFIDENCE = 0.7  # an LLM grade (or one of its verdicts) whose samples agreed less than this
SORTS = ("attention", "score", "-score", "candidate", "question", "confidence")
ISSUES = ("flagged", "disagreement", "low_confidence", "fallback", "error")
STATES = ("unreviewed", "reviewed")


@dataclass(frozen=True, slots=True)
class QuestionNote:
    """What the bank says of a question: its text and its concepts' descriptions."""

    text: str
    concepts: dict[str, str] = field(default_factory=dict)


def describe_questions(bank: Bank, question_ids: set[str]) -> dict[str, QuestionNote]:
    """The bank's text and concept descriptions of these questions (those it knows)."""
    notes = {}
    for question_id in question_ids:
        if question_id not in bank.questions:
            continue
        described: dict[str, str] = {}
        try:
            if bank.has_rubric(question_id):
                described = {c.id: c.description for c in bank.rubric(question_id).concepts}
        except GraderError:
            pass  # a broken rubric: the review goes on without descriptions
        notes[question_id] = QuestionNote(bank.question(question_id).text, described)
    return notes


@dataclass(slots=True)
class Entry:
    """One answer of the cohort: the machine's results line, the view of it with the overrides applied, and what
    the queue sorts and filters on (computed by `update`, once per change)."""

    index: int
    record: dict[str, Any]
    view: dict[str, Any] = field(default_factory=dict)
    grade: dict[str, Any] | None = None  # the view's grade; None for an answer that was not graded
    score: float | None = None
    flags: tuple[str, ...] = ()
    confidence: float | None = None  # the grade's, or its least confident verdict's; None when the grader gave none
    issues: frozenset[str] = frozenset()  # of ISSUES
    attention: int = 0

    @property
    def key(self) -> str:
        return self.record["key"]

    @property
    def candidate(self) -> str:
        return self.record["candidate"]

    @property
    def question_id(self) -> str:
        return self.record["question_id"]

    @property
    def error(self) -> str | None:
        return None if self.grade is not None else str(self.record.get("error") or "not graded")

    @property
    def reviewed(self) -> bool:
        return "review" in self.view

    def update(self, review: Review | None) -> None:
        grade = self.record.get("grade")
        if not isinstance(grade, dict):
            self.view, self.grade, self.issues = self.record, None, frozenset({"error"})
            return
        self.view = correct(self.record, review) if review is not None else self.record
        self.grade = grade = self.view["grade"]
        self.score = float(grade.get("score", 0.0))
        self.flags = tuple(grade.get("flags") or ())
        values = [c["confidence"] for c in grade.get("concepts") or () if c.get("confidence") is not None]
        if grade.get("confidence") is not None:
            values.append(grade["confidence"])
        self.confidence = min(values) if values else None
        issues = set()
        if self.flags:
            issues.add("flagged")
        if grade.get("disagreements"):
            issues.add("disagreement")
        if grade.get("fallback_reason") is not None:
            issues.add("fallback")
        if self.confidence is not None and self.confidence < LOW_CONFIDENCE:
            issues.add("low_confidence")
        self.issues = frozenset(issues)
        self.attention = (
            4 * (PROMPT_INJECTION in self.flags) + 3 * ("fallback" in issues)
            + 3 * ("disagreement" in issues) + 2 * ("flagged" in issues) + 2 * ("low_confidence" in issues)
        )  # fmt: skip


@dataclass(frozen=True)
class Filters:
    """A queue's filters and order, read from (and written back to) a page's query string."""

    question: str = ""
    candidate: str = ""  # a part of the name, any case
    band: str = ""
    flag: str = ""
    issue: str = ""  # one of ISSUES
    state: str = ""  # one of STATES
    min_score: float | None = None
    max_score: float | None = None
    sort: str = "attention"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        """The filters of a query string; values that make no sense are ignored."""
        values: dict[str, Any] = {}
        for name in ("question", "candidate", "band", "flag"):
            values[name] = query.get(name, "").strip()[:200]
        values["issue"] = query.get("issue", "") if query.get("issue", "") in ISSUES else ""
        values["state"] = query.get("state", "") if query.get("state", "") in STATES else ""
        values["sort"] = query.get("sort", "") if query.get("sort", "") in SORTS else "attention"
        for name in ("min_score", "max_score"):
            try:
                values[name] = float(query[name]) if query.get(name, "").strip() else None
            except ValueError:
                values[name] = None
        return cls(**values)

    def query(self) -> dict[str, str]:
        """The non-default filters as query parameters."""
        default = Filters()
        found = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                found[f.name] = f"{value:g}" if isinstance(value, float) else str(value)
        return found

    def admits(self, entry: Entry) -> bool:
        if self.question and entry.question_id != self.question:
            return False
        if self.candidate and self.candidate.lower() not in entry.candidate.lower():
            return False
        grade = entry.grade
        if self.band and (grade is None or grade.get("band") != self.band):
            return False
        if self.flag and self.flag not in entry.flags:
            return False
        if self.issue and self.issue not in entry.issues:
            return False
        if self.state and (self.state == "reviewed") != entry.reviewed:
            return False
        score = entry.score
        if self.min_score is not None and (score is None or score < self.min_score):
            return False
        return self.max_score is None or (score is not None and score <= self.max_score)


def _order(sort: str) -> Any:
    if sort == "score":
        return lambda e: (e.score if e.score is not None else -1.0, e.index)
    if sort == "-score":
        return lambda e: (-(e.score if e.score is not None else -1.0), e.index)
    if sort == "candidate":
        return lambda e: (natural_key(e.candidate), natural_key(e.question_id))
    if sort == "question":
        return lambda e: (natural_key(e.question_id), natural_key(e.candidate))
    if sort == "confidence":
        return lambda e: (e.confidence if e.confidence is not None else 2.0, e.index)
    # worth reviewing first: not yet reviewed, the most reasons to look; answers not graded (nothing to correct) last
    return lambda e: (e.reviewed, e.grade is None, -e.attention, e.index)


class Queue:
    """A filtered, sorted list of answers, and where each one is in it."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self._positions: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def position(self, entry: Entry) -> int:
        """The entry's index in the queue; -1 when the queue does not hold it."""
        if self._positions is None:
            self._positions = {e.key: i for i, e in enumerate(self.entries)}
        return self._positions.get(entry.key, -1)

    def neighbours(self, entry: Entry) -> tuple[Entry | None, Entry | None]:
        """The answers before and after `entry`; outside the queue, the queue's first answer comes after it."""
        index = self.position(entry)
        if index < 0:
            return None, (self.entries[0] if self.entries else None)
        before = self.entries[index - 1] if index > 0 else None
        return before, (self.entries[index + 1] if index + 1 < len(self.entries) else None)


class Desk:
    """The answers of one results file and their overrides; `reviewer` signs the overrides written here."""

    def __init__(self, results: Path, reviewer: str | None = None, notes: Mapping[str, QuestionNote] | None = None):
        self.results = results
        self.overrides = overrides_path(results)
        self.reviewer = reviewer or default_reviewer()
        self.notes = dict(notes or {})
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.reviews: dict[str, Review] = {}
        self.version = 0  # bumped whenever a view changes; queues are cached per version
        self._offset = 0
        self._stat: tuple[int, int] | None = None
        self._queues: dict[Filters, Queue] = {}
        self._load()

    def _load(self) -> None:
        gc.disable()  # parsing makes millions of objects and no garbage: the collector would only slow it down
        try:
            self._read()
        finally:
            gc.enable()
        gc.freeze()  # and later collections need not walk them again (they live as long as the desk)

    def _read(self) -> None:
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for record in iter_records(self.results):
            pair = (record["candidate"], record["question_id"])
            if isinstance(record.get("grade"), dict) or not isinstance(latest.get(pair, {}).get("grade"), dict):
                latest.pop(pair, None)  # a later line counts, in the later line's place
                latest[pair] = record
        self.entries = [Entry(index, record) for index, record in enumerate(latest.values())]
        self.by_key = {entry.key: entry for entry in self.entries}
        overrides, self._offset = read_overrides(self.overrides)
        self._stat = self._file_stat()
        reviews_of(overrides, self.reviews)
        for entry in self.entries:
            entry.update(self.reviews.get(entry.key))

    def _file_stat(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.overrides)
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def refresh(self) -> None:
        """Apply the overrides that were appended to the file since it was last read (by anyone)."""
        stat = self._file_stat()
        if stat == self._stat:
            return
        overrides, self._offset = read_overrides(self.overrides, self._offset)
        self._stat = stat
        self._apply(overrides)

    def _apply(self, overrides: list[Override]) -> None:
        reviews_of(overrides, self.reviews)
        for key in {o.key for o in overrides}:
            entry = self.by_key.get(key)
            if entry is not None:
                entry.update(self.reviews.get(key))
        if overrides:
            self.version += 1
            self._queues.clear()

    # --- the queue ---------------------------------------------------------------------------------------------

    def queue(self, filters: Filters) -> Queue:
        """The answers the filters admit, in the filters' order (kept until an override changes a view)."""
        cached = self._queues.get(filters)
        if cached is None:
            if len(self._queues) >= 64:
                self._queues.clear()
            ordered = sorted((e for e in self.entries if filters.admits(e)), key=_order(filters.sort))
            cached = self._queues[filters] = Queue(ordered)
        return cached

    def facets(self) -> dict[str, list[str]]:
        """The values the queue's filters can take in this cohort."""
        questions = sorted({e.question_id for e in self.entries}, key=natural_key)
        bands = [b for b in ("excellent", "good", "fair", "weak", "poor") if any(
            e.grade is not None and e.grade.get("band") == b for e in self.entries)]  # fmt: skip
        flags = sorted({flag for e in self.entries for flag in e.flags})
        return {"questions": questions, "bands": bands, "flags": flags}

    # --- overrides ---------------------------------------------------------------------------------------------

    def set_status(self, entry: Entry, concept_id: str, status: Status, comment: str = "") -> None:
        if entry.grade is None or concept_id not in {c["id"] for c in entry.grade.get("concepts") or ()}:
            raise ValueError(f"no concept {concept_id!r} in this answer's grade")
        self._write(self._override(entry, concept_id, status=status, comment=comment))

    def set_score(self, entry: Entry, score: float | None, comment: str = "") -> None:
        if entry.grade is None:
            raise ValueError("an answer that was not graded has no score to override")
        self._write(self._override(entry, None, score=score, comment=comment))

    def confirm(self, entry: Entry, comment: str = "") -> int:
        """Confirm the answer as it stands: each concept the reviewer has not set gets its current status.
        Returns how many overrides were written (0 when every concept was already set)."""
        if entry.grade is None:
            raise ValueError("an answer that was not graded cannot be confirmed")
        review = self.reviews.get(entry.key)
        done = set(review.concepts) if review is not None else set()
        written = 0
        for concept in entry.grade.get("concepts") or ():
            if concept["id"] not in done:
                self._write(self._override(entry, concept["id"], status=concept["status"], comment=comment))
                written += 1
                comment = ""  # the comment once, on the first line
        return written

    def _override(self, entry: Entry, concept_id: str | None, **values: Any) -> Override:
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        return Override(
            candidate=entry.candidate, question_id=entry.question_id, key=entry.key, concept_id=concept_id,
            reviewer=self.reviewer, at=datetime.now(UTC).isoformat(timespec="seconds"), **values,
        )  # fmt: skip

    def _write(self, override: Override) -> None:
        self.refresh()
        append_override(self.overrides, override)
        self.refresh()  # reads our own line back, with any that another process appended meanwhile


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "reviewer"

