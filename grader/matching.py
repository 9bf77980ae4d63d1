"""Keyword patterns compiled from a rubric, and finding them in an analysed answer.

A pattern is a keyword with its synonyms. Each alternative is a phrase (stems in order, one extra word
tolerated between them, or the words written as one) or a proximity pattern `a ... b` (a, then b, in the
same sentence). Small typos are absorbed by mapping unknown answer stems onto the rubric's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from grader.text import Document, joined_stem, phrase_links, phrase_stems, phrase_words

MAX_GAP = 1  # extra words tolerated between the words of a phrase
MIN_TYPO_LENGTH = 7  # shorter words are never typo-corrected


@dataclass(frozen=True, slots=True)
class Phrase:
    stems: tuple[str, ...]
    joined: str | None
    words: tuple[tuple[str, str], ...] = ()  # (word, stem) of each plain word, for typo correction
    tied: tuple[bool, ...] = ()  # per stem after the first: no word may come between it and the previous one


@dataclass(frozen=True, slots=True)
class Pattern:
    """One keyword as the rubric wrote it, with every alternative that counts as it."""

    label: str
    alternatives: tuple[tuple[Phrase, ...], ...]  # each alternative: one phrase, or several for `a ... b`


@dataclass(frozen=True, slots=True)
class Hit:
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
    return Phrase(stems, joined_stem(text), tuple(words), tuple(phrase_links(text)))


def compile_pattern(keyword: str, synonyms: Iterable[str] = ()) -> Pattern:
    alternatives: list[tuple[Phrase, ...]] = []
    for text in (keyword, *synonyms):
        parts = tuple(p for p in (compile_phrase(part) for part in text.split("...")) if p is not None)
        if parts and parts not in alternatives:
            alternatives.append(parts)
    return Pattern(keyword, tuple(alternatives))


def pattern_vocabulary(patterns: Iterable[Pattern]) -> Vocabulary:
    """The words and stems a set of patterns looks for."""
    stems: set[str] = set()
    words: dict[str, str] = {}
    for pattern in patterns:
        for alternative in pattern.alternatives:
            for phrase in alternative:
                stems.update(phrase.stems)
                words.update(phrase.words)
    return Vocabulary(frozenset(stems), words)


@dataclass
class Vocabulary:
    """What a rubric looks for: stems, and its words (word -> stem) for typo correction."""

    stems: frozenset[str]
    words: dict[str, str] = field(default_factory=dict)
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
        if word in self._memo:
            return self._memo[word]
        cutoff = 2 if len(word) >= 11 else 1
        found = process.extractOne(word, self._choices, scorer=OSA.distance, score_cutoff=cutoff)
        result = self.words[found[0]] if found and found[0][0] == word[0] else None
        if len(self._memo) < 100_000:
            self._memo[word] = result
        return result


class Matcher:
    """Finds patterns in one document, with its stems corrected onto a rubric's vocabulary."""

    def __init__(self, doc: Document, vocabulary: Vocabulary) -> None:
        self.doc = doc
        self.stems = list(doc.stems)
        self.positions: dict[str, list[int]] = doc.positions
        corrected = False
        for index, (word, stem) in enumerate(zip(doc.words, doc.stems, strict=True)):
            fixed = vocabulary.correct(word, stem)
            if fixed is not None and fixed != stem:
                self.stems[index] = fixed
                corrected = True
        if corrected:
            self.positions = {}
            for index, stem in enumerate(self.stems):
                self.positions.setdefault(stem, []).append(index)

    def find(self, pattern: Pattern) -> list[Hit]:
        """Every occurrence of the pattern, at most one per sentence, in document order."""
        seen: dict[int, Hit] = {}
        for alternative in pattern.alternatives:
            size = sum(len(part.stems) for part in alternative)
            for first, last in self._find_alternative(alternative):
                sentence = self.doc.sentence_of[first]
                if sentence not in seen:
                    seen[sentence] = Hit(pattern.label, first, last, sentence, min(size, last - first + 1))
        return [seen[key] for key in sorted(seen)]

    def _find_alternative(self, parts: tuple[Phrase, ...]) -> Iterator[tuple[int, int]]:
        if len(parts) == 1:
            yield from self._find_phrase(parts[0])
            return
        for first, end in self._find_phrase(parts[0]):
            sentence = self.doc.sentence_of[first]
            cursor, ok = end, True
            for part in parts[1:]:
                later = [
                    span
                    for span in self._find_phrase(part)
                    if span[0] > cursor and self.doc.sentence_of[span[0]] == sentence
                ]
                if not later:
                    ok = False
                    break
                cursor = later[0][1]
            if ok:
                yield first, cursor

    def _find_phrase(self, phrase: Phrase) -> Iterator[tuple[int, int]]:
        stems, sentence_of, count = self.stems, self.doc.sentence_of, len(self.stems)
        for start in self.positions.get(phrase.stems[0], ()):
            cursor = start
            for wanted, tied in zip(phrase.stems[1:], phrase.tied, strict=True):
                for step in range(1, 2 if tied else MAX_GAP + 2):
                    index = cursor + step
                    if index < count and sentence_of[index] == sentence_of[start] and stems[index] == wanted:
                        cursor = index
                        break
                else:
                    break
            else:
                yield start, cursor
        if phrase.joined is not None:
            for start in self.positions.get(phrase.joined, ()):
                yield start, start
        if len(phrase.stems) == 1:
            for start in self.doc.joined.get(phrase.stems[0], ()):
                yield start, start + 1
