"""The keyword grader: deterministic, offline, explains every verdict with a sentence of the answer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from grader import disk_cache
from grader.feedback import plan_study, summarise
from grader.flags import KEYWORD_STUFFING, PROMPT_INJECTION
from grader.keyword.injection import detect_injection
from grader.keyword.matcher import Hit, Matcher
from grader.keyword.patterns import PatternIndex, compile_pattern, index_patterns
from grader.keyword.text import DISCLAIMER, NEGATIONS, Document, analyse, phrase_words
from grader.keyword.vocabulary import Vocabulary, pattern_vocabulary
from grader.memo import PerRubric
from grader.models import Concept, ConceptResult, Grade, MisconceptionResult, Rubric, Status
from grader.scoring import band_for, compute_score

NEGATION_WINDOW = 5  # words before a misconception's match that can negate it
STUFFED_LIST_SHARE = 0.5  # share of words in list-like fragments that makes an answer a keyword list
STUFFED_DENSITY = 0.7  # share of words that are matched keywords that makes an answer a keyword dump


@dataclass(frozen=True)
class CompiledRubric:
    """A rubric's patterns in one index: concepts' first, then misconceptions', each group a slice of it."""

    rubric: Rubric
    index: PatternIndex
    concepts: tuple[slice, ...]
    misconceptions: tuple[slice, ...]
    vocabulary: Vocabulary


_COMPILED: PerRubric[CompiledRubric] = PerRubric()


def compile_rubric(rubric: Rubric) -> CompiledRubric:
    """Patterns for every keyword of the rubric, memoised per rubric object (and on disk, by content)."""
    return _COMPILED.get(rubric, _compile)


def _compile(rubric: Rubric) -> CompiledRubric:
    key = disk_cache.content_key("compiled", rubric.model_dump_json())
    stored = disk_cache.load(key)
    if isinstance(stored, CompiledRubric) and stored.rubric == rubric:
        return replace(stored, rubric=rubric)
    groups = [[compile_pattern(k, c.synonyms.get(k, ())) for k in c.keywords] for c in rubric.concepts]
    groups += [[compile_pattern(k) for k in m.keywords] for m in rubric.misconceptions]
    every = [pattern for group in groups for pattern in group]
    slices, start = [], 0
    for group in groups:
        slices.append(slice(start, start + len(group)))
        start += len(group)
    split = len(rubric.concepts)
    compiled = CompiledRubric(
        rubric, index_patterns(every), tuple(slices[:split]), tuple(slices[split:]), pattern_vocabulary(every)
    )
    disk_cache.store(key, compiled)
    return compiled


def grade_by_keywords(rubric: Rubric, answer: str) -> Grade:
    """Grade `answer` against `rubric` by matching concept and misconception keywords."""
    compiled = compile_rubric(rubric)
    doc = analyse(answer)
    found = Matcher(doc, compiled.vocabulary).find(compiled.index)  # pattern -> sentence -> hit
    list_like = [sentence.list_like for sentence in doc.sentences]
    concepts: list[ConceptResult] = []
    matched_tokens: set[int] = set()
    distinct_hits = 0
    for concept, group in zip(rubric.concepts, compiled.concepts, strict=True):
        hits = [_best_hit(found[number], list_like) for number in range(group.start, group.stop) if number in found]
        if not hits:
            concepts.append(ConceptResult(id=concept.id, name=concept.name, weight=concept.weight, status="missing"))
            continue
        for hit in hits:
            if hit.size == 1:
                matched_tokens.add(hit.first)
            else:
                matched_tokens.update(range(hit.first, hit.first + hit.size))
        distinct_hits += len(hits)
        concepts.append(_concept_verdict(concept, hits, doc, list_like))
    misconceptions = _find_misconceptions(rubric, compiled.misconceptions, found, doc)
    flags = _flags(answer, doc, distinct_hits, matched_tokens)
    score = compute_score(concepts, misconceptions, flags)
    return Grade(
        question_id=rubric.question_id,
        score=score,
        band=band_for(score),
        method="keyword",
        concepts=concepts,
        misconceptions=misconceptions,
        flags=flags,
        feedback=summarise(concepts, misconceptions, flags),
        study_next=plan_study(concepts, rubric),
        rubric_version=rubric.version,
    )


def _best_hit(hits: dict[int, Hit], list_like: list[bool]) -> Hit:
    """The first hit in an explanatory sentence, else the first hit in a list-like fragment (`hits`, by
    sentence, not empty)."""
    if len(hits) == 1:
        for hit in hits.values():
            return hit
    in_order = sorted(hits)
    for sentence in in_order:
        if not list_like[sentence]:
            return hits[sentence]
    return hits[in_order[0]]


def _concept_verdict(concept: Concept, hits: list[Hit], doc: Document, list_like: list[bool]) -> ConceptResult:
    needed = min(concept.min_hits, len(concept.keywords))
    prose = [h for h in hits if not list_like[h.sentence]]
    status: Status
    if len(prose) >= needed:
        status = "covered"
    elif hits:
        status = "partial"
    else:
        status = "missing"
    evidence = None
    if hits:
        pool = prose or hits
        if len(pool) == 1:
            best = pool[0]
        else:
            counts: dict[int, int] = {}
            for hit in pool:
                counts[hit.sentence] = counts.get(hit.sentence, 0) + 1
            best = max(pool, key=lambda h: (counts[h.sentence], -h.sentence))
        evidence = doc.sentence_text(best.sentence, tokens=(best.first, best.last))
    return ConceptResult(
        id=concept.id,
        name=concept.name,
        weight=concept.weight,
        status=status,
        evidence=evidence,
        matched=[h.label for h in hits],
    )


def _find_misconceptions(
    rubric: Rubric, groups: tuple[slice, ...], found: dict[int, dict[int, Hit]], doc: Document
) -> list[MisconceptionResult]:
    """Each misconception stated (and not negated), with the sentence that states it."""
    result: list[MisconceptionResult] = []
    for misconception, group in zip(rubric.misconceptions, groups, strict=True):
        for number in range(group.start, group.stop):
            pattern_hits = found.get(number)
            if not pattern_hits:
                continue
            hit = next((pattern_hits[s] for s in sorted(pattern_hits) if not _negated(pattern_hits[s], doc)), None)
            if hit is not None:
                result.append(
                    MisconceptionResult(
                        id=misconception.id,
                        description=misconception.description,
                        penalty=misconception.penalty,
                        evidence=doc.sentence_text(hit.sentence),
                        correction=misconception.correction,
                    )
                )
                break
    return result


def _negated(hit: Hit, doc: Document) -> bool:
    """Negated or disowned: a negation shortly before or inside the match (not part of the keyword itself),
    or a sentence that calls the claim a myth, wrong, incorrect, a mistake."""
    sentence = doc.sentences[hit.sentence]
    own = _label_words(hit.label)
    start = max(sentence.first_token, hit.first - NEGATION_WINDOW)
    if any(doc.words[i] in NEGATIONS and doc.words[i] not in own for i in range(start, hit.last + 1)):
        return True
    return DISCLAIMER.search(doc.text, sentence.start, sentence.end) is not None


@lru_cache(maxsize=4096)
def _label_words(label: str) -> frozenset[str]:
    return frozenset(phrase_words(label))


def _flags(answer: str, doc: Document, distinct_hits: int, matched: set[int]) -> list[str]:
    """`distinct_hits`: how many keywords the concepts matched, all told."""
    flags: list[str] = []
    words = doc.word_count
    if words:
        listed = sum([s.last_token - s.first_token for s in doc.sentences if s.list_like])
        if (listed / words >= STUFFED_LIST_SHARE and distinct_hits >= 3) or (
            words >= 6 and len(matched) / words >= STUFFED_DENSITY
        ):
            flags.append(KEYWORD_STUFFING)
    if detect_injection(answer, set(doc.words)):
        flags.append(PROMPT_INJECTION)
    return flags
