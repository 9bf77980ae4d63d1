"""Finding the answers of a batch in INPUT paths, lazily, one `Item` at a time.

- A directory: every `.md`/`.txt` file below it (hidden files and folders skipped), in sorted order. The
  question id is the file name without its extension (`cicd-3.md`), the candidate is the parent folder's
  name (`alice/cicd-3.md`). Front matter overrides both: a `---` block at the top with `question: cicd-3`
  and/or `candidate: alice` lines, or those lines alone at the very top of the file.
- A `.md`/`.txt` file: that one answer, read the same way.
- A `.jsonl` file: one JSON object a line with `candidate`, `question` (or `question_id`) and `answer`.
- A `.csv` file: a header row naming the columns `candidate`, `question` (or `question_id`) and `answer`.

A problem with one answer (unreadable, empty, binary, too large, a broken line) becomes an `Item` with
`error` set, and discovery goes on.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import AnswerError
from grader.intake import check_answer_text, check_not_empty, decode_answer, read_limited

ANSWER_SUFFIXES = frozenset({".md", ".txt", ".markdown"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
CSV_SUFFIXES = frozenset({".csv"})
QUESTION_FIELDS = ("question", "question_id")
UNKNOWN = "?"  # the candidate or question of an item whose own fields could not be read

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_HEADER_LINE = re.compile(r"[ \t]*(question|question_id|candidate)[ \t]*:[ \t]*(.*?)[ \t]*\r?\n", re.IGNORECASE)
_META_LINE = re.compile(r"^[ \t]*([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Item:
    """One answer to grade (`answer`), or one that could not be read (`error`, `exit_kind`)."""

    candidate: str
    question_id: str
    source: str
    answer: str | None = None
    error: str | None = None
    exit_kind: str | None = None


def input_kind(path: Path) -> str | None:
    """'dir', 'answer', 'jsonl' or 'csv'; None for a file batch cannot read."""
    if path.is_dir():
        return "dir"
    suffix = path.suffix.lower()
    if suffix in ANSWER_SUFFIXES:
        return "answer"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    return None


def discover(paths: Iterable[Path]) -> Iterator[Item]:
    """Every answer in `paths`, in order, read one at a time."""
    for path in paths:
        kind = input_kind(path)
        if kind == "dir":
            yield from _tree_items(path)
        elif kind == "answer":
            yield _file_item(str(path), path.name, _folder_name(path.parent))
        elif kind == "jsonl":
            yield from _jsonl_items(path)
        elif kind == "csv":
            yield from _csv_items(path)
        else:
            yield Item(UNKNOWN, UNKNOWN, str(path), error=f"{path}: not a folder, .md, .txt, .jsonl or .csv file")


def count_items(paths: Iterable[Path]) -> int:
    """How many items `discover` will yield, without reading the answers (for a progress bar's total)."""
    total = 0
    for path in paths:
        kind = input_kind(path)
        try:
            if kind == "dir":
                total += sum(1 for _ in _tree_files(path))
            elif kind == "jsonl":
                with path.open("rb") as handle:
                    total += sum(1 for line in handle if line.strip())
            elif kind == "csv":
                with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                    total += max(0, sum(1 for _ in csv.reader(handle)) - 1)
            else:
                total += 1
        except (OSError, csv.Error):
            total += 1
    return total


# --- answer files -------------------------------------------------------------------------------


def _tree_files(root: Path) -> Iterator[tuple[str, str, str]]:
    """(file path, file name, candidate) for every answer file below `root`, sorted, hidden entries skipped
    (paths as strings: a Path a file costs more than reading the file)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=_name_order)
        candidate = _folder_name(Path(folder))
        for name in sorted(files, key=_name_order):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in ANSWER_SUFFIXES:
                yield os.path.join(folder, name), name, candidate


def _name_order(name: str) -> tuple[str, str]:
    return (name.lower(), name)


def _tree_items(root: Path) -> Iterator[Item]:
    for path, name, candidate in _tree_files(root):
        yield _file_item(path, name, candidate)


def _folder_name(folder: Path) -> str:
    return folder.name or folder.resolve().name or UNKNOWN


def _file_item(source: str, name: str, candidate: str) -> Item:
    """The answer in the file at `source` (its file name `name`, its folder's candidate `candidate`)."""
    question_id = os.path.splitext(name)[0].lower()
    try:
        text = decode_answer(read_limited(source), source)
    except OSError as exc:
        return Item(
            candidate,
            question_id,
            source,
            error=f"{source}: cannot read: {exc.strerror or exc}",
            exit_kind="answer",
        )
    except AnswerError as exc:
        return Item(candidate, question_id, source, error=str(exc), exit_kind="answer")
    meta, body = split_front_matter(text)
    candidate = meta.get("candidate") or candidate
    question_id = (meta.get("question") or meta.get("question_id") or question_id).lower()
    try:
        body = check_not_empty(body, source)  # a part of the text, whose size was checked
    except AnswerError as exc:
        return Item(candidate, question_id, source, error=str(exc), exit_kind="answer")
    return Item(candidate, question_id, source, answer=body)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """The metadata at the top of an answer file (keys lower-cased) and the answer below it."""
    block = _FRONT_MATTER.match(text)
    if block is not None:
        meta = {m.group(1).lower(): _unquote(m.group(2)) for m in _META_LINE.finditer(block.group(1))}
        return {k: v for k, v in meta.items() if v}, text[block.end() :]
    meta: dict[str, str] = {}
    position = 1 if text.startswith("\ufeff") else 0
    while (line := _HEADER_LINE.match(text, position)) is not None:
        key, value = line.group(1).lower(), _unquote(line.group(2))
        if not value or (key != "candidate" and not _SLUG.match(value.lower())):
            break
        meta[key] = value
        position = line.end()
    return (meta, text[position:]) if meta else ({}, text)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].strip()
    return value


# --- JSONL and CSV ------------------------------------------------------------------------------


def _jsonl_items(path: Path) -> Iterator[Item]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield Item(UNKNOWN, UNKNOWN, str(path), error=f"{path}: cannot read: {exc.strerror or exc}")
        return
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            source = f"{path}:{number}"
            try:
                record = json.loads(raw)
            except ValueError as exc:
                yield Item(UNKNOWN, UNKNOWN, source, error=f"{source}: not a JSON object: {_short(exc)}")
                continue
            yield _record_item(record, source)


def _csv_items(path: Path) -> Iterator[Item]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        yield Item(UNKNOWN, UNKNOWN, str(path), error=f"{path}: cannot read: {exc.strerror or exc}")
        return
    with handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip().lower() for name in next(reader, [])]
            missing = [n for n in ("candidate", "question", "answer") if not _has_column(header, n)]
            if missing:
                yield Item(
                    UNKNOWN,
                    UNKNOWN,
                    str(path),
                    error=f"{path}: the header row has no {', '.join(missing)} column",
                    exit_kind="input",
                )
                return
            line = reader.line_num
            for row in reader:
                source = f"{path}:{line + 1}"
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                yield _record_item(dict(zip(header, row, strict=False)), source)
        except (csv.Error, UnicodeDecodeError) as exc:
            yield Item(
                UNKNOWN,
                UNKNOWN,
                f"{path}:{reader.line_num}",
                error=f"{path}: line {reader.line_num}: cannot read the CSV: {_short(exc)}",
                exit_kind="input",
            )


def _has_column(header: list[str], name: str) -> bool:
    return name in header or (name == "question" and "question_id" in header)


def _record_item(record: Any, source: str) -> Item:
    """An item from a JSONL object or a CSV row."""
    if not isinstance(record, dict):
        return Item(UNKNOWN, UNKNOWN, source, error=f"{source}: expected an object with candidate, question, answer")
    candidate = _field(record, ("candidate",))
    question_id = _field(record, QUESTION_FIELDS)
    answer = record.get("answer")
    missing = [name for name, value in (("candidate", candidate), ("question", question_id)) if not value]
    if not isinstance(answer, str):
        missing.append("answer")
    if missing:
        return Item(
            candidate or UNKNOWN,
            (question_id or UNKNOWN).lower(),
            source,
            error=f"{source}: missing {', '.join(missing)}",
            exit_kind="input",
        )
    question_id = question_id.lower()
    try:
        answer = check_answer_text(answer, source)
    except AnswerError as exc:
        return Item(candidate, question_id, source, error=str(exc), exit_kind="answer")
    return Item(candidate, question_id, source, answer=answer)


def _field(record: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = record.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120]
