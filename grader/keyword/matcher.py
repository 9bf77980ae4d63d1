"""Keyword patterns compiled from a rubric, and finding them in an analysed answer.

A pattern is a keyword with its synonyms. Each alternative is a phrase (stems in order, one extra word
tolerated between them, or the words written as one) or a proximity pattern `a ... b` (a, then b, in the
same sentence). Small typos are absorbed by mapping unknown answer stems onto the rubric's vocabulary.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, compress, count, islice
from typing import NamedTuple, TypeVar

from rapidfuzz import process
from rapidfuzz.distance import OSA

from grader.keyword.text import Document, read_phrase, stem

MAX_GAP = 1  # extra words tolerated between the words of a phrase
MIN_TYPO_LENGTH = 7  # shorter words are never typo-corrected
_LOOSE_STEPS = tuple(range(1, MAX_GAP + 2))
_Key = TypeVar("_Key")
_new_hit = tuple.__new__  # Hit(...) without the Python-level __new__ of a NamedTuple


# Phrase, Alternative and Pattern are NamedTuples: compiled rubrics are unpickled from the start-up cache, a rubric
# holds about 1,300 of them, and a frozen dataclass unpickles through Python-level __setstate__ (6.2 ms a rubric
# instead of 4.4 ms).
class Phrase(NamedTuple):
    stems: tuple[str, ...]
    joined: str | None
    words: tuple[tuple[str, str], ...] = ()  # (word, stem) of each plain word, for typo correction
    tied: tuple[bool, ...] = ()  # per stem after the first: no word may come between it and the previous one
    firsts: tuple[str, ...] = ()  # the stems an occurrence can start with: the first word, or the words as one
    rest: tuple[tuple[str, tuple[int, ...]], ...] = ()  # each later stem with the steps it may be found at


class Alternative(NamedTuple):
    parts: tuple[Phrase, ...]  # one phrase, or several for `a ... b`
    size: int  # how many answer words the alternative accounts for
    needed: frozenset[str]  # every stem of every part: if one is absent, only a joined form can match
    joins: frozenset[str]  # the parts' stems written as one word, if any


class Pattern(NamedTuple):
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


@lru_cache(maxsize=1 << 13)
def compile_phrase(text: str) -> Phrase | None:
    """A phrase's stems and how they may be found (memoised: rubrics repeat phrases, and phrases are frozen)."""
    stems, words, links, word_stems = read_phrase(text)
    if not stems:
        return None
    # abbreviations that expand to several words are not typo targets
    plain = tuple((word, parts[0]) for word, parts in zip(words, word_stems, strict=True) if len(parts) == 1)
    # the words written as one (`roll back` -> `rollback`), as grader.keyword.text.joined_stem
    joined = stem("".join(words)) if 2 <= len(words) <= 3 and not any("'" in word for word in words) else None
    tied = tuple(links)
    rest = tuple((wanted, (1,) if tie else _LOOSE_STEPS) for wanted, tie in zip(stems[1:], tied, strict=True))
    firsts = (stems[0], joined) if joined else (stems[0],)
    return Phrase(stems, joined, plain, tied, firsts, rest)


def compile_pattern(keyword: str, synonyms: Iterable[str] = ()) -> Pattern:
    alternatives: list[Alternative] = []
    seen: set[tuple[Phrase, ...]] = set()
    for text in (keyword, *synonyms):
        parts = tuple(p for p in map(compile_phrase, text.split("...")) if p is not None)
        if parts and parts not in seen:
            seen.add(parts)
            needed = frozenset(stem for part in parts for stem in part.stems)
            joins = frozenset(part.joined for part in parts if part.joined)
            alternatives.append(Alternative(parts, sum(len(p.stems) for p in parts), needed, joins))
    firsts = frozenset(first for a in alternatives for first in a.parts[0].firsts)
    return Pattern(keyword, tuple(alternatives), firsts)


# Kinds of alternative in a PatternIndex: one word; a phrase; `a ... b` with one word a part; other `a ... b`.
ONE_WORD, PHRASE, WORDS_APART, PROXIMITY = 0, 1, 2, 3


# An entry of a PatternIndex: one alternative of a pattern, with what matching it needs at hand:
# (pattern number, label, alternative, kind, first stem of its first part, words of its first part as one,
#  size, WORDS_APART: stems of the later parts, PHRASE: (its first two stems, may a word come between them,
#  its later stems with the steps they may be found at)).
_Entry = tuple[
    int, str, Alternative, int, str, str | None, int, tuple[str, ...], tuple[str, str] | None, bool,
    tuple[tuple[str, tuple[int, ...]], ...],
]


class PatternIndex:
    """Patterns' alternatives (`entries`, numbered in pattern then alternative order) indexed by what must be in
    an answer for them to occur, so that an answer only pays for the alternatives it could match:

    - `by_stem`: a one-word alternative by its stem; any alternative by its words written as one (`rollback`);
      `a ... b` of one word each by its longest stem (a rare word in most answers);
    - `by_near`: a phrase (or the first phrase of several words of an `a ... b`) by its first two stems as
      neighbours; `by_gap`: one whose first two stems may have a word between them, for those stems 2 to
      MAX_GAP + 1 places apart.
    """

    __slots__ = ("by_gap", "by_near", "by_stem", "entries", "patterns")

    def __init__(
        self,
        patterns: tuple[Pattern, ...],
        entries: tuple[_Entry, ...],
        by_stem: dict[str, tuple[int, ...]],
        by_near: dict[tuple[str, str], tuple[int, ...]],
        by_gap: dict[tuple[str, str], tuple[int, ...]],
    ) -> None:
        self.patterns = patterns
        self.entries = entries
        self.by_stem = by_stem
        self.by_near = by_near
        self.by_gap = by_gap


def index_patterns(patterns: Iterable[Pattern]) -> PatternIndex:
    listed = tuple(patterns)
    entries: list[_Entry] = []
    by_stem: dict[str, list[int]] = {}
    by_near: dict[tuple[str, str], list[int]] = {}
    by_gap: dict[tuple[str, str], list[int]] = {}
    for pattern_no, pattern in enumerate(listed):
        for alternative in pattern.alternatives:
            entry = len(entries)
            parts = alternative.parts
            phrase = parts[0]
            if len(parts) == 1:
                kind = ONE_WORD if len(phrase.stems) == 1 else PHRASE
            elif all(len(part.stems) == 1 and part.joined is None for part in parts):
                kind = WORDS_APART
            else:
                kind = PROXIMITY
            later = tuple(part.stems[0] for part in parts[1:]) if kind == WORDS_APART else ()
            pair = (phrase.stems[0], phrase.stems[1]) if kind == PHRASE else None
            loose = bool(phrase.tied) and not phrase.tied[0]
            entries.append(
                (pattern_no, pattern.label, alternative, kind, phrase.stems[0], phrase.joined, alternative.size,
                 later, pair, loose, phrase.rest[1:])
            )
            if kind == ONE_WORD:
                keys = {phrase.stems[0], *alternative.joins}
            elif kind == WORDS_APART:
                keys = {max(sorted(alternative.needed), key=len)}
            else:  # by the first two stems of its (first) phrase of several words, or those words as one
                phrase = next(part for part in parts if len(part.stems) > 1)
                keys = {phrase.joined} if phrase.joined else set()
                by_near.setdefault(phrase.stems[:2], []).append(entry)  # type: ignore[arg-type]
                if not phrase.tied[0]:
                    by_gap.setdefault(phrase.stems[:2], []).append(entry)  # type: ignore[arg-type]
            for key in keys:
                by_stem.setdefault(key, []).append(entry)
    return PatternIndex(listed, tuple(entries), _frozen(by_stem), _frozen(by_near), _frozen(by_gap))


def _frozen(index: dict[_Key, list[int]]) -> dict[_Key, tuple[int, ...]]:
    return {key: tuple(dict.fromkeys(found)) for key, found in index.items()}


def _neighbours(tokens: list[str], step: int) -> Iterator[tuple[str, str]]:
    """(tokens[i], tokens[i + step]) for every i."""
    return zip(tokens, islice(tokens, step, None), strict=False)


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


class Matcher:
    """Finds patterns in one document, with its stems corrected onto a rubric's vocabulary."""

    def __init__(self, doc: Document, vocabulary: Vocabulary) -> None:
        self.doc = doc
        self.sentence_of = doc.sentence_of
        words = doc.words
        stems = self.stems = doc.stems  # the document's own, until a typo is corrected (copy on write)
        self.positions: dict[str, list[int]] = doc.positions
        if not vocabulary._settled.issuperset(words):
            stems = self.stems = self._correct(set(words).difference(vocabulary._settled), vocabulary)
        # One-word keywords written as two words: "roll back", "rolled back" for `rollback`.
        self.joined: dict[str, list[int]] = {}
        singles = vocabulary.singles
        if singles:
            neighbours = chain(_neighbours(stems, 1), _neighbours(words, 1))
            split = vocabulary.splits.intersection(neighbours)
            if split:
                self._join(split, singles)
        self.present = set(self.positions)
        self.present.update(self.joined)

    def _join(self, split: Iterable[tuple[str, str]], singles: dict[str, str]) -> None:
        """Fill `joined` from the pairs of neighbouring stems or words that make a one-word keyword."""
        stems, words, sentence_of = self.stems, self.doc.words, self.sentence_of
        count = len(stems)
        starts: set[int] = set()
        for first, second in split:
            for tokens in (stems, words):
                index = -1
                while True:
                    try:
                        index = tokens.index(first, index + 1)
                    except ValueError:
                        break
                    if index + 1 < count and tokens[index + 1] == second:
                        starts.add(index)
        for index in sorted(starts):
            found = singles.get(stems[index] + stems[index + 1]) or singles.get(words[index] + words[index + 1])
            if found is not None and sentence_of[index] == sentence_of[index + 1]:
                self.joined.setdefault(found, []).append(index)

    def _correct(self, unsettled: set[str], vocabulary: Vocabulary) -> list[str]:
        """The document's stems with typos corrected onto the vocabulary (`positions` to match); words found to
        need no correction are remembered as settled, so that later answers skip them."""
        stems = self.doc.stems
        words = self.doc.words
        changed: set[str] = set()
        correct = vocabulary.correct
        positions = self.positions
        for index in compress(count(), map(unsettled.__contains__, words)):
            word = words[index]
            if len(word) >= MIN_TYPO_LENGTH:
                fixed = correct(word, stems[index])
                if fixed is not None and fixed != stems[index]:
                    if not changed:  # copy on write: the document's stems and positions stay as analysed
                        stems = list(stems)
                        positions = dict(positions)
                    old = stems[index]
                    stems[index] = fixed
                    changed.add(word)
                    left = [position for position in positions[old] if position != index]
                    if left:
                        positions[old] = left
                    else:
                        del positions[old]
                    moved = list(positions.get(fixed, ()))
                    insort(moved, index)
                    positions[fixed] = moved
        settled = vocabulary._settled
        if len(settled) > 50_000:  # a bound on memory: forgetting only costs a recheck
            settled.clear()
        settled.update(unsettled.difference(changed) if changed else unsettled)
        self.positions = positions
        return stems

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
        """`find` for every pattern of an index at once, looking only at alternatives that could be here."""
        hits: list[list[Hit]] = [[] for _ in index.patterns]
        for pattern_no, seen in self.find_indexed(index).items():
            hits[pattern_no] = [seen[key] for key in sorted(seen)]
        return hits

    def find_indexed(self, index: PatternIndex) -> dict[int, dict[int, Hit]]:
        """The hits of the patterns of an index that are here: pattern number -> sentence -> hit (`find_all`
        without the patterns that are not here, and unsorted)."""
        present, stems, sentence_of = self.present, self.stems, self.sentence_of
        entries = set(chain.from_iterable(filter(None, map(index.by_stem.get, present))))
        # Where each phrase's first two stems are in one sentence, `step` places apart: step -> pair -> spans.
        spans_at: dict[int, dict[tuple[str, str], list[tuple[int, int]]]] = {}
        pair_indexes = [(1, index.by_near)] + [(step, index.by_gap) for step in _LOOSE_STEPS[1:] if index.by_gap]
        for step, by_pair in pair_indexes:
            at: dict[tuple[str, str], list[tuple[int, int]]] = {}
            # zip hands each pair to the test and reuses its tuple: no list of every pair is built
            for start in compress(count(), map(by_pair.__contains__, _neighbours(stems, step))):
                end = start + step
                if sentence_of[start] == sentence_of[end]:
                    pair = (stems[start], stems[end])
                    found = at.get(pair)
                    if found is None:
                        at[pair] = [(start, end)]
                    else:
                        found.append((start, end))
            spans_at[step] = at
            entries.update(chain.from_iterable(map(by_pair.__getitem__, at)))
        near = spans_at.get(1, {})
        gaps = [spans_at[step] for step in _LOOSE_STEPS[1:] if spans_at.get(step)]
        gapped = set().union(*gaps)
        found: dict[int, dict[int, Hit]] = {}
        positions, split = self.positions, self.joined
        ends = [sentence.last_token for sentence in self.doc.sentences]
        listed = index.entries
        current, seen = -1, {}  # the pattern of the entry (entries are in pattern order), its hits by sentence
        for entry in sorted(entries):  # what _collect does, inlined for one word, phrases, words apart
            pattern_no, label, alternative, kind, first, joined, size, later, pair, loose, tail = listed[entry]
            if pattern_no != current:
                if seen:
                    found[current] = seen
                    seen = {}
                current = pattern_no
            if kind == PHRASE:
                if tail and joined not in positions and not alternative.needed <= present:
                    continue  # a later word is not in the answer, nor are the words written as one
                # spans of the first two stems, the second as near as it is (as _phrase_spans reads them)
                if loose and pair in gapped:
                    nearest = dict(near.get(pair, ()))  # type: ignore[call-overload]
                    for at in gaps:
                        for start, cursor in at.get(pair, ()):  # type: ignore[call-overload]
                            nearest.setdefault(start, cursor)
                    spans: Iterable[tuple[int, int]] = sorted(nearest.items())
                else:
                    spans = near.get(pair, ())  # type: ignore[call-overload]
                for start, cursor in spans:
                    sentence = sentence_of[start]
                    if sentence in seen:
                        continue
                    end = ends[sentence]  # the same sentence: before its end
                    for wanted, steps in tail:
                        for step in steps:
                            position = cursor + step
                            if position < end and stems[position] == wanted:
                                cursor = position
                                break
                        else:
                            break
                    else:
                        seen[sentence] = _new_hit(Hit, (label, start, cursor, sentence, min(size, cursor - start + 1)))
                if joined is not None:
                    for start in positions.get(joined, ()):
                        sentence = sentence_of[start]
                        if sentence not in seen:
                            seen[sentence] = _new_hit(Hit, (label, start, start, sentence, 1))
            elif kind == ONE_WORD and first not in split:
                for position in positions.get(first, ()):
                    sentence = sentence_of[position]
                    if sentence not in seen:
                        seen[sentence] = _new_hit(Hit, (label, position, position, sentence, 1))
            elif kind == WORDS_APART and not (split and not split.keys().isdisjoint(alternative.needed)):
                if not alternative.needed <= present:  # most are indexed by a word that came without the others
                    continue
                runs = list(map(positions.get, later))
                for start in positions[first]:
                    sentence = sentence_of[start]
                    if sentence in seen:
                        continue
                    cursor = start
                    for run in runs:
                        after = bisect_right(run, cursor)  # type: ignore[arg-type]
                        if after < len(run) and sentence_of[run[after]] == sentence:  # type: ignore[arg-type,index]
                            cursor = run[after]  # type: ignore[index]
                        else:
                            break
                    else:
                        seen[sentence] = _new_hit(Hit, (label, start, cursor, sentence, min(size, cursor - start + 1)))
            elif kind < WORDS_APART or alternative.needed <= present or not alternative.joins.isdisjoint(present):
                self._collect(label, alternative, seen)
        if seen:
            found[current] = seen
        return found

    def _collect(self, label: str, alternative: Alternative, seen: dict[int, Hit]) -> None:
        """Add the alternative's first occurrence in each sentence that has no hit yet."""
        parts = alternative.parts
        sentence_of = self.sentence_of
        if len(parts) == 1:
            phrase = parts[0]
            if len(phrase.stems) == 1 and phrase.stems[0] not in self.joined:
                for index in self.positions.get(phrase.stems[0], ()):  # the common case: one word
                    sentence = sentence_of[index]
                    if sentence not in seen:
                        seen[sentence] = _new_hit(Hit, (label, index, index, sentence, 1))
                return
            spans = self._phrase_spans(phrase, seen)
        else:
            spans = self._proximity_spans(parts, seen)
        size = alternative.size
        for first, last in spans:
            sentence = sentence_of[first]
            if sentence not in seen:
                seen[sentence] = _new_hit(Hit, (label, first, last, sentence, min(size, last - first + 1)))

    def _proximity_spans(self, parts: tuple[Phrase, ...], skip: Container[int] = ()) -> list[tuple[int, int]]:
        """Spans from an occurrence of the first part to the later parts, in order, in its sentence (none that
        start in a sentence of `skip`). Each later part is the first of its occurrences, in `_phrase_spans`
        order, that starts after the previous part and in the same sentence."""
        starts = self._phrase_spans(parts[0], skip)
        if not starts:
            return []
        later = []
        for part in parts[1:]:
            runs = self._span_runs(part)
            if not runs:
                return []
            later.append(runs)
        sentence_of = self.sentence_of
        spans = []
        for first, end in starts:
            sentence = sentence_of[first]
            cursor = end
            for runs in later:
                for starts, lasts in runs:
                    # the first start after the cursor; if it is in a later sentence, so are all after it
                    after = bisect_right(starts, cursor)
                    if after < len(starts) and sentence_of[starts[after]] == sentence:
                        cursor = lasts[after]
                        break
                else:
                    cursor = -1
                    break
            if cursor >= 0:
                spans.append((first, cursor))
        return spans

    def _span_runs(self, phrase: Phrase) -> list[tuple[list[int], list[int]]]:
        """`_phrase_spans(phrase)` as its runs (stems in order, words as one, one word as two) of (starts, lasts),
        each in increasing order of start; empty runs left out."""
        runs = []
        positions = self.positions
        if phrase.rest:
            spans = self._stem_spans(phrase)
            if spans:
                runs.append(([start for start, _ in spans], [last for _, last in spans]))
        elif starts := positions.get(phrase.stems[0]):
            runs.append((starts, starts))
        if phrase.joined is not None and (joined := positions.get(phrase.joined)):
            runs.append((joined, joined))
        if len(phrase.stems) == 1 and (split := self.joined.get(phrase.stems[0])):
            runs.append((split, [start + 1 for start in split]))
        return runs

    def _phrase_spans(self, phrase: Phrase, skip: Container[int] = ()) -> list[tuple[int, int]]:
        """(first, last) token of each occurrence of the phrase (none that start in a sentence of `skip`): its
        stems in order, then its words written as one, then a one-word keyword written as two words."""
        positions = self.positions
        spans = self._stem_spans(phrase, skip)
        if phrase.joined is not None:
            spans.extend((start, start) for start in positions.get(phrase.joined, ()))
        if len(phrase.stems) == 1:
            spans.extend((start, start + 1) for start in self.joined.get(phrase.stems[0], ()))
        return spans

    def _stem_spans(self, phrase: Phrase, skip: Container[int] = ()) -> list[tuple[int, int]]:
        """The phrase's stems in order in one sentence, each as near its previous one as it is."""
        starts = self.positions.get(phrase.stems[0], ())
        sentence_of = self.sentence_of
        if not phrase.rest:
            return [(start, start) for start in starts if sentence_of[start] not in skip]
        stems = self.stems
        count = len(stems)
        spans = []
        for start in starts:
            sentence = sentence_of[start]
            if sentence in skip:
                continue
            cursor = start
            for wanted, steps in phrase.rest:
                for step in steps:
                    index = cursor + step
                    if index < count and stems[index] == wanted and sentence_of[index] == sentence:
                        cursor = index
                        break
                else:
                    break
            else:
                spans.append((start, cursor))
        return spans
