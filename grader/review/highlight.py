"""Where each concept's evidence sits in an answer: the text cut into segments, each with the concepts quoting it.

Evidence is a quote of the answer (the keyword grader's window, the model's verified quote). It is found as it is,
or else with any run of whitespace matching any other and letters in any case. A quote that cannot be found is
listed beside its concept, not highlighted.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    concepts: tuple[str, ...]  # ids of the concepts whose evidence covers this text, in rubric order


def find_span(text: str, quote: str) -> tuple[int, int] | None:
    """Where `quote` occurs in `text` (exactly, else modulo whitespace and case); None when it does not."""
    quote = quote.strip()
    if not quote:
        return None
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    words = quote.split()
    found = re.search(r"\s+".join(re.escape(w) for w in words), text, re.IGNORECASE)
    return (found.start(), found.end()) if found else None


def segments(text: str, evidence: Mapping[str, str | None]) -> tuple[list[Segment], set[str]]:
    """The answer cut where a concept's evidence starts or ends, and the ids of the concepts whose evidence was
    found (`evidence`: concept id -> quote, in rubric order)."""
    spans: list[tuple[int, int, str]] = []
    for concept_id, quote in evidence.items():
        span = find_span(text, quote) if quote else None
        if span is not None:
            spans.append((*span, concept_id))
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    order = {cid: i for i, cid in enumerate(evidence)}
    parts = []
    for start, end in itertools.pairwise(cuts):
        inside = sorted((cid for s, e, cid in spans if s <= start and end <= e), key=order.__getitem__)
        parts.append(Segment(text[start:end], tuple(inside)))
    return parts, {cid for _, _, cid in spans}
