"""Checking that a quoted passage really occurs in the answer, and returning it as the candidate wrote it."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MIN_QUOTE_CHARS = 4  # quotes with fewer letters and digits ("CI", "yes") prove nothing
TYPO_WORD_CHARS = 4  # only words this long may carry a typo
WORDS_PER_TYPO = 8  # a quote may have one mistyped word per this many words
_WORD = re.compile(r"\w+")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.+|…)\s*")
_UNIFY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "`": "'"})
_ASCII_UNIFY = str.maketrans({"`": "'"})  # the part of _UNIFY that applies to ASCII
_RUNS = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]+")

Word = tuple[str, int, int]  # folded word, start and end in the original text


def words(text: str) -> list[Word]:
    """The words of `text`, NFKC-normalised and case-folded, with where each sits in `text`.

    Runs of ASCII (nearly all of an answer) are folded by a table, other characters one by one; the last few
    texts are remembered, since every concept's quote is looked for in the same answer."""
    return _words(text)


@lru_cache(maxsize=8)
def _words(text: str) -> list[Word]:
    if text.isascii():  # NFKC leaves ASCII as it is; one folded character per character
        folded = text.translate(_ASCII_UNIFY).lower()
        return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(folded)]
    pieces: list[str] = []
    index: list[int] = []
    for run in _RUNS.finditer(text):
        start, end = run.span()
        if run.group().isascii():
            pieces.append(run.group().translate(_ASCII_UNIFY).lower())
            index.extend(range(start, end))
            continue
        for i in range(start, end):
            piece = unicodedata.normalize("NFKC", text[i]).translate(_UNIFY).casefold()
            pieces.append(piece)
            index.extend([i] * len(piece))
    joined = "".join(pieces)
    return [(m.group(), index[m.start()], index[m.end() - 1] + 1) for m in _WORD.finditer(joined)]


def locate_quote(answer: str, quote: str) -> str | None:
    """The passage of `answer` that `quote` reproduces, exactly as the answer has it; None if there is none.

    Case, whitespace and punctuation never matter; in a longer quote an occasional long word may differ
    by one letter (a typo). A quote with an ellipsis is checked piece by piece, in order.
    """
    pieces = [[w for w, _, _ in words(p)] for p in _ELLIPSIS.split(quote)]
    pieces = [p for p in pieces if p]
    if not pieces or any(sum(len(w) for w in p) < MIN_QUOTE_CHARS for p in pieces):
        return None
    text = words(answer)
    found: list[str] = []
    position = 0
    for piece in pieces:
        at = _find(text, piece, position, typos=0)
        if at is None:
            at = _find(text, piece, position, typos=len(piece) // WORDS_PER_TYPO)
        if at is None:
            return None
        found.append(answer[text[at][1] : text[at + len(piece) - 1][2]])
        position = at + len(piece)
    return " … ".join(found)


def _find(text: list[Word], piece: list[str], start: int, typos: int) -> int | None:
    """Where in `text` (from word `start`) the words of `piece` occur with at most `typos` one-letter slips."""
    from rapidfuzz.distance import Levenshtein

    for at in range(start, len(text) - len(piece) + 1):
        slips = 0
        for offset, wanted in enumerate(piece):
            seen = text[at + offset][0]
            if seen == wanted:
                continue
            if (
                slips < typos
                and min(len(seen), len(wanted)) >= TYPO_WORD_CHARS
                and Levenshtein.distance(seen, wanted, score_cutoff=1) <= 1
            ):
                slips += 1
                continue
            break
        else:
            return at
    return None
