"""The text of a graded answer, read back from the `source` its results line names.

A results line keeps no answer text, only where it came from: an answer file (`alice/cicd-3.md`) or a line of a
JSONL or CSV file (`answers.jsonl:12`). The source is read again with the batch's own reader
(`grader.cohort.inputs.discover`), relative to the working directory or else to the results file's folder, and the
text is checked against the line's key: a source edited since grading is shown with a warning, never silently.
A JSONL or CSV file is read once and its answers kept by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.cohort.inputs import Item, discover, input_kind
from grader.cohort.results import answer_key

_LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+)$")


@dataclass(frozen=True, slots=True)
class AnswerText:
    text: str | None  # None: the source cannot be read
    matches: bool  # the text is the one that was graded (its key is the results line's key)
    note: str = ""  # why the text is missing or may differ


class Sources:
    """Reads answers back from their sources; files of many answers are read once."""

    def __init__(self, results: Path) -> None:
        self.base = results.resolve().parent
        self._files: dict[Path, dict[str, Item]] = {}  # a JSONL/CSV file -> its items by source line

    def answer(self, candidate: str, question_id: str, source: str, key: str) -> AnswerText:
        item = self._item(source)
        if item is None:
            return AnswerText(None, False, f"the answer's source {source} cannot be found or read")
        if item.answer is None:
            return AnswerText(None, False, item.error or f"{source}: cannot be read")
        if answer_key(candidate, question_id, item.answer) != key:
            return AnswerText(item.answer, False, f"{source} changed since it was graded: evidence may not match")
        return AnswerText(item.answer, True)

    def _item(self, source: str) -> Item | None:
        whole = self._find(source)
        if whole is not None and input_kind(whole) == "answer":
            return next(iter(discover([whole])), None)
        found = _LINE.match(source)
        if found is None:
            return None
        path = self._find(found.group("path"))
        if path is None or input_kind(path) not in ("jsonl", "csv"):
            return None
        items = self._files.get(path)
        if items is None:
            items = self._files[path] = {_line_of(item.source): item for item in discover([path])}
        return items.get(found.group("line"))

    def _find(self, name: str) -> Path | None:
        path = Path(name)
        for candidate in (path, self.base / path) if not path.is_absolute() else (path,):
            if candidate.is_file():
                return candidate
        return None


def _line_of(source: str) -> str:
    found = _LINE.match(source)
    return found.group("line") if found else ""
