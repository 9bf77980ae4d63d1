"""The answer as numbered passages (S1, S2, ...): what the model cites as evidence instead of copying words.

A passage is a sentence of the answer (as the keyword grader splits them), or a piece of a long one cut at a
clause, so that no passage is more than a few lines: a citation is always a verbatim span of the answer, and never
the whole of a longer answer. Passages keep their offsets, so evidence is shown exactly as the candidate wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

from grader.keyword.lexicon import FUNCTION_WORDS, expand, phrase_words
from grader.keyword.text import sentence_spans
from grader.llm.prompt import find_markers

MAX_PASSAGE_WORDS = 45  # a longer sentence is cut at a clause
MAX_PASSAGES = 200  # beyond that, neighbours are joined (the schema's list of labels stays short)
NONE = "none"  # the label a verdict gives when it cites nothing
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_BULLET = re.compile(r"\s*(?:(?:[-*+>•]|\d+[.)]|#+)\s+)?")
_CLAUSE_END = re.compile(r"[;:,)]\s|\s(?:-|–|—)\s|\s(?=(?:and|but|so|which|because|while|then)\s)")


@dataclass(frozen=True)
class Passage:
    """One numbered passage: its label, where it sits in the answer, and its content words' stems."""

    label: str
    start: int
    end: int
    text: str  # as the candidate wrote it

    @cached_property
    def content(self) -> tuple[str, ...]:
        """Stems of the words that are not function words, in order (computed when a check first needs them: only
        cited passages are checked)."""
        return content_stems(self.text)


def split_passages(answer: str) -> tuple[Passage, ...]:
    """The passages of `answer`, labelled S1, S2, ... in order; passages without a word are left out. A very long
    answer has its neighbouring passages joined in pairs until there are at most MAX_PASSAGES."""
    spans = sentence_spans(answer)
    protected: list[tuple[int, int]] | None = None  # never cut inside a delimiter (found when a sentence is cut)
    pieces: list[tuple[int, int]] = []
    for sentence_start, sentence_end in spans:
        cuts = [(sentence_start, sentence_end)]
        if not _fits(answer, sentence_start, sentence_end, MAX_PASSAGE_WORDS):
            if protected is None:
                protected = [(start, end) for start, end, _ in find_markers(answer)]
            cuts = _cut(answer, sentence_start, sentence_end, MAX_PASSAGE_WORDS, protected)
        for start, end in cuts:
            start, end = _trim(answer, start, end)
            if _WORD.search(answer, start, end):
                pieces.append((start, end))
    while len(pieces) > MAX_PASSAGES:
        pieces = [(pair[0][0], pair[-1][1]) for pair in (pieces[i : i + 2] for i in range(0, len(pieces), 2))]
    return tuple(
        Passage(f"S{n}", start, end, answer[start:end])
        for n, (start, end) in enumerate(pieces, start=1)
    )


def content_stems(text: str) -> tuple[str, ...]:
    """The stems of the words of `text` that are not function words (abbreviations expanded), in order."""
    words = phrase_words(text)
    try:  # the common case: every word seen before
        return tuple(chain.from_iterable(map(_CONTENT.__getitem__, words)))
    except KeyError:
        pass
    if len(_CONTENT) >= MAX_MEMO_WORDS:
        _CONTENT.clear()
    stems: list[str] = []
    for word in words:
        found = _CONTENT.get(word)
        if found is None:
            found = _CONTENT[word] = () if word in FUNCTION_WORDS else expand(word)
        stems += found
    return tuple(stems)


# word -> its content stems: none for a function word, several for an abbreviation (bounded: cleared when full)
_CONTENT: dict[str, tuple[str, ...]] = {}
MAX_MEMO_WORDS = 1 << 16


def labels(passages: tuple[Passage, ...]) -> list[str]:
    """What a verdict may cite: a passage's label, or `none`."""
    return [p.label for p in passages] + [NONE]


def _cut(text: str, start: int, end: int, limit: int, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`text[start:end]` in pieces of at most `limit` words: cut at the clause nearest the middle when one is near
    it, else between the words nearest the middle; never inside a `protected` span."""
    if _fits(text, start, end, limit):
        return [(start, end)]
    words = list(_WORD.finditer(text, start, end))
    middle = words[len(words) // 2].start()

    def allowed(cut: int) -> bool:
        return not any(a < cut < b for a, b in protected)

    clauses = [m.end() for m in _CLAUSE_END.finditer(text, words[0].end(), words[-1].start()) if allowed(m.end())]
    near = [c for c in clauses if abs(c - middle) <= (end - start) // 4]
    options = near or [w.start() for w in words[1:] if allowed(w.start())]
    if not options:
        return [(start, end)]
    best = min(options, key=lambda c: abs(c - middle))
    return _cut(text, start, best, limit, protected) + _cut(text, best, end, limit, protected)


def _fits(text: str, start: int, end: int, limit: int) -> bool:
    """Whether `text[start:end]` has at most `limit` words. Counted without a match object a word, and not at all
    when it is too short to hold more: words are separated, so `n` characters hold at most (n + 1) // 2."""
    return (end - start + 1) // 2 <= limit or len(_WORD.findall(text, start, end)) <= limit


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding white space and without a leading list marker."""
    bullet = _BULLET.match(text, start, end)
    if bullet:
        start = bullet.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
