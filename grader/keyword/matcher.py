"""Finding a rubric's keyword patterns in an analysed answer: the hits, sentence by sentence."""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Container, Iterable, Iterator
from itertools import chain, compress, count, islice
from typing import NamedTuple

from grader.keyword.patterns import LOOSE_STEPS, ONE_WORD, PHRASE, WORDS_APART, Alternative, PatternIndex, Phrase
from grader.keyword.text import Document
from grader.keyword.vocabulary import MIN_TYPO_LENGTH, Vocabulary

_new_hit = tuple.__new__  # Hit(...) without the Python-level __new__ of a NamedTuple


class Hit(NamedTuple):
    label: str
    first: int  # token indexes, inclusive
    last: int
    sentence: int
    size: int = 1  # how many of the answer's words the keyword itself accounts for


def _positions(stems: list[str], findable: frozenset[str]) -> dict[str, list[int]]:
    """Where each stem the matcher can look up is, in order (the others are never looked up: leaving them out
    skips most of an answer's tokens)."""
    positions: dict[str, list[int]] = {}
    known = positions.get
    for index in compress(count(), map(findable.__contains__, stems)):
        stem = stems[index]
        found = known(stem)
        if found is None:
            positions[stem] = [index]
        else:
            found.append(index)
    return positions


def _neighbours(tokens: list[str], step: int) -> Iterator[tuple[str, str]]:
    """(tokens[i], tokens[i + step]) for every i."""
    return zip(tokens, islice(tokens, step, None), strict=False)


class Matcher:
    """Finds patterns in one document, with its stems corrected onto a rubric's vocabulary."""

    def __init__(self, doc: Document, vocabulary: Vocabulary) -> None:
        self.doc = doc
        self.sentence_of = doc.sentence_of
        words = doc.words
        stems = self.stems = doc.stems  # the document's own, until a typo is corrected (copy on write)
        self.positions = _positions(stems, vocabulary.findable)
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
                    if not changed:  # copy on write: the document's stems stay as analysed
                        stems = list(stems)
                    old = stems[index]
                    stems[index] = fixed
                    changed.add(word)
                    if old in positions:  # (a stem the matcher never looks up has no positions kept)
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
        return stems

    def find(self, index: PatternIndex) -> dict[int, dict[int, Hit]]:
        """The hits of the patterns of an index that are here: pattern number -> sentence -> hit, at most one hit
        per sentence, each the first occurrence in its sentence. Only the alternatives that could be here are
        looked at; one word, phrases and words apart inline, the rest through `_collect`."""
        present, stems, sentence_of = self.present, self.stems, self.sentence_of
        entries = set(chain.from_iterable(filter(None, map(index.by_stem.get, present))))
        # Where each phrase's first two stems are in one sentence, `step` places apart: step -> pair -> spans.
        spans_at: dict[int, dict[tuple[str, str], list[tuple[int, int]]]] = {}
        pair_indexes = [(1, index.by_near)] + [(step, index.by_gap) for step in LOOSE_STEPS[1:] if index.by_gap]
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
        gaps = [spans_at[step] for step in LOOSE_STEPS[1:] if spans_at.get(step)]
        gapped = set().union(*gaps)
        found: dict[int, dict[int, Hit]] = {}
        positions, split = self.positions, self.joined
        ends = [sentence.last_token for sentence in self.doc.sentences]
        listed = index.entries
        current, seen = -1, {}  # the pattern of the entry (entries are in pattern order), its hits by sentence
        for entry in sorted(entries):  # what _collect does, inlined for one word, phrases, words apart
            pattern_no, label, alternative, kind, first, joined, size, later, pair, loose, tail = listed[entry]
            # (an Entry unpacked at once: named attribute access costs more in this loop)
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
                    nearest = dict(near.get(pair, ()))
                    for at in gaps:
                        for start, cursor in at.get(pair, ()):
                            nearest.setdefault(start, cursor)
                    spans: Iterable[tuple[int, int]] = sorted(nearest.items())
                else:
                    spans = near.get(pair, ())
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
                runs = [positions[later_stem] for later_stem in later]  # all present, none written split
                for start in positions[first]:
                    sentence = sentence_of[start]
                    if sentence in seen:
                        continue
                    cursor = start
                    for run in runs:
                        after = bisect_right(run, cursor)
                        if after < len(run) and sentence_of[run[after]] == sentence:
                            cursor = run[after]
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
