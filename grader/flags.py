"""Answer-level flags that do not depend on a rubric: text aimed at the grader."""

from __future__ import annotations

import re

PROMPT_INJECTION = "prompt_injection"
KEYWORD_STUFFING = "keyword_stuffing"
UNVERIFIED_EVIDENCE = "unverified_evidence"

_INJECTION = re.compile(
    r"""
    \b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|any|your|the|system)\b
        [^.\n]{0,30}\b(instructions?|prompts?|rules?|rubric|guidelines|directions)\b
    | \b(give|award|assign|grant|mark|score|rate|grade)\b[^.\n]{0,40}
        \b(full|maximum|max|perfect|top|highest|10\s*/\s*10|100\s*%|ten\s+out\s+of\s+ten|10\s+out\s+of\s+10)\b
        [^.\n]{0,20}\b(marks?|scores?|points?|grades?|credit|rating)\b
    | \b(this|the|my)\s+answer\s+(is|deserves|should\s+(get|receive|be\s+given))\s+(a\s+)?(10|full|perfect|maximum)
    | \byou\s+are\s+now\b | \bnew\s+instructions?\b | \bsystem\s+prompt\b
    | \b(as\s+the|you\s+are\s+the|dear)\s+(grader|evaluator|examiner|ai|assistant|model)\b
    | \bscore\s*[:=]\s*10\b | </?\s*(system|assistant|answer|data|instructions?)\s*> | \[\s*/?\s*(end|begin)\s+data\s*\]
    | ^\s*(system|assistant)\s*:
    """,
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)


def detect_injection(answer: str) -> str | None:
    """The first passage of `answer` that addresses the grader rather than the question, if any."""
    match = _INJECTION.search(answer)
    return match.group(0) if match else None
