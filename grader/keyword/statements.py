"""What a keyword's sentence says about it: a negated statement, figures, a sentence stamped from a template.

- **Negation.** "We never do blue-green", "we don't run canaries", "we cannot switch back": a keyword after a
  negation, in the same clause (up to NEGATION_REACH words on), earns no credit. Only negations of a statement
  count (`not`, `never`, `cannot` and the `n't` forms); "no" before a noun is left alone ("no single point of
  failure" states a goal), as are "not only" / "not just" and a negation inside the keyword itself ("can't
  connect").
- **Figures.** Numbers with a unit, percentages and before/after pairs ("45 mins -> 10 mins", "77%", "3x") are
  evidence for a concept marked `figures: true` (a result or outcome).
- **Narrative.** An answer to a story question tells what happened: statements in the past tense ("we rolled
  back", "the alert fired", "I was on call"), as opposed to how things are done in general.
- **Templates.** The same sentence frame repeated with a different keyword each time ("We also use X in
  production.", "X is a thing.") is a list of terms dressed as sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import filterfalse, pairwise

from grader.keyword.matcher import Hit
from grader.keyword.text import CODE, Document

NEGATORS = frozenset(
    """not never nor neither cannot can't don't doesn't didn't won't isn't aren't wasn't weren't shouldn't
    mustn't couldn't wouldn't haven't hasn't hadn't""".split()
)
NOT_A_DENIAL = frozenset({"only", "just", "merely", "simply", "necessarily", "always"})  # "not only X", ...
NEGATION_REACH = 8  # words that may stand between a negation and a keyword of its clause it denies
# Where a clause ends: punctuation, a dash, or a conjunction ("we don't use Jenkins, but GitHub Actions";
# "we never do canaries and we always run blue-green").
_CLAUSE_BREAK = re.compile(
    r"[,;:()\u2014\u2013.!?]|\s-\s"
    r"|\b(?:and|or|but|so|because|since|then|however|while|whereas|although|though|when|if|unless|until|instead)\b",
    re.I,
)

_UNITS = r"""(?:ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|k|gb|mb|tb|rps
    |qps|users?|customers?|requests?|servers?|nodes?|hosts?|engineers?|incidents?|alerts?|pages?|tickets?
    |deploy(?:s|ments?)?|releases?|builds?|tests?)\b"""
_FIGURE = re.compile(
    rf"""(?<![\w.])(?:
        \d[\d,.]*\s?\w{{0,12}}\s?(?:→|->|=>|to)\s?\d(?:[\d,.]*\d)?(?:\s?(?:%|x\b|{_UNITS}))?  # 45 mins -> 10 mins
      | \$\s?\d[\d,.]*[km]?                                                       # $40k
      | \d[\d,.]*\s?(?:%|percent\b|x\b|×)                                         # 77%, 3x
      | \d[\d,.]*\s?{_UNITS}                                                       # 30 seconds, 200 alerts
    )""",
    re.I | re.X,
)
FRAME_MIN_WORDS = 3  # a frame of fewer words (what is left of a sentence without its keywords) says nothing
TEMPLATE_MIN_SENTENCES = 4  # sentences of one frame before it counts as a template
FRAME_SIMILARITY = 0.7  # Jaccard similarity of two frames' stems that makes them one frame


def negators(doc: Document) -> list[int]:
    """The token indexes of the negations in the answer (empty for most answers)."""
    if NEGATORS.isdisjoint(doc.words):
        return []
    return [index for index, word in enumerate(doc.words) if word in NEGATORS]


def is_negated(hit: Hit, doc: Document, negations: list[int]) -> bool:
    """A negation at most NEGATION_REACH words before the hit, in its sentence and its clause."""
    if not negations:
        return False
    sentence = doc.sentences[hit.sentence]
    first = sentence.first_token
    earliest = max(first, hit.first - NEGATION_REACH - 1)
    words = doc.words
    for index in negations:
        if index < earliest:
            continue
        if index >= hit.first:
            break
        if index + 1 < len(words) and words[index + 1] in NOT_A_DENIAL:
            continue
        spans = doc.sentence_spans(hit.sentence)  # the negation and the hit are both in the hit's sentence
        between = doc.text[spans[index - first][1] : spans[hit.first - first][0]]
        if not _CLAUSE_BREAK.search(between):
            return True
    return False


def figure_hits(doc: Document, label_limit: int = 40) -> list[Hit]:
    """A hit for each explanatory sentence that states a figure: a number with a unit, a percentage, a
    before/after pair. The hit spans the figure's words; its label is the figure as written."""
    hits: list[Hit] = []
    for number, sentence in enumerate(doc.sentences):
        if sentence.list_like:
            continue
        match = _FIGURE.search(doc.text, sentence.start, sentence.end)
        if match is None:
            continue
        first, last = _tokens_of(doc, number, match.start(), match.end())
        label = " ".join(match.group().split())[:label_limit]
        hits.append(Hit(label, first, last, number, last - first + 1))
    return hits


def templated(doc: Document, hit_tokens: dict[int, set[int]]) -> set[int]:
    """Sentences stamped from one frame: at least TEMPLATE_MIN_SENTENCES sentences with a keyword whose other
    words (their frame) are the same or nearly the same. `hit_tokens`: sentence -> the tokens of its keywords."""
    groups: list[tuple[frozenset[str], int, list[int]]] = []  # (frame, its size, the sentences)
    stems = doc.stems
    for number, tokens in hit_tokens.items():
        sentence = doc.sentences[number]
        others = filterfalse(tokens.__contains__, range(sentence.first_token, sentence.last_token))
        frame = frozenset(map(stems.__getitem__, others))
        size = len(frame)
        if size < FRAME_MIN_WORDS:
            continue
        for representative, represented, members in groups:
            shared = len(frame & representative)
            if shared >= FRAME_SIMILARITY * (size + represented - shared):  # Jaccard: shared / the union's size
                members.append(number)
                break
        else:
            if len(groups) < 64:
                groups.append((frame, size, [number]))
    return {n for _, _, members in groups if len(members) >= TEMPLATE_MIN_SENTENCES for n in members}


PAST_TENSE = frozenset(
    """was were had did got took found made went saw led ran wrote built broke brought came became began caught
    chose drove fell felt fought gave grew held kept knew left lost meant met paid said sent sold spent spoke stood
    stuck taught thought told understood won woke""".split()
)
_ACTORS = frozenset("i we they he she it team someone nobody everyone nothing everything which that who".split())


def narrative_share(doc: Document) -> float:
    """The share of the answer's words (code aside) in sentences that state what happened: with a past-tense
    verb ("was", "took", "found"...), a verb in -ed after its subject ("we migrated", "it failed"), or a
    sentence that starts with one ("Rolled back the release.")."""
    total = told = 0
    words = doc.words
    for sentence in doc.sentences:
        if sentence.kind == CODE:
            continue
        tokens = words[sentence.first_token : sentence.last_token]
        size = len(tokens)
        total += size
        if (
            not PAST_TENSE.isdisjoint(tokens)
            or _past_participle(tokens[0])
            or any(actor in _ACTORS and _past_participle(verb) for actor, verb in pairwise(tokens))
        ):
            told += size
    return told / total if total else 0.0


def _past_participle(word: str) -> bool:
    return len(word) > 4 and word.endswith("ed")


def words_in(doc: Document, sentences: Iterable[int]) -> int:
    return sum(doc.sentences[n].last_token - doc.sentences[n].first_token for n in sentences)


def _tokens_of(doc: Document, number: int, start: int, end: int) -> tuple[int, int]:
    """The first and last token of sentence `number` that overlap text[start:end] (its first token if none does)."""
    first = doc.sentences[number].first_token
    spans = doc.sentence_spans(number)
    inside = [first + i for i, (left, right) in enumerate(spans) if right > start and left < end]
    return (inside[0], inside[-1]) if inside else (first, first)
