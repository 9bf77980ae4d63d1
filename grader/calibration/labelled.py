"""Labelled answers for calibration: a JSON Lines file of answers with human scores.

A labelled file is JSON Lines, one answer a line: `answer`, the human `score` and `max_score`, and either
`question` + `reference` (a reference-answer question; `qid` groups the answers to one question) or
`question_id`, a bank question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.bank.loader import Bank
from grader.errors import AnswerError
from grader.files import read_regular
from grader.intake import lone_surrogate, parse_json_line
from grader.models import Grade, Question

LABELLED_CATEGORY = "labelled"
MAX_LABELLED_BYTES = 256 << 20
_SLUG = re.compile(r"[^a-z0-9]+")


class LabelledDataError(AnswerError):
    """A labelled file that cannot be read: the CLI exits 3, like any other unusable answer input."""


# --- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledRecord:
    line: int
    record_id: str
    group: str  # answers to the same question share it: per-question figures and peers
    question: Question
    answer: str
    human: float
    max_score: float
    from_bank: bool


def read_labelled(path: Path, bank_loader: Callable[[], Bank] | None = None) -> list[LabelledRecord]:
    """Every record of a labelled JSONL file; a LabelledDataError names the line of the first bad one (a line
    that is not UTF-8, not JSON, nested too deeply, or whose strings hold a lone surrogate). Only a regular file
    of at most MAX_LABELLED_BYTES is read."""
    try:
        content = read_regular(path, MAX_LABELLED_BYTES)
    except FileNotFoundError:
        raise LabelledDataError(f"{path}: file not found") from None
    except OSError as exc:
        raise LabelledDataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(content) > MAX_LABELLED_BYTES:
        raise LabelledDataError(f"{path}: larger than {MAX_LABELLED_BYTES >> 20} MiB")
    records: list[LabelledRecord] = []
    bank: Bank | None = None
    for number, line in enumerate(content.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            line.decode("utf-8")
            data = parse_json_line(line)
        except UnicodeDecodeError as exc:
            raise LabelledDataError(f"{where}: not UTF-8 text (byte 0x{line[exc.start]:02x})") from None
        except ValueError as exc:
            raise LabelledDataError(f"{where}: invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise LabelledDataError(f"{where}: expected a JSON object")
        bad = next((lone_surrogate(v) for v in data.values() if isinstance(v, str) and lone_surrogate(v)), None)
        if bad is not None:
            raise LabelledDataError(f"{where}: a string holds a lone surrogate ({bad}), which is not text")
        if "question" not in data and bank is None and bank_loader is not None and "question_id" in data:
            bank = bank_loader()
        records.append(_record(data, number, where, bank))
    if not records:
        raise LabelledDataError(f"{path}: no records")
    return records


def _record(data: dict, number: int, where: str, bank: Bank | None) -> LabelledRecord:
    answer = data.get("answer")
    if not isinstance(answer, str):
        raise LabelledDataError(f"{where}: 'answer' must be a string")
    human, max_score = _number(data, "score", where), _number(data, "max_score", where)
    if max_score <= 0 or not 0 <= human <= max_score:
        raise LabelledDataError(f"{where}: need 0 <= score <= max_score and max_score > 0")
    record_id = str(data.get("id", number))
    if isinstance(data.get("question"), str) and isinstance(data.get("reference"), str):
        text, reference = data["question"].strip(), data["reference"].strip()
        if not text or not reference:
            raise LabelledDataError(f"{where}: 'question' and 'reference' must not be empty")
        group = str(data.get("qid") or data.get("question_id") or text)
        question = Question(id=_slug(group, text), category=LABELLED_CATEGORY, text=text, reference=reference)
        return LabelledRecord(number, record_id, group, question, answer, human, max_score, False)
    question_id = data.get("question_id")
    if not isinstance(question_id, str):
        raise LabelledDataError(f"{where}: need 'question' and 'reference', or a bank 'question_id'")
    if bank is None:
        raise LabelledDataError(f"{where}: 'question_id' needs a question bank")
    if question_id.strip().lower() not in bank.questions:
        raise LabelledDataError(f"{where}: no question '{question_id}' in the bank")
    question = bank.question(question_id)
    return LabelledRecord(number, record_id, question.id, question, answer, human, max_score, True)


def _number(data: dict, key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LabelledDataError(f"{where}: '{key}' must be a number")
    return float(value)


def _slug(group: str, text: str) -> str:
    slug = _SLUG.sub("-", group.lower()).strip("-")[:48]
    if not slug:
        slug = f"q{abs(hash(text)) % 10**8}"
    return slug if slug[0].isalnum() else f"q{slug}"


@dataclass(frozen=True)
class GradedRecord:
    record: LabelledRecord
    grade: Grade
    predicted: float  # on the record's human scale
