"""The question bank: where it lives, reading its YAML, looking questions and rubrics up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz

from grader import disk_cache
from grader.errors import BankError, UnknownQuestionError
from grader.files import read_regular
from grader.models import Question, QuestionFile, Rubric

QUESTIONS_DIR = "questions"
RUBRICS_DIR = "rubrics"
BANK_ENV = "GRADER_BANK"
MAX_YAML_BYTES = 4 << 20  # a rubric is some tens of KiB
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_PACKAGE = Path(__file__).resolve().parent.parent  # grader/
_PACKAGED = _PACKAGE / "_bank"
_SOURCE_TREE = _PACKAGE.parent
Model = TypeVar("Model", bound=BaseModel)


def default_bank_dir() -> Path:
    """`GRADER_BANK`, else the bank shipped in the wheel, else the source checkout's bank."""
    configured = os.environ.get(BANK_ENV)
    if configured:
        return Path(configured).expanduser()
    if (_PACKAGED / QUESTIONS_DIR).is_dir():
        return _PACKAGED
    return _SOURCE_TREE


def read_yaml(path: Path) -> Any:
    """Parse one YAML file; any failure is a BankError naming the file (and line, when known). Only a regular
    file of at most MAX_YAML_BYTES is read; a key given twice in one mapping is an error (YAML would keep the
    last one silently)."""
    try:
        data = read_regular(path, MAX_YAML_BYTES)
        if len(data) > MAX_YAML_BYTES:
            raise BankError(f"{path}: larger than {MAX_YAML_BYTES >> 20} MiB; not a question or rubric file")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise BankError(f"{path}: file not found") from None
    except OSError as exc:
        raise BankError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BankError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    import yaml  # here, not at the top: start-up usually finds the bank in the disk cache

    try:
        return yaml.load(text, Loader=_unique_key_loader())
    except RecursionError:
        raise BankError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BankError(f"{path}: {where}invalid YAML: {problem}") from None


@cache
def _unique_key_loader() -> type:
    """The fastest safe YAML loader, refusing a key repeated in one mapping (with the lines of both)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.setdefault(key, key_node.start_mark.line)
                    except TypeError:  # an unhashable key: the constructor says so below
                        continue
                    if first != key_node.start_mark.line:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key '{key}' (first on line {first + 1})", key_node.start_mark
                        )
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_str(self, node: Any) -> Any:
            value = super().construct_yaml_str(node)
            if _LONE_SURROGATE.search(value):  # from a "\ud800" escape: no text holds one
                raise yaml.constructor.ConstructorError(
                    None, None, "a string holds a lone surrogate escape, which is not text", node.start_mark
                )
            return value

    UniqueKeyLoader.add_constructor("tag:yaml.org,2002:str", UniqueKeyLoader.construct_yaml_str)
    return UniqueKeyLoader


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) for each validation error, the field as a dotted path."""
    return [(".".join(str(p) for p in e["loc"]) or "(top level)", e["msg"]) for e in exc.errors()]


def parse_model(model: type[Model], path: Path, data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = [f"{path}: {where}: {message}" for where, message in validation_errors(exc)]
        extra = f" (and {len(messages) - 1} more; run 'grade rubrics check')" if len(messages) > 1 else ""
        raise BankError(messages[0] + extra) from None


@dataclass
class Bank:
    """Questions in bank order, with category titles; rubrics are read on demand."""

    root: Path
    questions: dict[str, Question] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    _rubrics: dict[str, Rubric] = field(default_factory=dict)

    def question(self, question_id: str) -> Question:
        key = question_id.strip().lower()
        if key in self.questions:
            return self.questions[key]
        raise UnknownQuestionError(question_id, suggest_ids(key, list(self.questions)))

    def rubric_path(self, question_id: str) -> Path:
        return self.root / RUBRICS_DIR / f"{question_id}.yaml"

    def has_rubric(self, question_id: str) -> bool:
        return self.rubric_path(question_id).is_file()

    def rubric(self, question_id: str) -> Rubric:
        """The rubric of a question; a BankError naming file and field when it is missing or invalid."""
        if question_id not in self._rubrics:
            path = self.rubric_path(question_id)
            key = disk_cache.files_key("rubric", [path])
            rubric = disk_cache.load(key)
            if not isinstance(rubric, Rubric):
                rubric = parse_model(Rubric, path, read_yaml(path))
                if rubric.question_id != question_id:
                    raise BankError(f"{path}: question_id: '{rubric.question_id}' does not match the file name")
                check_fit_to_grade(rubric, path)
                disk_cache.store(key, rubric)  # only a rubric fit to grade with is cached: the verdict is kept
            self._rubrics[question_id] = rubric
        return self._rubrics[question_id]

    def in_category(self, category: str | None) -> list[Question]:
        return [q for q in self.questions.values() if category is None or q.category == category]


def check_fit_to_grade(rubric: Rubric, path: Path) -> None:
    """A BankError for the first error `grade rubrics check` would report in this rubric (warnings pass)."""
    from grader.bank.validation import rubric_errors  # only when a rubric is read, not found in the cache

    errors = rubric_errors(rubric, str(path))
    if errors:
        extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BankError(f"{errors[0]}{extra}; fix the rubric ('grade rubrics check' lists every problem)")


def question_files(root: Path) -> list[Path]:
    folder = root / QUESTIONS_DIR
    if not folder.is_dir():
        raise BankError(f"{folder}: no questions folder here; is --bank / {BANK_ENV} right?")
    return sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and not p.name.startswith("."))


def load_bank(root: Path | None = None) -> Bank:
    """Read every question of the bank at `root` (default: `default_bank_dir()`)."""
    bank = Bank(root=root if root is not None else default_bank_dir())
    files = question_files(bank.root)
    key = disk_cache.files_key("questions", files)
    cached = disk_cache.load(key)
    if isinstance(cached, tuple) and len(cached) == 2:
        bank.questions, bank.titles = cached
        return bank
    for path in files:
        entry = parse_model(QuestionFile, path, read_yaml(path))
        bank.titles[entry.category] = entry.title
        for item in entry.questions:
            if item.id in bank.questions:
                raise BankError(f"{path}: questions: duplicate question id '{item.id}'")
            bank.questions[item.id] = Question(
                id=item.id, category=entry.category, text=item.text, reference=item.reference
            )
    disk_cache.store(key, (bank.questions, bank.titles))
    return bank


_NUMBER = re.compile(r"(\d+)$")


def suggest_ids(query: str, ids: list[str], limit: int = 3) -> list[str]:
    """The ids closest to a mistyped one, in bank order; ties go to the nearest number."""

    def number(text: str) -> int | None:
        match = _NUMBER.search(text)
        return int(match.group(1)) if match else None

    wanted = number(query)
    ranked = []
    for position, candidate in enumerate(ids):
        similarity = fuzz.ratio(query, candidate)
        if similarity < 60:
            continue
        got = number(candidate)
        gap = abs(got - wanted) if got is not None and wanted is not None else 99
        ranked.append((-similarity, gap, position, candidate))
    best = sorted(ranked)[:limit]
    return [candidate for *_, candidate in sorted(best, key=lambda r: r[2])]
