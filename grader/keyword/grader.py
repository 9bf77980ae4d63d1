"""The keyword grader: deterministic, offline, explains every verdict with a sentence of the answer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from grader import disk_cache
from grader.feedback import grade_from_verdicts
from grader.flags import KEYWORD_STUFFING, PROMPT_INJECTION
from grader.keyword.injection import detect_injection
from grader.keyword.lexicon import DISCLAIMER, NEGATIONS, phrase_words
from grader.keyword.matcher import Hit, Matcher
from grader.keyword.patterns import PatternIndex, compile_pattern, index_patterns
from grader.keyword.statements import (
    TEMPLATE_MIN_SENTENCES,
    figure_hits,
    is_negated,
    narrative_share,
    negators,
    templated,
    words_in,
)
from grader.keyword.text import CODE, Document, analyse
from grader.keyword.vocabulary import Vocabulary, pattern_vocabulary
from grader.memo import PerRubric
from grader.models import Concept, ConceptResult, Grade, MisconceptionResult, Rubric, Status

NEGATION_WINDOW = 5  # words before a misconception's match that can negate it
STUFFED_LIST_SHARE = 0.5  # share of words in list-like fragments that makes an answer a keyword list
STUFFED_DENSITY = 0.7  # share of words that are matched keywords that makes an answer a keyword dump
LONG_ANSWER_WORDS = 150  # from this length, a concept's one keyword of one word, said once, is a passing mention


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


@dataclass(frozen=True, slots=True)
class _Matches:
    """What an answer's keywords matched: each concept's hits (its keywords' hits by sentence, negated ones left
    out), the tokens hit in each sentence, and the sentences stamped from one template."""

    doc: Document
    found: dict[int, dict[int, Hit]]  # pattern -> sentence -> hit
    by_concept: list[list[dict[int, Hit]]]
    hit_tokens: dict[int, set[int]]
    stamped: set[int]

    def flags(self) -> list[str]:
        return _flags(self.doc, sum(len(hits) for hits in self.by_concept), self.hit_tokens, self.stamped)


def grade_by_keywords(rubric: Rubric, answer: str) -> Grade:
    """Grade `answer` against `rubric` by matching concept and misconception keywords."""
    compiled = compile_rubric(rubric)
    matches = _match(compiled, answer)
    doc, by_concept = matches.doc, matches.by_concept
    stamped = matches.stamped
    list_like = [sentence.list_like or number in stamped for number, sentence in enumerate(doc.sentences)]
    concepts: list[ConceptResult] = []
    for concept, hits in zip(rubric.concepts, by_concept, strict=True):
        if not hits:
            concepts.append(ConceptResult(id=concept.id, name=concept.name, weight=concept.weight, status="missing"))
            continue
        best = [_best_hit(per_sentence, list_like) for per_sentence in hits]
        once = len(hits) == 1 and len(hits[0]) == 1
        concepts.append(_concept_verdict(concept, best, doc, list_like, once))
    misconceptions = _find_misconceptions(rubric, compiled.misconceptions, matches.found, doc)
    relevance = _relevance(doc, matches.hit_tokens)
    if rubric.story:
        relevance = min(relevance, round(narrative_share(doc), 2))
    return grade_from_verdicts(rubric, "keyword", concepts, misconceptions, matches.flags(), relevance=relevance)


def answer_flags(rubric: Rubric, answer: str) -> list[str]:
    """The flags `grade_by_keywords(rubric, answer)` gives, without grading: the matching they come from, not the
    verdicts, misconceptions and feedback (what a model's grade needs of the keyword grader when it needs no more)."""
    return _match(compile_rubric(rubric), answer).flags()


def _match(compiled: CompiledRubric, answer: str) -> _Matches:
    doc = analyse(answer)
    found = Matcher(doc, compiled.vocabulary).find(compiled.index)
    negations = negators(doc)
    by_concept = [_concept_hits(found, group, doc, negations) for group in compiled.concepts]
    figures: list[Hit] | None = None
    for index, concept in enumerate(compiled.rubric.concepts):
        if concept.figures:
            figures = figure_hits(doc) if figures is None else figures
            if figures:  # all the figures together are one more keyword of the concept
                by_concept[index].append({hit.sentence: hit for hit in figures})
    hit_tokens: dict[int, set[int]] = {}
    for hits in by_concept:
        for per_sentence in hits:
            for hit in per_sentence.values():
                hit_tokens.setdefault(hit.sentence, set()).update(range(hit.first, hit.first + hit.size))
    stamped = templated(doc, hit_tokens) if len(hit_tokens) >= TEMPLATE_MIN_SENTENCES else set()
    return _Matches(doc, found, by_concept, hit_tokens, stamped)


def _relevance(doc: Document, hit_tokens: dict[int, set[int]]) -> float:
    """The share of the answer's words (code aside, unless it is all code) in sentences with a concept's keyword,
    rounded to 0.01."""
    text = [n for n, sentence in enumerate(doc.sentences) if sentence.kind != CODE] or range(len(doc.sentences))
    total = words_in(doc, text)
    if not total:
        return 0.0
    return round(words_in(doc, [n for n in text if n in hit_tokens]) / total, 2)


def _concept_hits(
    found: dict[int, dict[int, Hit]], group: slice, doc: Document, negations: list[int]
) -> list[dict[int, Hit]]:
    """For each keyword of a concept that is here: its hits by sentence, those in negated statements left out."""
    hits = []
    for number in range(group.start, group.stop):
        per_sentence = found.get(number)
        if per_sentence is None:
            continue
        if negations:
            per_sentence = {s: hit for s, hit in per_sentence.items() if not is_negated(hit, doc, negations)}
            if not per_sentence:
                continue
        hits.append(per_sentence)
    return hits


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


def _concept_verdict(
    concept: Concept, hits: list[Hit], doc: Document, list_like: list[bool], once: bool = False
) -> ConceptResult:
    """`hits`: the best hit of each keyword found; `once`: one keyword, in one sentence."""
    if once and hits[0].size == 1 and doc.word_count >= LONG_ANSWER_WORDS:
        # one word, once, in a long answer: a passing mention, not an explanation of the concept
        return ConceptResult(
            id=concept.id, name=concept.name, weight=concept.weight, status="missing", matched=[hits[0].label],
            reason=f"only mentioned in passing ('{hits[0].label}')",
        )
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


def _flags(doc: Document, distinct_hits: int, hit_tokens: dict[int, set[int]], stamped: set[int]) -> list[str]:
    """`distinct_hits`: how many keywords the concepts matched, all told; `hit_tokens`: sentence -> the tokens of
    its keywords; `stamped`: the sentences stamped from one template.

    keyword_stuffing: most of the text (code aside) is bare lists of terms or sentences stamped from one template,
    with at least 3 keywords; or most of all the words, code included, are keywords."""
    flags: list[str] = []
    words = doc.word_count
    if words:
        text_words = listed = 0
        for number, sentence in enumerate(doc.sentences):
            if sentence.kind == CODE:
                continue
            size = sentence.last_token - sentence.first_token
            text_words += size
            if sentence.list_like or number in stamped:
                listed += size
        matched = sum(len(tokens) for tokens in hit_tokens.values())
        if (text_words and listed / text_words >= STUFFED_LIST_SHARE and distinct_hits >= 3) or (
            words >= 6 and matched / words >= STUFFED_DENSITY
        ):
            flags.append(KEYWORD_STUFFING)
    if detect_injection(doc.text, doc.words):
        flags.append(PROMPT_INJECTION)
    return flags
