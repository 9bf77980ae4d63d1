"""What a rubric looks for, as the matcher needs it: stems, words for typo correction, one-word keywords.

Small typos are absorbed by mapping unknown answer words onto the rubric's vocabulary (`Vocabulary.correct`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from grader.keyword.patterns import Pattern

MIN_TYPO_LENGTH = 7  # shorter words are never typo-corrected


def pattern_vocabulary(patterns: Iterable[Pattern]) -> Vocabulary:
    """The words and stems a set of patterns looks for."""
    stems: set[str] = set()
    joined: set[str] = set()
    words: dict[str, str] = {}
    singles: dict[str, str] = {}
    for pattern in patterns:
        for alternative in pattern.alternatives:
            for phrase in alternative.parts:
                stems.update(phrase.stems)
                if phrase.joined is not None:
                    joined.add(phrase.joined)
                words.update(phrase.words)
                if len(phrase.stems) == 1 and len(phrase.words) == 1:
                    singles[phrase.stems[0]] = phrase.stems[0]
                    singles[phrase.words[0][0]] = phrase.stems[0]
    return Vocabulary(frozenset(stems), frozenset(stems | joined), words, singles)


@dataclass
class Vocabulary:
    """What a rubric looks for: stems; its words (word -> stem) for typo correction; one-word keywords
    (by word and by stem) for answers that write them as two words (`roll back` for `rollback`); and every stem
    the matcher looks an answer's tokens up by (`findable`: the stems, and the words of a phrase written as one)."""

    stems: frozenset[str]
    findable: frozenset[str]
    words: dict[str, str] = field(default_factory=dict)
    singles: dict[str, str] = field(default_factory=dict)
    _choices: list[str] = field(default_factory=list)
    _memo: dict[str, str | None] = field(default_factory=dict)
    _settled: set[str] = field(default_factory=set)  # answer words that typo correction never changes
    _by_length: dict[tuple[int, str | None], list[str]] = field(default_factory=dict)  # see _shortlist
    _by_letter: dict[str, list[str]] = field(default_factory=dict)  # first letter -> the choices, in order
    _splits: frozenset[tuple[str, str]] | None = None

    def __post_init__(self) -> None:
        self._choices = sorted(w for w in self.words if len(w) >= MIN_TYPO_LENGTH - 1)

    def correct(self, word: str, stem: str) -> str | None:
        """The stem of the rubric word that `word` is a typo of, if any.

        One edit (a transposition counts as one) in words of 7+ letters, two in words of 11+ when the
        lengths differ by at most one; the first letter must agree. Shorter words are never corrected: too
        many real words are one letter apart.
        """
        if stem in self.stems or len(word) < MIN_TYPO_LENGTH or not word.isalpha():
            return None
        memo = self._memo
        if word in memo:
            return memo[word]
        cutoff = 2 if len(word) >= 11 else 1
        result = None
        # Only words whose length is within one can be close enough (and two edits only between words of about the
        # same length: "integration" is no typo of "iteration"). The words of the same first letter are searched
        # first: without one near enough, the nearest word starts with another letter and is refused anyway.
        if process.extractOne(word, self._shortlist(len(word), word[0]), scorer=OSA.distance, score_cutoff=cutoff):
            # extractOne keeps the first of equals, and the shortlist keeps the (alphabetical) order of the choices
            found = process.extractOne(word, self._shortlist(len(word)), scorer=OSA.distance, score_cutoff=cutoff)
            result = self.words[found[0]] if found and found[0][0] == word[0] else None
        if len(memo) < 100_000:
            memo[word] = result
        return result

    def _shortlist(self, length: int, letter: str | None = None) -> list[str]:
        """The choices of a length within one of `length` (and starting with `letter`), in order."""
        key = (length, letter)
        found = self._by_length.get(key)
        if found is None:
            if not self._by_letter:
                for choice in self._choices:
                    self._by_letter.setdefault(choice[0], []).append(choice)
            pool = self._choices if letter is None else self._by_letter.get(letter, [])
            found = self._by_length[key] = [choice for choice in pool if abs(len(choice) - length) <= 1]
        return found

    @property
    def splits(self) -> frozenset[tuple[str, str]]:
        """Every way to cut a one-word keyword in two (`roll`, `back`), empty halves included."""
        if self._splits is None:
            self._splits = frozenset((key[:cut], key[cut:]) for key in self.singles for cut in range(len(key) + 1))
        return self._splits
