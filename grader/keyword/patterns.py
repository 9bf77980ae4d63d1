"""Keyword patterns compiled from a rubric, and the index that tells which of them an answer could hold.

A pattern is a keyword with its synonyms. Each alternative is a phrase (stems in order, one extra word
tolerated between them, or the words written as one) or a proximity pattern `a ... b` (a, then b, in the
same sentence).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple, TypeVar

from grader.keyword.lexicon import read_phrase, stem

MAX_GAP = 1  # extra words tolerated between the words of a phrase
LOOSE_STEPS = tuple(range(1, MAX_GAP + 2))  # how far the next word of a loose phrase may be
_Key = TypeVar("_Key")


# Phrase, Alternative, Pattern and Entry are NamedTuples: compiled rubrics are unpickled from the start-up cache, a
# rubric holds about 1,300 of them, and a frozen dataclass unpickles through Python-level __setstate__ (6.2 ms a
# rubric instead of 4.4 ms).
class Phrase(NamedTuple):
    stems: tuple[str, ...]
    joined: str | None  # the words written as one (`roll back` -> `rollback`), stemmed
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


@lru_cache(maxsize=1 << 13)
def compile_phrase(text: str) -> Phrase | None:
    """A phrase's stems and how they may be found (memoised: rubrics repeat phrases, and phrases are frozen)."""
    stems, words, links, word_stems = read_phrase(text)
    if not stems:
        return None
    # abbreviations that expand to several words are not typo targets
    plain = tuple((word, parts[0]) for word, parts in zip(words, word_stems, strict=True) if len(parts) == 1)
    # the words written as one (`roll back` -> `rollback`), as grader.keyword.lexicon.joined_stem
    joined = stem("".join(words)) if 2 <= len(words) <= 3 and not any("'" in word for word in words) else None
    tied = tuple(links)
    rest = tuple((wanted, (1,) if tie else LOOSE_STEPS) for wanted, tie in zip(stems[1:], tied, strict=True))
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
NO_PAIR = ("", "")


class Entry(NamedTuple):
    """One alternative of a pattern in a PatternIndex, with what matching it needs at hand."""

    pattern: int  # the pattern's number in the index
    label: str  # the pattern's keyword
    alternative: Alternative
    kind: int  # ONE_WORD, PHRASE, WORDS_APART or PROXIMITY
    first: str  # the first stem of its first part
    joined: str | None  # the words of its first part written as one
    size: int
    later: tuple[str, ...]  # WORDS_APART: the stems of the later parts
    pair: tuple[str, str]  # PHRASE: its first two stems (else NO_PAIR)
    loose: bool  # PHRASE: may a word come between its first two stems
    tail: tuple[tuple[str, tuple[int, ...]], ...]  # PHRASE: its stems after the second, with their steps


class PatternIndex(NamedTuple):
    """Patterns' alternatives (`entries`, numbered in pattern then alternative order) indexed by what must be in
    an answer for them to occur, so that an answer only pays for the alternatives it could match:

    - `by_stem`: a one-word alternative by its stem; any alternative by its words written as one (`rollback`);
      `a ... b` of one word each by its longest stem (a rare word in most answers);
    - `by_near`: a phrase (or the first phrase of several words of an `a ... b`) by its first two stems as
      neighbours; `by_gap`: one whose first two stems may have a word between them, for those stems 2 to
      MAX_GAP + 1 places apart.
    """

    patterns: tuple[Pattern, ...]
    entries: tuple[Entry, ...]
    by_stem: dict[str, tuple[int, ...]]
    by_near: dict[tuple[str, str], tuple[int, ...]]
    by_gap: dict[tuple[str, str], tuple[int, ...]]


def index_patterns(patterns: Iterable[Pattern]) -> PatternIndex:
    listed = tuple(patterns)
    entries: list[Entry] = []
    by_stem: dict[str, list[int]] = {}
    by_near: dict[tuple[str, str], list[int]] = {}
    by_gap: dict[tuple[str, str], list[int]] = {}
    for pattern_no, pattern in enumerate(listed):
        for alternative in pattern.alternatives:
            number = len(entries)
            entry = _entry(pattern_no, pattern.label, alternative)
            entries.append(entry)
            if entry.kind == ONE_WORD:
                keys = {entry.first, *alternative.joins}
            elif entry.kind == WORDS_APART:
                keys = {max(sorted(alternative.needed), key=len)}
            else:  # by the first two stems of its (first) phrase of several words, or those words as one
                phrase = next(part for part in alternative.parts if len(part.stems) > 1)
                keys = {phrase.joined} if phrase.joined else set()
                pair = (phrase.stems[0], phrase.stems[1])
                by_near.setdefault(pair, []).append(number)
                if not phrase.tied[0]:
                    by_gap.setdefault(pair, []).append(number)
            for key in keys:
                by_stem.setdefault(key, []).append(number)
    return PatternIndex(listed, tuple(entries), _frozen(by_stem), _frozen(by_near), _frozen(by_gap))


def _entry(pattern_no: int, label: str, alternative: Alternative) -> Entry:
    parts = alternative.parts
    phrase = parts[0]
    if len(parts) == 1:
        kind = ONE_WORD if len(phrase.stems) == 1 else PHRASE
    elif all(len(part.stems) == 1 and part.joined is None for part in parts):
        kind = WORDS_APART
    else:
        kind = PROXIMITY
    return Entry(
        pattern=pattern_no,
        label=label,
        alternative=alternative,
        kind=kind,
        first=phrase.stems[0],
        joined=phrase.joined,
        size=alternative.size,
        later=tuple(part.stems[0] for part in parts[1:]) if kind == WORDS_APART else (),
        pair=(phrase.stems[0], phrase.stems[1]) if kind == PHRASE else NO_PAIR,
        loose=bool(phrase.tied) and not phrase.tied[0],
        tail=phrase.rest[1:],
    )


def _frozen(index: dict[_Key, list[int]]) -> dict[_Key, tuple[int, ...]]:
    return {key: tuple(dict.fromkeys(found)) for key, found in index.items()}
