"""Importing a Markdown list of questions as a bank: question files plus draft rubrics.

Headings become categories (emoji and bold markers dropped; the slug of the heading is the category id),
numbered items under a heading become its questions (`<category>-1`, `-2`, ... in order). Mis-encoded
text ("WhatÃ¢â‚¬â„¢s", "Ã°Å¸â€Â§") is repaired with ftfy; typographic quotes and dashes become ASCII. Each
question gets a rubric skeleton marked `draft: true` for a human to write, or, with a model, a rubric the
model drafted (still `draft: true`: `grade rubrics check` warns until someone has reviewed it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.errors import BankError, LLMError, StorageError
from grader.keyword.lexicon import FUNCTION_WORDS, phrase_stems
from grader.keyword.reference import REFERENCE_STOP
from grader.models import Concept, Rubric

DEFAULT_CATEGORY = "General"
MAX_SLUG = 40
SKELETON_KEYWORDS = 8

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
_ITEM = re.compile(r"^\s{0,3}(?P<number>\d{1,4})[.)]\s+(?P<text>\S.*)$")
_BOLD = re.compile(r"\*\*|__")
_LEAD_KEEP = "([\"'`"
_TRAIL_KEEP = "+#)]?!.\"'`"
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u00a0": " "})
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#.-]*[A-Za-z0-9+#]|[A-Za-z]")



@dataclass(frozen=True)
class ImportedCategory:
    slug: str
    title: str
    questions: tuple[tuple[str, str], ...]  # (id, text)


@dataclass
class ImportResult:
    categories: list[ImportedCategory]
    question_files: list[Path] = field(default_factory=list)
    rubric_files: list[Path] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (question id, why its draft failed)

    @property
    def questions(self) -> int:
        return sum(len(c.questions) for c in self.categories)


# --- reading the Markdown ----------------------------------------------------------------------------------


def read_markdown(path: Path) -> str:
    """The file's text, mis-encodings repaired (UTF-8 expected; cp1252 accepted)."""
    import ftfy

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BankError(f"{path}: file not found") from None
    except OSError as exc:
        raise BankError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return ftfy.fix_text(text).translate(_DASHES)


def parse_markdown(text: str) -> list[ImportedCategory]:
    """Categories (headings) with their numbered questions, in file order; headings without items dropped."""
    sections: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            title = clean_title(heading.group("title"))
            current = (title or DEFAULT_CATEGORY, [])
            sections.append(current)
            continue
        item = _ITEM.match(line)
        if item:
            if current is None:
                current = (DEFAULT_CATEGORY, [])
                sections.append(current)
            question = clean_text(item.group("text"))
            if question:
                current[1].append(question)
    categories: list[ImportedCategory] = []
    used: set[str] = set()
    for title, items in sections:
        if not items:
            continue
        slug = unique_slug(slugify(title), used)
        categories.append(ImportedCategory(slug, title, tuple((f"{slug}-{n}", t) for n, t in enumerate(items, 1))))
    return categories


def clean_title(title: str) -> str:
    """The heading's words: bold markers, emoji and decoration around it dropped (`C++` keeps its `+`)."""
    text = " ".join(_BOLD.sub("", title).split())
    start, end = 0, len(text)
    while start < end and not (text[start].isalnum() or text[start] in _LEAD_KEEP):
        start += 1
    while end > start and not (text[end - 1].isalnum() or text[end - 1] in _TRAIL_KEEP):
        end -= 1
    return text[start:end].strip()


def clean_text(text: str) -> str:
    return " ".join(_BOLD.sub("", text).split())


def slugify(title: str) -> str:
    """`Deployment & CI/CD` -> `deployment-ci-cd`: ASCII, lower case, words joined by dashes."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0] or slug[:MAX_SLUG]
    return slug or "questions"


def unique_slug(slug: str, used: set[str]) -> str:
    unique, number = slug, 2
    while unique in used:
        unique = f"{slug}-{number}"
        number += 1
    used.add(unique)
    return unique


# --- rubrics --------------------------------------------------------------------------------------------------


def skeleton_rubric(question_id: str, text: str) -> Rubric:
    """A placeholder rubric (draft) that validates: one concept seeded with the question's content words."""
    keywords = question_keywords(text) or [question_id]
    return Rubric(
        question_id=question_id,
        draft=True,
        concepts=[
            Concept(
                id="key-points",
                name="Key points (to be written)",
                description=f"TODO: what a strong answer to this question covers: {text}",
                weight=1,
                keywords=keywords,
                min_hits=min(2, len(keywords)),
                follow_up="TODO: a follow-up question that probes this concept.",
            )
        ],
        misconceptions=[],
        model_answer="TODO: a model answer of 150-300 words, for human review.",
    )


def question_keywords(text: str) -> list[str]:
    """The question's content words (distinct stems), a seed for the skeleton's keywords."""
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for word in _WORD.findall(text):
        lower = word.lower().strip(".-")
        if lower in FUNCTION_WORDS or lower in REFERENCE_STOP or len(lower) < 2:
            continue
        stems = phrase_stems(lower)
        if not stems or stems in seen:
            continue
        seen.add(stems)
        out.append(lower)
        if len(out) == SKELETON_KEYWORDS:
            break
    return out


# --- writing the bank -----------------------------------------------------------------------------------------


def import_questions(
    source: Path,
    out: Path,
    *,
    force: bool = False,
    draft: Callable[[str, str, str], Rubric] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Write `out/questions/NN-<category>.yaml` and `out/rubrics/<id>.yaml` (drafts) for a Markdown list.

    `draft(question_id, text, category_title)`, when given, drafts each rubric (`grader.llm.drafting`); when it
    raises LLMError the question keeps its skeleton and the failure is listed in the result."""
    categories = parse_markdown(read_markdown(source))
    if not categories:
        raise BankError(f"{source}: no numbered questions found (expected '1. question' lines under headings)")
    result = ImportResult(categories)
    plan = _plan(out, categories)
    existing = [path for path in plan if path.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise StorageError(f"would overwrite {len(existing)} file(s) ({names}); use --force or another --out")
    total = result.questions
    done = 0
    for index, category in enumerate(categories, start=1):
        path = out / "questions" / f"{index:02d}-{category.slug}.yaml"
        _write(path, _question_file(category), f"# Imported from {source.name} by `grade questions import`.\n")
        result.question_files.append(path)
        for question_id, text in category.questions:
            rubric = skeleton_rubric(question_id, text)
            if draft is not None:
                try:
                    rubric = draft(question_id, text, category.title)
                    result.drafted.append(question_id)
                except LLMError as exc:
                    result.failed.append((question_id, str(exc)))
            rubric_path = out / "rubrics" / f"{question_id}.yaml"
            header = "# Draft rubric: review every field, then remove `draft: true`.\n"
            _write(rubric_path, rubric.model_dump(mode="json", exclude_defaults=False), header)
            result.rubric_files.append(rubric_path)
            done += 1
            if progress is not None:
                progress(done, total)
    return result


def _plan(out: Path, categories: list[ImportedCategory]) -> list[Path]:
    paths = [out / "questions" / f"{i:02d}-{c.slug}.yaml" for i, c in enumerate(categories, start=1)]
    paths += [out / "rubrics" / f"{qid}.yaml" for c in categories for qid, _ in c.questions]
    return paths


def _question_file(category: ImportedCategory) -> dict[str, Any]:
    return {
        "category": category.slug,
        "title": category.title,
        "questions": [{"id": qid, "text": text} for qid, text in category.questions],
    }


def _write(path: Path, data: dict[str, Any], header: str) -> None:
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"{path}: cannot write: {exc.strerror or exc}") from None
