"""Text aimed at the grader rather than the question: the `prompt_injection` flag, for every grader."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_GRADE_VERBS = {"give", "award", "assign", "grant", "mark", "score", "rate", "grade"}
_TOP_MARKS = {"full", "maximum", "max", "perfect", "top", "highest", "10", "100", "ten"}
_MARK_NOUNS = {"mark", "marks", "score", "scores", "point", "points", "grade", "grades", "credit", "rating"}
_ROLES = {"grader", "evaluator", "examiner", "ai", "assistant", "model"}

# Each rule: the words that must all be present (one from each set) before its pattern is tried, then the
# pattern. The word test is cheap, so the patterns only run on the rare answers that could match.
_RULES: tuple[tuple[tuple[set[str], ...], re.Pattern[str]], ...] = tuple(
    (required, re.compile(pattern, re.IGNORECASE | re.VERBOSE | re.MULTILINE))
    for required, pattern in (
        (
            ({"ignore", "disregard", "forget", "override", "bypass"},),
            r"""\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}
                \b(previous|prior|above|earlier|all|any|your|the|system)\b
                [^.\n]{0,30}\b(instructions?|prompts?|rules?|rubric|guidelines|directions)\b""",
        ),
        (
            (_GRADE_VERBS, _TOP_MARKS, _MARK_NOUNS),
            r"""\b(give|award|assign|grant|mark|score|rate|grade)\b[^.\n]{0,40}
                \b(full|maximum|max|perfect|top|highest|10\s*/\s*10|100\s*%|ten\s+out\s+of\s+ten|10\s+out\s+of\s+10)\b
                [^.\n]{0,20}\b(marks?|scores?|points?|grades?|credit|rating)\b""",
        ),
        (
            ({"answer"}, {"10", "full", "perfect", "maximum"}),
            r"\b(this|the|my)\s+answer\s+(is|deserves|should\s+(get|receive|be\s+given))\s+(a\s+)?(10|full|perfect|maximum)",
        ),
        (({"you"}, {"now"}), r"\byou\s+are\s+now\b"),
        (({"new"}, {"instruction", "instructions"}), r"\bnew\s+instructions?\b"),
        (({"system"}, {"prompt"}), r"\bsystem\s+prompt\b"),
        (
            ({"as", "you", "dear"}, _ROLES),
            r"\b(as\s+the|you\s+are\s+the|dear)\s+(grader|evaluator|examiner|ai|assistant|model)\b",
        ),
        (({"score"}, {"10"}), r"\bscore\s*[:=]\s*10\b"),
        (({"system", "assistant", "answer", "data", "instruction", "instructions"},),
         r"</?\s*(system|assistant|answer|data|instructions?)\s*>"),
        (({"end", "begin"}, {"data"}), r"\[\s*/?\s*(end|begin)\s+data\s*\]"),
        (({"system", "assistant"},), r"^\s*(system|assistant)\s*:"),
    )
)
_WORDS = re.compile(r"[a-z0-9]+")
_RULE_WORDS = frozenset(word for required, _ in _RULES for group in required for word in group)


def detect_injection(answer: str, words: Iterable[str] | None = None) -> str | None:
    """The first passage of `answer` that addresses the grader rather than the question, if any.

    `words`, the answer's lower-case words, may be passed when already known.
    """
    # the few words the rules look for, to test each rule against
    present = _RULE_WORDS.intersection(_WORDS.findall(answer.lower()) if words is None else words)
    if not present:
        return None
    for pattern in _armed(present):
        match = pattern.search(answer)
        if match:
            return match.group(0)
    return None


@lru_cache(maxsize=1024)
def _armed(present: frozenset[str]) -> tuple[re.Pattern[str], ...]:
    """The patterns, in order, of the rules whose words are all `present` (a few sets of words recur: "as", "data",
    "system", "model" are common in answers)."""
    return tuple(pattern for required, pattern in _RULES if all(not group.isdisjoint(present) for group in required))
