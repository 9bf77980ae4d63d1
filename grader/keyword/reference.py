"""Grading against a reference answer alone, for questions without hand-written concepts.

The key terms come from the reference answer: its content words (stemmed; the words the question itself
uses are left out, since repeating the question shows nothing), weighted by how informative they are
(idf over a corpus). When other answers to the same question are at hand (`grade calibrate`, a cohort),
the words they share are added too: a peer answer counts more the more of the reference it covers
(pseudo-relevance feedback), so the vocabulary of good answers — synonyms and paraphrases of the
reference included — is learnt without any human score.

Every key term becomes a concept whose weight is its share of the score; an answer covers a term when it
uses the word (any inflection, one-letter typos, abbreviations expanded). The score is computed by
`grader.scoring.compute_score` from those verdicts on the derived rubric's concave curve (human graders give
full marks to an answer that makes the reference's point without every word of it): `10 * (share / 10) ** curve`.
Grades say `method="reference"`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Levenshtein

from grader.feedback import grade_from_verdicts, plan_study
from grader.flags import PROMPT_INJECTION
from grader.keyword.injection import detect_injection
from grader.keyword.matcher import Hit, Matcher
from grader.keyword.patterns import compile_pattern, index_patterns
from grader.keyword.text import Document, analyse
from grader.keyword.vocabulary import pattern_vocabulary
from grader.models import Concept, ConceptResult, Grade, Question, Rubric, Scale
from grader.scoring import MAX_SCORE, compute_score

# Grammatical words only. Unlike text.FUNCTION_WORDS this keeps words that carry meaning in short technical
# answers ("not", "once", "all", "first", "before", "each"): measured on asag-dev, the shorter list does better.
REFERENCE_STOP = frozenset(
    """a an the of to in on at by for with and or is are was were be been being it its this that these those
    which who whom whose as from into than then there their they them he she his her we our you your i me my
    so such can could would should will shall may might must do does did has have had also very just e.g i.e
    etc eg ie""".split()
)
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ReferenceSettings:
    """The few parameters of reference grading; defaults chosen by leave-assignments-out cross-validation
    on asag-dev (see benchmarks/asag_calibration.py), never per question."""

    peer_share: float = 0.85  # share of the weight given to terms from peer answers, when there are peers
    peer_terms: int = 80  # how many peer terms to keep (most weighted first; capped for readable output)
    peer_feedback: float = 1.0  # a peer answer counts (its share of the reference covered) ** this
    min_peers: int = 5  # fewer peer answers than this: use the reference alone
    question_weight: float = 0.0  # weight factor of words the question itself uses (0: left out)
    curve: float = 0.4  # score = 10 * share ** curve, reference terms alone
    peer_curve: float = 0.3  # the same with peer terms (full coverage of many peer terms is out of reach)


DEFAULT_SETTINGS = ReferenceSettings()


class KeyTerm(BaseModel):
    """Where one derived concept comes from."""

    model_config = ConfigDict(frozen=True)

    concept_id: str
    stem: str
    label: str
    source: Literal["reference", "peers"]


class DerivedRubric(Rubric):
    """A rubric derived from a reference answer: one concept per key term; graded by `grade_by_reference`."""

    method: ClassVar[Literal["keyword", "reference"]] = "reference"
    derived_from: Literal["reference"] = "reference"
    curve: float = Field(default=DEFAULT_SETTINGS.curve, gt=0, le=1)
    terms: tuple[KeyTerm, ...] = ()


class TermStats:
    """Document frequencies of stems over a corpus, for inverse document frequency."""

    def __init__(self, documents: Iterable[str] = ()) -> None:
        self.documents = 0
        self.frequency: Counter[str] = Counter()
        for text in documents:
            self.add(text)

    def add(self, text: str) -> None:
        self.documents += 1
        self.frequency.update(stem_set(text))

    def idf(self, stem: str) -> float:
        """Smoothed idf, >= 1: a stem no document has is the most informative."""
        return math.log((self.documents + 1) / (self.frequency.get(stem, 0) + 1)) + 1.0


def bank_stats(questions: Iterable[Question]) -> TermStats:
    """Idf over a bank's question texts and reference answers (what a lone answer can be weighed against)."""
    texts: list[str] = []
    for question in questions:
        texts.append(question.text)
        if question.reference:
            texts.append(question.reference)
    return TermStats(texts)


@lru_cache(maxsize=1 << 14)
def content_words(text: str) -> tuple[tuple[str, str], ...]:
    """(stem, word) for each content word of `text`, in order (stop words and single letters left out)."""
    doc = analyse(text)
    return tuple(
        (stem, word)
        for stem, word in zip(doc.stems, doc.words, strict=True)
        if word not in REFERENCE_STOP and (len(word) > 1 or word.isdigit())
    )


@lru_cache(maxsize=1 << 14)
def stem_set(text: str) -> frozenset[str]:
    return frozenset(stem for stem, _ in content_words(text))


def derive_rubric(
    question: Question,
    reference: str | None = None,
    *,
    stats: TermStats | None = None,
    peers: Sequence[str] = (),
    settings: ReferenceSettings = DEFAULT_SETTINGS,
) -> DerivedRubric:
    """A rubric of key terms from the reference answer (and from `peers`, other answers to the question)."""
    reference = (reference if reference is not None else question.reference or "").strip()
    if not reference:
        raise ValueError(f"question '{question.id}' has no reference answer to derive a rubric from")
    stats = stats or TermStats([question.text, reference])
    asked = stem_set(question.text)
    labels: dict[str, str] = {}
    from_reference: dict[str, float] = {}
    for stem, word in content_words(reference):
        labels.setdefault(stem, word)
        factor = settings.question_weight if stem in asked else 1.0
        if factor > 0:
            from_reference[stem] = stats.idf(stem) * factor
    if not from_reference:  # the reference only repeats the question: its words are all there is
        from_reference = {stem: stats.idf(stem) for stem in labels}
    weights = _normalised(from_reference)
    from_peers = _peer_terms(from_reference, asked, peers, stats, settings) if len(peers) >= settings.min_peers else {}
    if from_peers:
        share = settings.peer_share
        weights = {stem: (1 - share) * w for stem, w in weights.items()}
        for stem, w in _normalised(from_peers).items():
            weights[stem] = weights.get(stem, 0.0) + share * w
        labels.update({stem: label for stem, label in _peer_labels(peers, from_peers).items() if stem not in labels})
    curve = settings.peer_curve if from_peers else settings.curve
    return _build(question, reference, weights, labels, set(from_reference), curve)


def _normalised(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {stem: w / total for stem, w in weights.items()} if total > 0 else {}


def _peer_terms(
    reference: dict[str, float], asked: frozenset[str], peers: Sequence[str], stats: TermStats,
    settings: ReferenceSettings,
) -> dict[str, float]:
    """Stems shared by peer answers, each peer weighted by how much of the reference it covers."""
    total = sum(reference.values())
    frequency: Counter[str] = Counter()
    weight_sum = 0.0
    for text in peers:
        stems = stem_set(text)
        covered = sum(w for stem, w in reference.items() if stem in stems) / total if total else 0.0
        weight = covered**settings.peer_feedback if settings.peer_feedback else 1.0
        weight_sum += weight
        for stem in stems:
            frequency[stem] += weight
    if weight_sum <= 0:  # no peer overlaps the reference: count every peer alike
        return _peer_terms(reference, asked, peers, stats, ReferenceSettings(peer_feedback=0.0))
    scored: dict[str, float] = {}
    for stem, count in frequency.items():
        factor = settings.question_weight if stem in asked else 1.0
        if factor > 0 and count > 0:
            scored[stem] = count / weight_sum * stats.idf(stem) * factor
    ranked = sorted(scored.items(), key=lambda item: (-item[1], item[0]))[: settings.peer_terms]
    return dict(ranked)


def _peer_labels(peers: Sequence[str], stems: dict[str, float]) -> dict[str, str]:
    """The word most often written for each stem among the peers."""
    counts: dict[str, Counter[str]] = {}
    for text in peers:
        for stem, word in content_words(text):
            if stem in stems:
                counts.setdefault(stem, Counter())[word] += 1
    return {stem: counter.most_common(1)[0][0] for stem, counter in counts.items()}


def _build(
    question: Question, reference: str, weights: dict[str, float], labels: dict[str, str],
    reference_stems: set[str], curve: float,
) -> DerivedRubric:
    concepts: list[Concept] = []
    terms: list[KeyTerm] = []
    used: set[str] = set()
    ordered = sorted(weights.items(), key=lambda item: (item[0] not in reference_stems, -item[1], item[0]))
    for stem, weight in ordered:
        label = labels.get(stem, stem)
        source: Literal["reference", "peers"] = "reference" if stem in reference_stems else "peers"
        concept_id = _unique_id(f"{'ref' if source == 'reference' else 'peer'}-{_SLUG.sub('-', stem).strip('-')}", used)
        if source == "reference":
            description = f"The reference answer uses '{label}': {reference}"
            follow_up = f"Where does '{label}' come into an answer to: {question.text}"
        else:
            description = f"Many other answers to this question use '{label}'."
            follow_up = f"What do the other answers mean by '{label}' here?"
        concepts.append(
            Concept(
                id=concept_id,
                name=label,
                description=description,
                weight=max(0.001, round(MAX_SCORE * weight, 3)),
                keywords=[label],
                min_hits=1,
                follow_up=follow_up,
            )
        )
        terms.append(KeyTerm(concept_id=concept_id, stem=stem, label=label, source=source))
    return DerivedRubric(
        question_id=question.id,
        draft=False,
        concepts=concepts,
        model_answer=reference,
        curve=curve,
        terms=tuple(terms),
    )


def _unique_id(candidate: str, used: set[str]) -> str:
    candidate = candidate[:60] if candidate.strip("-") not in {"ref", "peer", ""} else f"{candidate}-term"
    unique, number = candidate, 2
    while unique in used:
        unique = f"{candidate}-{number}"
        number += 1
    used.add(unique)
    return unique


# --- grading ----------------------------------------------------------------------------------------------


def grade_by_reference(rubric: DerivedRubric, answer: str) -> Grade:
    """Grade `answer` by the key terms of a derived rubric; every concept cites the sentence that uses it."""
    patterns = [compile_pattern(concept.keywords[0]) for concept in rubric.concepts]
    doc = analyse(answer)
    found = Matcher(doc, pattern_vocabulary(patterns)).find(index_patterns(patterns))
    concepts = [
        _verdict(concept, _first_hit(found.get(number)), doc) for number, concept in enumerate(rubric.concepts)
    ]
    flags = [PROMPT_INJECTION] if detect_injection(answer) else []
    scale = Scale(shape="power", exponent=rubric.curve)
    share = compute_score(concepts, [], flags, scale=None)  # for the summary: the plain share the curve is applied to
    score = compute_score(concepts, [], flags, scale=scale)  # for the summary; the grade computes its own
    from_reference = {t.concept_id for t in rubric.terms if t.source == "reference"}
    return grade_from_verdicts(
        rubric,
        "reference",
        concepts,
        [],
        flags,
        scale=scale,
        feedback=_summary(concepts, from_reference, share, score, rubric.curve),
        study_next=plan_study([c for c in concepts if c.id in from_reference], rubric),
    )


def _first_hit(hits: dict[int, Hit] | None) -> Hit | None:
    """The hit in the first sentence that has one."""
    return hits[min(hits)] if hits else None


def _verdict(concept: Concept, hit: Hit | None, doc: Document) -> ConceptResult:
    if hit is not None:
        first, last, sentence = hit.first, hit.last, hit.sentence
    else:
        typo = _misspelt(concept.keywords[0], doc.words)
        if typo is None:
            return ConceptResult(id=concept.id, name=concept.name, weight=concept.weight, status="missing")
        first = last = typo
        sentence = doc.sentence_of[typo]
    evidence = doc.sentence_text(sentence, tokens=(first, last))
    return ConceptResult(
        id=concept.id, name=concept.name, weight=concept.weight, status="covered", evidence=evidence,
        matched=[concept.keywords[0]], reason=None if hit is not None else f"spelt '{doc.words[first]}'",
    )


def _misspelt(label: str, words: list[str]) -> int | None:
    """The index of a word that is the label misspelt (one edit; two for long words; same first letter).

    Stems hide some typos from the shared matcher ("refrence" stems to "refrenc", "reference" to "refer").
    """
    label = label.lower()
    if len(label) < 5:
        return None
    cutoff = 2 if len(label) >= 9 else 1
    for index, word in enumerate(words):
        if (
            len(word) >= 4 and word[0] == label[0] and abs(len(word) - len(label)) <= cutoff
            and Levenshtein.distance(word, label, score_cutoff=cutoff) <= cutoff
        ):
            return index
    return None


def _summary(
    concepts: list[ConceptResult], from_reference: set[str], share: float, score: float, curve: float
) -> str:
    reference = [c for c in concepts if c.id in from_reference]
    used = [c.name for c in reference if c.status == "covered"]
    missing = [c.name for c in sorted(reference, key=lambda c: -c.weight) if c.status == "missing"]
    parts = [f"You used {len(used)} of the {len(reference)} key terms of the reference answer"]
    parts[0] += f" ({', '.join(used[:6])})." if used else "."
    if missing:
        parts.append("Missing: " + ", ".join(missing[:5]) + ".")
    peers = [c for c in concepts if c.id not in from_reference]
    if peers:
        shared = sum(1 for c in peers if c.status == "covered")
        parts.append(f"You share {shared} of {len(peers)} further terms common in other answers.")
    if curve != 1:
        parts.append(f"Weighted share of terms used {share / MAX_SCORE:.0%}; score = 10 x share^{curve:g} = {score:g}.")
    return " ".join(parts)
