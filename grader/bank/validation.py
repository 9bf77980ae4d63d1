"""`grade rubrics check`: every problem of a bank, as `file: field: message` lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from grader.bank.loader import RUBRICS_DIR, Model, question_files, read_yaml, validation_errors
from grader.errors import BankError
from grader.keyword.lexicon import phrase_stems
from grader.models import QuestionFile, Rubric

Severity = Literal["error", "warning"]
MODEL_ANSWER_MIN_SCORE = 7.0  # a model answer should score well on its own rubric
MAX_ALTERNATIVE_WORDS = 4  # a keyword or synonym longer than this is a sentence, not a way of naming a concept
MAX_CONCEPT_ALTERNATIVES = 40  # keywords + synonyms of one concept; more means it is fitted to answers


@dataclass(frozen=True)
class Problem:
    path: str
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    questions: int
    rubrics: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def check_bank(root: Path) -> CheckReport:
    """Validate the questions and rubrics under `root` without stopping at the first problem."""
    problems: list[Problem] = []
    question_ids: dict[str, bool] = {}  # id -> has a reference answer
    try:
        files = question_files(root)
    except BankError as exc:
        return CheckReport(0, 0, (Problem(str(root), "questions", str(exc).split(": ", 1)[-1]),))
    for path in files:
        parsed = _parse(QuestionFile, path, problems)
        if parsed is None:
            continue
        for index, item in enumerate(parsed.questions):
            if item.id in question_ids:
                problems.append(Problem(str(path), f"questions.{index}.id", f"duplicate question id '{item.id}'"))
            question_ids[item.id] = item.reference is not None
    rubric_dir = root / RUBRICS_DIR
    rubric_paths = sorted(rubric_dir.glob("*.yaml")) if rubric_dir.is_dir() else []
    for qid, has_reference in question_ids.items():
        if not (rubric_dir / f"{qid}.yaml").is_file() and not has_reference:
            problems.append(Problem(str(rubric_dir / f"{qid}.yaml"), "(file)", f"question '{qid}' has no rubric"))
    for path in rubric_paths:
        rubric = _parse(Rubric, path, problems)
        if rubric is None:
            continue
        if path.stem not in question_ids:
            problems.append(Problem(str(path), "question_id", f"no question '{path.stem}' in the bank"))
        if rubric.question_id != path.stem:
            problems.append(Problem(str(path), "question_id", f"'{rubric.question_id}' does not match the file name"))
        problems.extend(check_rubric(rubric, str(path)))
    return CheckReport(len(question_ids), len(rubric_paths), tuple(problems))


def check_rubric(rubric: Rubric, path: str) -> list[Problem]:
    """Problems the schema cannot see: duplicate ids and keywords, keywords with no words, weak model answers."""
    problems: list[Problem] = []
    if rubric.draft:
        problems.append(
            Problem(path, "draft", "machine-drafted rubric: review it, then remove 'draft: true'", "warning")
        )
    problems.extend(_structure_problems(rubric, path))
    problems.extend(_check_alternatives(rubric, path))
    if not rubric.draft:
        from grader.keyword.grader import grade_by_keywords

        score = grade_by_keywords(rubric, rubric.model_answer).score
        if score < MODEL_ANSWER_MIN_SCORE:
            problems.append(
                Problem(path, "model_answer", f"scores only {score}/10 on its own rubric; add keywords", "warning")
            )
    return problems


def rubric_errors(rubric: Rubric, path: str) -> list[Problem]:
    """The errors (not the warnings) `check_rubric` finds, without grading anything: what makes a rubric unfit
    to grade with (duplicate ids, keywords with no words to match, synonyms of a keyword that is not listed)."""
    return [problem for problem in _structure_problems(rubric, path) if problem.severity == "error"]


def _structure_problems(rubric: Rubric, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for kind, items in (("concepts", rubric.concepts), ("misconceptions", rubric.misconceptions)):
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.id in seen:
                problems.append(Problem(path, f"{kind}.{index}.id", f"duplicate id '{item.id}'"))
            seen.add(item.id)
            problems.extend(_check_keywords(path, f"{kind}.{index}", item.keywords))
    for index, concept in enumerate(rubric.concepts):
        for key in concept.synonyms:
            if key not in concept.keywords:
                problems.append(
                    Problem(path, f"concepts.{index}.synonyms.{key}", "synonyms of a keyword that is not listed")
                )
    return problems


def _alternative_stems(text: str) -> tuple[str, ...]:
    return tuple(phrase_stems(text.replace("...", " ")))


def _check_alternatives(rubric: Rubric, path: str) -> list[Problem]:
    """Warnings about alternatives fitted to answers rather than naming a concept: synonyms that repeat their
    keyword, alternatives longer than MAX_ALTERNATIVE_WORDS words, concepts with more than
    MAX_CONCEPT_ALTERNATIVES alternatives, and a phrase that credits two concepts of the rubric."""
    problems: list[Problem] = []
    owner: dict[tuple[str, ...], int] = {}  # stems of an alternative -> the first concept that has it
    for index, concept in enumerate(rubric.concepts):
        where = f"concepts.{index}"
        alternatives = list(concept.keywords)
        for key, synonyms in concept.synonyms.items():
            own = _alternative_stems(key)
            for synonym in synonyms:
                if _alternative_stems(synonym) == own:
                    problems.append(
                        Problem(path, f"{where}.synonyms.{key}", f"synonym '{synonym}' repeats its keyword", "warning")
                    )
            alternatives.extend(synonyms)
        if len(alternatives) > MAX_CONCEPT_ALTERNATIVES:
            problems.append(
                Problem(
                    path, where,
                    f"{len(alternatives)} keywords and synonyms (more than {MAX_CONCEPT_ALTERNATIVES}): keep the ones "
                    "any competent answer would use",
                    "warning",
                )
            )
        for text in alternatives:
            stems = _alternative_stems(text)
            if len(stems) > MAX_ALTERNATIVE_WORDS:
                problems.append(
                    Problem(
                        path, where, f"'{text}' is longer than {MAX_ALTERNATIVE_WORDS} words: name the idea, "
                        "not a sentence of an answer", "warning",
                    )
                )
            first = owner.setdefault(stems, index)
            if first != index and stems:
                problems.append(
                    Problem(
                        path, where, f"'{text}' also credits concept '{rubric.concepts[first].id}'", "warning"
                    )
                )
    return problems


def _check_keywords(path: str, where: str, keywords: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, ...], str] = {}
    for index, keyword in enumerate(keywords):
        stems = tuple(phrase_stems(keyword.replace("...", " ")))
        if not stems:
            problems.append(Problem(path, f"{where}.keywords.{index}", f"'{keyword}' has no words to match"))
        elif stems in seen:
            problems.append(
                Problem(
                    path, f"{where}.keywords.{index}", f"'{keyword}' matches the same as '{seen[stems]}'", "warning"
                )
            )
        else:
            seen[stems] = keyword
    return problems


def _parse(model: type[Model], path: Path, problems: list[Problem]) -> Model | None:
    try:
        data = read_yaml(path)
    except BankError as exc:
        problems.append(Problem(str(path), "(file)", str(exc).split(": ", 1)[-1]))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(Problem(str(path), where, message) for where, message in validation_errors(exc))
        return None
