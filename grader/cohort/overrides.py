"""The overrides file: a reviewer's corrections of a results file, kept beside it and only ever appended to.

For `results.jsonl` it is `results.overrides.jsonl`, one JSON object a line:

    {"candidate": "alice", "question_id": "cicd-3", "key": "<the results line's key>", "concept_id": "canary",
     "status": "partial", "comment": "only names it", "reviewer": "sam", "at": "2025-05-01T09:30:12+00:00"}
    {"candidate": "alice", "question_id": "cicd-3", "key": "...", "concept_id": null, "score": 6.5,
     "comment": "", "reviewer": "sam", "at": "..."}

A line with a `concept_id` sets that concept's status (covered, partial or missing); a line whose `concept_id` is
null overrides the total score (`"score": null` withdraws a total override). The latest line of a (key, concept_id)
wins. Lines are appended under an exclusive lock with one `write()` each and fsync'ed, so two browser tabs, two
`grade review` processes or a crash lose nothing; a torn last line (a crash mid-write) is ignored when reading and
cut off before the next append. The results file itself is never modified.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import StorageError
from grader.files import json_object
from grader.models import Status

STATUSES: tuple[Status, ...] = ("covered", "partial", "missing")
SUFFIX = ".overrides.jsonl"
MAX_COMMENT = 2000


def overrides_path(results: Path) -> Path:
    """`results.jsonl` -> `results.overrides.jsonl`, in the same folder."""
    stem = results.stem if results.suffix.lower() in (".jsonl", ".ndjson", ".json") else results.name
    return results.with_name(stem + SUFFIX)


@dataclass(frozen=True, slots=True)
class Override:
    """One correction: a concept's status (`concept_id` set) or the total score (`concept_id` None)."""

    candidate: str
    question_id: str
    key: str
    concept_id: str | None
    status: Status | None = None
    score: float | None = None
    comment: str = ""
    reviewer: str = ""
    at: str = ""

    def __post_init__(self) -> None:
        if self.concept_id is not None and self.status not in STATUSES:
            raise ValueError(f"a concept override needs a status: {', '.join(STATUSES)}")
        if self.concept_id is None and self.status is not None:
            raise ValueError("a total override has a score, not a status")
        if self.score is not None and (not math.isfinite(self.score) or not 0 <= self.score <= 10):
            raise ValueError("an overridden score must be between 0 and 10")
        if len(self.comment) > MAX_COMMENT:
            raise ValueError(f"a comment is at most {MAX_COMMENT} characters")

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "candidate": self.candidate,
            "question_id": self.question_id,
            "key": self.key,
            "concept_id": self.concept_id,
        }
        if self.concept_id is not None:
            data["status"] = self.status
        else:
            data["score"] = self.score
        data.update(comment=self.comment, reviewer=self.reviewer, at=self.at)
        return json.dumps(data, ensure_ascii=False)


def parse_override(raw: bytes | str) -> Override | None:
    """The override on one line, or None when the line is not one."""
    data = json_object(raw)
    if data is None:
        return None
    texts = [data.get(name) for name in ("candidate", "question_id", "key")]
    concept_id = data.get("concept_id")
    score = data.get("score")
    if not all(isinstance(t, str) for t in texts) or not isinstance(concept_id, str | None):
        return None
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        return None
    try:
        return Override(
            *texts,  # type: ignore[arg-type]
            concept_id=concept_id,
            status=data.get("status") if concept_id is not None else None,
            score=float(score) if score is not None else None,
            comment=str(data.get("comment") or ""),
            reviewer=str(data.get("reviewer") or ""),
            at=str(data.get("at") or ""),
        )
    except ValueError:
        return None


def read_overrides(path: Path, offset: int = 0) -> tuple[list[Override], int]:
    """The overrides in `path` from byte `offset` on, and the offset after the last whole line read.

    A missing file has none. A torn last line (no newline, not an override) is left for later; any other line that
    is not an override is a StorageError naming it (the file was edited by hand: fix or remove that line).
    """
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the overrides file: {exc.strerror or exc}") from None
    found: list[Override] = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        line = data[position:] if end < 0 else data[position:end]
        if end < 0 and parse_override(line) is None:
            break  # torn by a crash while writing, or being written right now
        if line.strip():
            override = parse_override(line)
            if override is None:
                number = data.count(b"\n", 0, position) + 1
                where = f"line {number}" if offset == 0 else f"the line at byte {offset + position}"
                raise StorageError(f"{path}: {where} is not an override; fix or remove that line")
            found.append(override)
        position = len(data) if end < 0 else end + 1
    return found, offset + position


def append_override(path: Path, override: Override) -> None:
    """Append one override under an exclusive lock, then fsync (and fsync the folder of a new file)."""
    line = (override.to_json() + "\n").encode("utf-8")
    try:
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the overrides file: {exc.strerror or exc}") from None
    try:
        _lock(fd)
        _mend_tail(fd)
        while line:
            line = line[os.write(fd, line) :]
        os.fsync(fd)
        if created:
            _sync_folder(path.parent)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the overrides file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _mend_tail(fd: int) -> None:
    """Cut off a torn last line; end a whole last line that lost its newline."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = size
    while start > 0:
        begin = max(0, start - 65536)
        cut = os.pread(fd, start - begin, begin).rfind(b"\n")
        if cut >= 0:
            start = begin + cut + 1
            break
        start = begin
    if parse_override(os.pread(fd, size - start, start)) is not None:
        os.write(fd, b"\n")
    else:
        os.truncate(fd, start)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@dataclass
class Review:
    """The latest overrides of one answer (one results key)."""

    concepts: dict[str, Override] = field(default_factory=dict)  # concept id -> its latest override
    total: Override | None = None  # the latest total override (its score None: withdrawn)
    last: Override | None = None  # the latest override of any kind

    def add(self, override: Override) -> None:
        if override.concept_id is None:
            self.total = override
        else:
            self.concepts[override.concept_id] = override
        self.last = override

    @property
    def score(self) -> float | None:
        """The overridden total score, if one stands."""
        return self.total.score if self.total is not None else None


def reviews_of(overrides: list[Override], into: dict[str, Review] | None = None) -> dict[str, Review]:
    """Each key's latest overrides (added to `into` when given), in file order: the latest line wins."""
    reviews = into if into is not None else {}
    for override in overrides:
        review = reviews.get(override.key)
        if review is None:
            review = reviews[override.key] = Review()
        review.add(override)
    return reviews


def load_reviews(results: Path) -> dict[str, Review]:
    """The reviews of a results file, from the overrides file beside it (none when there is none)."""
    return reviews_of(read_overrides(overrides_path(results))[0])
