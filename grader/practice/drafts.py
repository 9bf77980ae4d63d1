"""Unfinished practice answers, kept when the user stops with Ctrl-C and offered again next time.

One JSON file per question in `GRADER_HOME/drafts/` (readable by the user only): the text typed so far, when,
and what was being answered (the question itself, or a concept's follow-up). A draft that cannot be read is
skipped, never an error: it only saves typing.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.errors import StorageError
from grader.paths import grader_home

DRAFTS_DIR = "drafts"


@dataclass(frozen=True)
class Draft:
    question_id: str
    text: str
    saved_at: str  # ISO 8601, UTC
    follow_up_of: str | None = None  # the concept id when the draft answers that concept's follow-up


def drafts_dir() -> Path:
    return grader_home() / DRAFTS_DIR


def save_draft(draft: Draft) -> Path:
    """Keep `draft` (replacing an earlier one for the same question); raises StorageError."""
    folder = drafts_dir()
    path = folder / f"{draft.question_id}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".draft.", dir=folder)  # 0600: the user's own words
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(draft), handle, ensure_ascii=False)
        os.replace(temp, path)
    except OSError as exc:
        raise StorageError(f"{path}: cannot keep the draft: {exc.strerror or exc}") from None
    return path


def make_draft(question_id: str, text: str, follow_up_of: str | None = None) -> Draft:
    return Draft(question_id, text, datetime.now(UTC).isoformat(timespec="seconds"), follow_up_of)


def list_drafts() -> list[Draft]:
    """The drafts kept, oldest first; unreadable ones are left out."""
    drafts = []
    folder = drafts_dir()
    if not folder.is_dir():
        return []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            drafts.append(Draft(**data))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(drafts, key=lambda d: d.saved_at)


def discard_draft(question_id: str) -> None:
    """Forget the draft for `question_id`, if any."""
    with contextlib.suppress(OSError):
        (drafts_dir() / f"{question_id}.json").unlink(missing_ok=True)
