"""Whether the passage a model cites supports its verdict: evidence that carries the concept.

A citation is verbatim by construction (a numbered passage of the answer), so what is checked is that it could
show what the model says it shows. Credit (covered or partial) needs a cited passage that
- exists (a verdict that cites `none` proves nothing),
- does not address the grader (a passage the injection rules flag, or one holding a data delimiter),
- has at least MIN_CONTENT_WORDS words that are not function words ("pass", "no idea" prove nothing),
- shares MIN_SHARED_TERMS terms with the concept: stems of its name, description, keywords or synonyms that
  are not in the question and not common to most of the rubric's concepts,
- and is not cited for more than MAX_CONCEPTS_PER_PASSAGE concepts (one passage reused for every concept is a
  model that did not look); the concepts sharing most terms with it keep it.
A misconception is charged only on a cited passage that passes the same tests against the misconception.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from grader.keyword.injection import detect_injection
from grader.llm.passages import Passage, content_stems
from grader.llm.prompt import find_markers
from grader.models import Question, Rubric, Status

MIN_CONTENT_WORDS = 3
MIN_SHARED_TERMS = 3  # one or two shared words ("part", "code") happen by chance; see docs/llm.md
MAX_CONCEPTS_PER_PASSAGE = 2

NO_CITATION = "no passage of the answer was cited"
ADDRESSES_GRADER = "the cited passage addresses the grader, not the question"
TOO_SHORT = "the cited passage has too few words to show anything ({count} besides function words; {needed} needed)"
OFF_TOPIC = "the cited passage shares {shared} of the rubric's terms for it ({needed} needed)"
REUSED = "the same passage was cited for {count} concepts"


@dataclass(frozen=True)
class Terms:
    """The distinctive stems of each concept and misconception of a rubric, by id."""

    concepts: dict[str, frozenset[str]]
    misconceptions: dict[str, frozenset[str]]


@dataclass(frozen=True)
class Claim:
    """A verdict as the model gave it: a concept, a status, and the passage it cites (None: none)."""

    concept_id: str
    status: Status
    passage: Passage | None


def rubric_terms(question: Question, rubric: Rubric) -> Terms:
    """The stems each concept is recognised by: its own words, less the question's and those most concepts share."""
    asked = set(content_stems(question.text))
    vocabulary = {
        c.id: set(content_stems(" . ".join([c.name, c.description, *c.keywords, *_alternatives(c.synonyms)])))
        for c in rubric.concepts
    }
    shared = Counter(s for stems in vocabulary.values() for s in stems)
    common = max(1, len(rubric.concepts) // 2)
    concepts = {
        cid: _first_nonempty({s for s in stems if shared[s] <= common} - asked, stems - asked, stems)
        for cid, stems in vocabulary.items()
    }
    misconceptions = {}
    for m in rubric.misconceptions:
        stems = set(content_stems(" . ".join([m.description, *m.keywords])))
        misconceptions[m.id] = _first_nonempty(stems - asked, stems)
    return Terms(concepts, misconceptions)


def _alternatives(synonyms: dict[str, list[str]]) -> list[str]:
    return [phrase for phrases in synonyms.values() for phrase in phrases]


def _first_nonempty(*sets: set[str]) -> frozenset[str]:
    return frozenset(next((s for s in sets if s), sets[-1]))


def addresses_grader(passage: Passage) -> bool:
    """True when the passage is text aimed at the grader (the `prompt_injection` rules, or a data delimiter)."""
    return detect_injection(passage.text) is not None or bool(find_markers(passage.text))


def citation_problem(passage: Passage | None, terms: frozenset[str]) -> str | None:
    """Why `passage` cannot support a verdict about something recognised by `terms`; None when it can."""
    if passage is None:
        return NO_CITATION
    if addresses_grader(passage):
        return ADDRESSES_GRADER
    count = len(set(passage.content))
    if count < MIN_CONTENT_WORDS:
        return TOO_SHORT.format(count=count, needed=MIN_CONTENT_WORDS)
    shared = len(terms.intersection(passage.content))
    needed = min(MIN_SHARED_TERMS, len(terms))
    if shared < needed:
        return OFF_TOPIC.format(shared=f"only {shared}" if shared else "none", needed=needed)
    return None


def check_claims(claims: Sequence[Claim], terms: Terms, weights: dict[str, float]) -> list[str | None]:
    """For each claim of credit, why its citation fails (None: it holds; always None for a `missing` claim)."""
    problems: list[str | None] = [
        None if c.status == "missing" else citation_problem(c.passage, terms.concepts[c.concept_id]) for c in claims
    ]
    by_passage: dict[str, list[int]] = {}
    for i, claim in enumerate(claims):
        if claim.status != "missing" and problems[i] is None and claim.passage is not None:
            by_passage.setdefault(claim.passage.label, []).append(i)
    for indices in by_passage.values():
        if len(indices) <= MAX_CONCEPTS_PER_PASSAGE:
            continue

        def strength(i: int) -> tuple[int, float, int]:
            passage = claims[i].passage
            assert passage is not None
            overlap = len(terms.concepts[claims[i].concept_id].intersection(passage.content))
            return (-overlap, -weights.get(claims[i].concept_id, 0.0), i)

        for i in sorted(indices, key=strength)[MAX_CONCEPTS_PER_PASSAGE:]:
            problems[i] = REUSED.format(count=len(indices))
    return problems
