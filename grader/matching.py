"""Keyword patterns compiled from a rubric, and finding them in an analysed answer.

A pattern is a keyword with its synonyms. Each alternative is a phrase (stems in order, one extra word
tolerated between them, or the words written as one) or a proximity pattern `a ... b` (a, then b, in the
same sentence). Small typos are absorbed by mapping unknown answer stems onto the rubric's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from grader.text import Document, joined_stem, phrase_stems

MAX_GAP = 1  # extra words tolerated between the words of a phrase


@dataclass(frozen=True, slots=True)
class Phrase:
    stems: tuple[str, ...]
    joined: str | None


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


def compile_phrase(text: str) -> Phrase | None:
    stems = phrase_stems(text)
    if not stems:
        return None
    return Phrase(stems, joined_stem(text))


def compile_pattern(keyword: str, synonyms: Iterable[str] = ()) -> Pattern:
    alternatives: list[tuple[Phrase, ...]] = []
    for text in (keyword, *synonyms):
        parts = tuple(p for p in (compile_phrase(part) for part in text.split("...")) if p is not None)
        if parts and parts not in alternatives:
            alternatives.append(parts)
    return Pattern(keyword, tuple(alternatives))


def pattern_vocabulary(patterns: Iterable[Pattern]) -> frozenset[str]:
    return frozenset(
        stem for pattern in patterns for alt in pattern.alternatives for phrase in alt for stem in phrase.stems
    )


@dataclass
class Vocabulary:
    """The stems a rubric looks for, with a memo of typo corrections onto them."""

    stems: frozenset[str]
    _choices: list[str] = field(default_factory=list)
    _memo: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._choices = sorted(s for s in self.stems if len(s) >= 5)

    def correct(self, stem: str) -> str | None:
        """The rubric stem that `stem` is a one-letter typo of (two letters for long words), if any."""
        if stem in self.stems or len(stem) < 6 or stem.isdigit():
            return None
        if stem in self._memo:
            return self._memo[stem]
        cutoff = 2 if len(stem) >= 10 else 1
        found = process.extractOne(stem, self._choices, scorer=Levenshtein.distance, score_cutoff=cutoff)
        result = found[0] if found and found[0][0] == stem[0] and len(found[0]) >= 5 else None
        if len(self._memo) < 100_000:
            self._memo[stem] = result
        return result


class Matcher:
    """Finds patterns in one document, with its stems corrected onto a rubric's vocabulary."""

    def __init__(self, doc: Document, vocabulary: Vocabulary) -> None:
        self.doc = doc
        self.stems = list(doc.stems)
        self.positions: dict[str, list[int]] = doc.positions
        corrected = False
        for index, stem in enumerate(doc.stems):
            fixed = vocabulary.correct(stem)
            if fixed is not None:
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
            for first, last in self._find_alternative(alternative):
                sentence = self.doc.sentence_of[first]
                if sentence not in seen:
                    seen[sentence] = Hit(pattern.label, first, last, sentence)
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
                    span for span in self._find_phrase(part)
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
            for wanted in phrase.stems[1:]:
                for step in range(1, MAX_GAP + 2):
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
