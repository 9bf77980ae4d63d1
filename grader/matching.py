"""Keyword patterns compiled from a rubric, and finding them in an analysed answer.

A pattern is a keyword with its synonyms. Each alternative is a phrase (stems in order, one extra word
tolerated between them, or the words written as one) or a proximity pattern `a ... b` (a, then b, in the
same sentence). Small typos are absorbed by mapping unknown answer stems onto the rubric's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from grader.text import Document, joined_stem, phrase_links, phrase_stems, phrase_words

MAX_GAP = 1  # extra words tolerated between the words of a phrase
MIN_TYPO_LENGTH = 7  # shorter words are never typo-corrected
_LOOSE_STEPS = tuple(range(1, MAX_GAP + 2))


@dataclass(frozen=True, slots=True)
class Phrase:
    stems: tuple[str, ...]
    joined: str | None
    words: tuple[tuple[str, str], ...] = ()  # (word, stem) of each plain word, for typo correction
    tied: tuple[bool, ...] = ()  # per stem after the first: no word may come between it and the previous one
    firsts: tuple[str, ...] = ()  # the stems an occurrence can start with: the first word, or the words as one
    rest: tuple[tuple[str, tuple[int, ...]], ...] = ()  # each later stem with the steps it may be found at


@dataclass(frozen=True, slots=True)
class Alternative:
    parts: tuple[Phrase, ...]  # one phrase, or several for `a ... b`
    size: int  # how many answer words the alternative accounts for
    needed: frozenset[str]  # every stem of every part: if one is absent, only a joined form can match
    joins: frozenset[str]  # the parts' stems written as one word, if any


@dataclass(frozen=True, slots=True)
class Pattern:
    """One keyword as the rubric wrote it, with every alternative that counts as it."""

    label: str
    alternatives: tuple[Alternative, ...]
    firsts: frozenset[str]  # every stem an occurrence can start with: a quick "cannot be here" test


class Hit(NamedTuple):
    label: str
    first: int  # token indexes, inclusive
    last: int
    sentence: int
    size: int = 1  # how many of the answer's words the keyword itself accounts for


def compile_phrase(text: str) -> Phrase | None:
    stems = phrase_stems(text)
    if not stems:
        return None
    words = []
    for word in phrase_words(text):
        word_stems = phrase_stems(word)
        if len(word_stems) == 1:  # abbreviations that expand to several words are not typo targets
            words.append((word, word_stems[0]))
    joined = joined_stem(text)
    tied = tuple(phrase_links(text))
    rest = tuple((stem, (1,) if tie else _LOOSE_STEPS) for stem, tie in zip(stems[1:], tied, strict=True))
    firsts = (stems[0], joined) if joined else (stems[0],)
    return Phrase(stems, joined, tuple(words), tied, firsts, rest)


def compile_pattern(keyword: str, synonyms: Iterable[str] = ()) -> Pattern:
    alternatives: list[Alternative] = []
    for text in (keyword, *synonyms):
        parts = tuple(p for p in (compile_phrase(part) for part in text.split("...")) if p is not None)
        if parts and all(parts != a.parts for a in alternatives):
            needed = frozenset(stem for part in parts for stem in part.stems)
            joins = frozenset(part.joined for part in parts if part.joined)
            alternatives.append(Alternative(parts, sum(len(p.stems) for p in parts), needed, joins))
    firsts = frozenset(first for a in alternatives for first in a.parts[0].firsts)
    return Pattern(keyword, tuple(alternatives), firsts)


@dataclass(frozen=True)
class PatternIndex:
    """Patterns indexed by one key word per alternative (its longest stem, a rare word in most answers), and
    by its joined forms, so that an answer only pays for the alternatives it could match."""

    patterns: tuple[Pattern, ...]
    by_key: dict[str, list[tuple[int, int]]]


def index_patterns(patterns: Iterable[Pattern]) -> PatternIndex:
    listed = tuple(patterns)
    by_key: dict[str, list[tuple[int, int]]] = {}
    for pattern_no, pattern in enumerate(listed):
        for alternative_no, alternative in enumerate(pattern.alternatives):
            key = max(sorted(alternative.needed), key=len)
            for stem in {key, *alternative.joins}:
                by_key.setdefault(stem, []).append((pattern_no, alternative_no))
    return PatternIndex(listed, by_key)


def pattern_vocabulary(patterns: Iterable[Pattern]) -> Vocabulary:
    """The words and stems a set of patterns looks for."""
    stems: set[str] = set()
    words: dict[str, str] = {}
    singles: dict[str, str] = {}
    for pattern in patterns:
        for alternative in pattern.alternatives:
            for phrase in alternative.parts:
                stems.update(phrase.stems)
                words.update(phrase.words)
                if len(phrase.stems) == 1 and len(phrase.words) == 1:
                    singles[phrase.stems[0]] = phrase.stems[0]
                    singles[phrase.words[0][0]] = phrase.stems[0]
    return Vocabulary(frozenset(stems), words, singles)


@dataclass
class Vocabulary:
    """What a rubric looks for: stems; its words (word -> stem) for typo correction; one-word keywords
    (by word and by stem) for answers that write them as two words (`roll back` for `rollback`)."""

    stems: frozenset[str]
    words: dict[str, str] = field(default_factory=dict)
    singles: dict[str, str] = field(default_factory=dict)
    _choices: list[str] = field(default_factory=list)
    _memo: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._choices = sorted(w for w in self.words if len(w) >= MIN_TYPO_LENGTH - 1)

    def correct(self, word: str, stem: str) -> str | None:
        """The stem of the rubric word that `word` is a typo of, if any.

        One edit (a transposition counts as one) in words of 7+ letters, two in words of 11+; the first letter
        must agree. Shorter words are never corrected: too many real words are one letter apart.
        """
        if stem in self.stems or len(word) < MIN_TYPO_LENGTH or not word.isalpha():
            return None
        memo = self._memo
        if word in memo:
            return memo[word]
        cutoff = 2 if len(word) >= 11 else 1
        found = process.extractOne(word, self._choices, scorer=OSA.distance, score_cutoff=cutoff)
        result = self.words[found[0]] if found and found[0][0] == word[0] else None
        if len(memo) < 100_000:
            memo[word] = result
        return result


class Matcher:
    """Finds patterns in one document, with its stems corrected onto a rubric's vocabulary."""

    def __init__(self, doc: Document, vocabulary: Vocabulary) -> None:
        self.doc = doc
        self.sentence_of = doc.sentence_of
        stems = self.stems = list(doc.stems)
        self.positions: dict[str, list[int]] = doc.positions
        words = doc.words
        corrected = False
        correct = vocabulary.correct
        for index, word in enumerate(words):
            if len(word) >= MIN_TYPO_LENGTH:
                fixed = correct(word, stems[index])
                if fixed is not None and fixed != stems[index]:
                    stems[index] = fixed
                    corrected = True
        if corrected:
            self.positions = {}
            for index, stem in enumerate(stems):
                self.positions.setdefault(stem, []).append(index)
        # One-word keywords written as two words: "roll back", "rolled back" for `rollback`.
        self.joined: dict[str, list[int]] = {}
        singles, sentence_of = vocabulary.singles, self.sentence_of
        for index in range(len(stems) - 1):
            found = singles.get(stems[index] + stems[index + 1]) or singles.get(words[index] + words[index + 1])
            if found is not None and sentence_of[index] == sentence_of[index + 1]:
                self.joined.setdefault(found, []).append(index)
        self.present = set(self.positions)
        self.present.update(self.joined)

    def find(self, pattern: Pattern) -> list[Hit]:
        """Every occurrence of the pattern, at most one per sentence, in document order."""
        present = self.present
        if pattern.firsts.isdisjoint(present):
            return []
        seen: dict[int, Hit] = {}
        for alternative in pattern.alternatives:
            if alternative.needed <= present or not alternative.joins.isdisjoint(present):
                self._collect(pattern.label, alternative, seen)
        return [seen[key] for key in sorted(seen)]

    def find_all(self, index: PatternIndex) -> list[list[Hit]]:
        """`find` for every pattern of an index at once, looking only at alternatives whose key word is here."""
        present = self.present
        candidates = sorted(
            entry for key in present.intersection(index.by_key) for entry in index.by_key[key]
        )
        found: list[dict[int, Hit]] = [{} for _ in index.patterns]
        previous = None
        for pattern_no, alternative_no in candidates:
            if (pattern_no, alternative_no) == previous:
                continue  # registered under two keys that are both here
            previous = pattern_no, alternative_no
            pattern = index.patterns[pattern_no]
            alternative = pattern.alternatives[alternative_no]
            if alternative.needed <= present or not alternative.joins.isdisjoint(present):
                self._collect(pattern.label, alternative, found[pattern_no])
        return [[seen[key] for key in sorted(seen)] if seen else [] for seen in found]

    def _collect(self, label: str, alternative: Alternative, seen: dict[int, Hit]) -> None:
        parts = alternative.parts
        sentence_of = self.sentence_of
        if len(parts) == 1 and len(parts[0].stems) == 1 and parts[0].stems[0] not in self.joined:
            for index in self.positions.get(parts[0].stems[0], ()):  # the common case: one word
                sentence = sentence_of[index]
                if sentence not in seen:
                    seen[sentence] = Hit(label, index, index, sentence, 1)
            return
        spans = self._proximity_spans(parts) if len(parts) > 1 else self._phrase_spans(parts[0])
        for first, last in spans:
            sentence = sentence_of[first]
            if sentence not in seen:
                seen[sentence] = Hit(label, first, last, sentence, min(alternative.size, last - first + 1))

    def _proximity_spans(self, parts: tuple[Phrase, ...]) -> list[tuple[int, int]]:
        sentence_of = self.sentence_of
        spans = []
        later_spans = [self._phrase_spans(part) for part in parts[1:]]
        for first, end in self._phrase_spans(parts[0]):
            sentence = sentence_of[first]
            cursor = end
            for candidates in later_spans:
                cursor = next((s[1] for s in candidates if s[0] > cursor and sentence_of[s[0]] == sentence), -1)
                if cursor < 0:
                    break
            if cursor >= 0:
                spans.append((first, cursor))
        return spans

    def _phrase_spans(self, phrase: Phrase) -> list[tuple[int, int]]:
        stems, sentence_of, count = self.stems, self.sentence_of, len(self.stems)
        spans = []
        rest = phrase.rest
        for start in self.positions.get(phrase.stems[0], ()):
            cursor = start
            sentence = sentence_of[start]
            for wanted, steps in rest:
                for step in steps:
                    index = cursor + step
                    if index < count and stems[index] == wanted and sentence_of[index] == sentence:
                        cursor = index
                        break
                else:
                    break
            else:
                spans.append((start, cursor))
        if phrase.joined is not None:
            spans.extend((start, start) for start in self.positions.get(phrase.joined, ()))
        if len(phrase.stems) == 1:
            spans.extend((start, start + 1) for start in self.joined.get(phrase.stems[0], ()))
        return spans

