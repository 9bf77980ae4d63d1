"""Finding the answers of a batch in INPUT paths, lazily, one `Item` at a time.

- A directory: every `.md`/`.txt` file below it (hidden files and folders skipped), in sorted order. The
  question id is the file name without its extension (`cicd-3.md`), the candidate is the parent folder's
  name (`alice/cicd-3.md`). Front matter overrides both: a `---` block at the top with `question: cicd-3`
  and/or `candidate: alice` lines, or those lines alone at the very top of the file.
- A `.md`/`.txt` file: that one answer, read the same way.
- A `.jsonl` file: one JSON object a line with `candidate`, `question` (or `question_id`) and `answer`.
- A `.csv` file: a header row naming the columns `candidate`, `question` (or `question_id`) and `answer`,
  read record by record (`csv_records`).

A problem with one answer (unreadable, empty, binary, too large, a broken line or record, a folder that cannot
be listed, a pipe or a device named like an answer) becomes an `Item` with `error` set, naming its file and
line, and discovery goes on. Only regular files are read. A symbolic link met inside a folder is not followed
(it becomes an error item) unless `follow_symlinks` is set; paths given explicitly are always followed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import files
from grader.cohort.csv_records import MAX_RECORD_BYTES, read_records
from grader.errors import AnswerError
from grader.intake import (
    check_answer_text,
    check_not_empty,
    decode_answer,
    lone_surrogate,
    parse_json_line,
    printable,
    read_limited,
)

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


def discover(paths: Iterable[Path], *, follow_symlinks: bool = False) -> Iterator[Item]:
    """Every answer in `paths`, in order, read one at a time."""
    for path in paths:
        kind = input_kind(path)
        if kind == "dir":
            yield from _tree_items(path, follow_symlinks)
        elif kind == "answer":
            yield _file_item(str(path), path.name, _folder_name(path.parent))
        elif kind == "jsonl":
            yield from _jsonl_items(path)
        elif kind == "csv":
            yield from _csv_items(path)
        else:
            yield Item(UNKNOWN, UNKNOWN, str(path), error=f"{path}: not a folder, .md, .txt, .jsonl or .csv file")


def count_items(paths: Iterable[Path], *, follow_symlinks: bool = False) -> int:
    """How many items `discover` will yield, without reading the answers (for a progress bar's total)."""
    total = 0
    for path in paths:
        kind = input_kind(path)
        try:
            if kind == "dir":
                total += sum(1 for _ in _tree_entries(path, follow_symlinks))
            elif kind == "jsonl":
                with files.open_binary(path) as handle:
                    total += sum(1 for _, line, _ in files.bounded_lines(handle, MAX_RECORD_BYTES) if line.strip())
            elif kind == "csv":
                total += sum(1 for _ in _csv_items(path))  # records are cheap to split; the header decides
            else:
                total += 1
        except OSError:
            total += 1
    return total


def output_conflict(path: Path, inputs: Iterable[Path], option: str) -> str | None:
    """Why `path` cannot be written by `option` (`--out`, `--report`): it is a symbolic link or a special file,
    it is one of the inputs, or it lies in an input folder where it would be read as an answer. None if fine."""
    problem = files.output_problem(path)
    if problem is not None:
        return f"{path}: {option} {problem}"
    for source in inputs:
        if files.same_file(path, source):
            return f"{path}: {option} is one of the inputs; write it somewhere else"
        if source.is_dir() and path.suffix.lower() in ANSWER_SUFFIXES and _inside(path, source):
            return f"{path}: {option} is inside the input folder {source}, where it would be read as an answer"
    return None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.parent.resolve().relative_to(folder.resolve())
    except (OSError, ValueError):
        return False
    return True


# --- answer files -------------------------------------------------------------------------------

_Entry = tuple[str, str, str, bool]  # (file path, file name, candidate, whether the path was seen to be regular)


def _tree_entries(root: Path, follow_symlinks: bool) -> Iterator[_Entry | Item]:
    """Every answer file below `root` (folder by folder, each folder's files before its sub-folders, sorted,
    hidden entries skipped), or an error Item for what cannot be read: a folder that cannot be listed, a pipe or
    device named like an answer, a symbolic link (unless `follow_symlinks`; links are then followed, each folder
    once). Paths are strings: a Path a file costs more than reading the file."""
    visited: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        candidate = _folder_name(Path(folder))
        if follow_symlinks:
            try:
                info = os.stat(folder)
            except OSError:
                info = None
            if info is not None:
                if (info.st_dev, info.st_ino) in visited:
                    continue  # a link back to a folder already read
                visited.add((info.st_dev, info.st_ino))
        try:
            with os.scandir(folder) as listing:
                entries = sorted((e for e in listing if not e.name.startswith(".")), key=_entry_order)
        except OSError as exc:
            yield _folder_error(folder, candidate, exc)
            continue
        folders = []
        for entry in entries:
            yield from _entry(entry, candidate, follow_symlinks, folders)
        stack.extend(reversed(folders))


def _entry(
    entry: os.DirEntry[str], candidate: str, follow_symlinks: bool, folders: list[str]
) -> Iterator[_Entry | Item]:
    """What one directory entry gives: a file to read, a folder to walk (appended to `folders`), or an error."""
    answer = os.path.splitext(entry.name)[1].lower() in ANSWER_SUFFIXES
    try:
        if entry.is_symlink():
            is_dir = entry.is_dir()  # the link's target (a stat only for links)
            if not follow_symlinks:
                if answer or is_dir:
                    yield _link_error(entry, candidate)
                return
            if is_dir:
                folders.append(entry.path)
            elif answer:
                yield entry.path, entry.name, candidate, False
            return
        if entry.is_dir(follow_symlinks=False):
            folders.append(entry.path)
        elif answer:
            yield entry.path, entry.name, candidate, entry.is_file(follow_symlinks=False)
    except OSError as exc:  # pragma: no cover - a DirEntry rarely needs a system call, which may fail
        yield Item(candidate, UNKNOWN, entry.path, error=f"{entry.path}: cannot read: {exc.strerror or exc}",
                   exit_kind="input")


def _entry_order(entry: os.DirEntry[str]) -> tuple[str, str]:
    return _name_order(entry.name)


def _name_order(name: str) -> tuple[str, str]:
    return (name.lower(), name)


def _folder_error(folder: str, candidate: str, exc: OSError) -> Item:
    return Item(
        candidate,
        UNKNOWN,
        folder,
        error=f"{folder}: cannot read this folder: {exc.strerror or exc}; its answers were not graded",
        exit_kind="input",
    )


def _link_error(entry: os.DirEntry[str], candidate: str) -> Item:
    """An error item for a link not followed: a linked folder is a candidate's, a linked file an answer's."""
    if entry.is_dir():
        candidate, question_id = entry.name, UNKNOWN
    else:
        question_id = os.path.splitext(entry.name)[0].lower()
    return Item(
        candidate,
        question_id,
        entry.path,
        error=f"{entry.path}: a symbolic link, not followed (pass --follow-symlinks to read what it points to)",
        exit_kind="input",
    )


def _tree_items(root: Path, follow_symlinks: bool) -> Iterator[Item]:
    for entry in _tree_entries(root, follow_symlinks):
        if isinstance(entry, Item):
            yield entry
        else:
            path, name, candidate, regular = entry
            yield _file_item(path, name, candidate, follow_symlinks=follow_symlinks, checked=regular)


def _folder_name(folder: Path) -> str:
    return folder.name or folder.resolve().name or UNKNOWN


def _file_item(
    source: str, name: str, candidate: str, *, follow_symlinks: bool = True, checked: bool = False
) -> Item:
    """The answer in the file at `source` (its file name `name`, its folder's candidate `candidate`)."""
    question_id = os.path.splitext(name)[0].lower()
    try:
        text = decode_answer(read_limited(source, follow_symlinks=follow_symlinks, checked=checked), source)
    except files.NotRegularFileError as exc:
        hint = " (pass --follow-symlinks to read what it points to)" if exc.kind == "a symbolic link" else ""
        return Item(candidate, question_id, source, error=f"{source}: cannot read: {exc.strerror}{hint}",
                    exit_kind="answer")
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
        handle = files.open_binary(path)
    except OSError as exc:
        yield Item(UNKNOWN, UNKNOWN, str(path), error=f"{path}: cannot read: {exc.strerror or exc}", exit_kind="input")
        return
    with handle:
        for number, raw, whole in files.bounded_lines(handle, MAX_RECORD_BYTES):
            if not raw.strip():
                continue
            source = f"{path}:{number}"
            if not whole:
                error = f"{source}: the line is longer than {MAX_RECORD_BYTES >> 10} KiB (an answer is at most 64 KiB)"
                yield Item(UNKNOWN, UNKNOWN, source, error=error, exit_kind="input")
                continue
            try:
                record = parse_json_line(raw)
            except ValueError as exc:
                yield Item(UNKNOWN, UNKNOWN, source, error=f"{source}: not a JSON object: {exc}")
                continue
            yield _record_item(record, source)


def _csv_items(path: Path) -> Iterator[Item]:
    """The rows of a CSV file, record by record: a record that cannot be read costs that record only."""
    try:
        handle = files.open_binary(path)
    except OSError as exc:
        yield Item(UNKNOWN, UNKNOWN, str(path), error=f"{path}: cannot read: {exc.strerror or exc}", exit_kind="input")
        return
    with handle:
        records = read_records(handle)
        header_record = next(records, None)
        header = [name.strip().lower() for name in (header_record.fields or [])] if header_record else []
        if header_record is not None and header_record.error is not None:
            error = f"{path}:{header_record.line}: cannot read the header row: {header_record.error}"
            yield Item(UNKNOWN, UNKNOWN, f"{path}:{header_record.line}", error=error, exit_kind="input")
            return
        missing = [n for n in ("candidate", "question", "answer") if not _has_column(header, n)]
        if missing:
            error = f"{path}: the header row has no {', '.join(missing)} column"
            yield Item(UNKNOWN, UNKNOWN, str(path), error=error, exit_kind="input")
            return
        for record in records:
            source = f"{path}:{record.line}"
            fields = record.fields or []
            row = dict(zip(header, fields, strict=False))
            if record.error is None and len(fields) > len(header):
                yield _row_error(row, source, f"{len(fields)} fields where the header names {len(header)}: "
                                 "an unquoted comma in the answer? put the answer in double quotes")
            elif record.error is not None:
                yield _row_error(row, source, record.error)
            else:
                yield _record_item(row, source)


def _row_error(row: dict[str, str], source: str, error: str) -> Item:
    """An error item for a CSV record, under its candidate and question when they could be read."""
    candidate = printable(_field(row, ("candidate",))) or UNKNOWN
    question_id = printable(_field(row, QUESTION_FIELDS)).lower() or UNKNOWN
    return Item(candidate, question_id, source, error=f"{source}: {error}", exit_kind="input")


def _has_column(header: list[str], name: str) -> bool:
    return name in header or (name == "question" and "question_id" in header)


def _record_item(record: Any, source: str) -> Item:
    """An item from a JSONL object or a CSV row."""
    if not isinstance(record, dict):
        return Item(UNKNOWN, UNKNOWN, source, error=f"{source}: expected an object with candidate, question, answer")
    candidate = _field(record, ("candidate",))
    question_id = _field(record, QUESTION_FIELDS)
    answer = record.get("answer")
    for name, value in (("candidate", candidate), ("question", question_id), ("answer", answer)):
        bad = lone_surrogate(value) if isinstance(value, str) else None
        if bad is not None:
            return Item(
                printable(candidate) or UNKNOWN,
                printable(question_id).lower() or UNKNOWN,
                source,
                error=f"{source}: the {name} holds a lone surrogate ({bad}), which is not text",
                exit_kind="input",
            )
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
