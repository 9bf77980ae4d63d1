"""The keyword grader as a witness that keeps the model honest.

An answer with almost no content (fewer than LOW_CONTENT_WORDS words that are not function words) that the model
scores more than GAP_MARGIN points above its keyword grade is flagged `llm_keyword_gap`: the model saw far more
in it than its words show, and a person should look. The score is not changed (for a longer answer the model
seeing what keywords miss is its job; for a near-empty one the evidence checks have already taken every credit
whose cited passage could not carry a concept).
"""

from __future__ import annotations

from collections.abc import Callable

from grader.feedback import summarise
from grader.flags import LLM_KEYWORD_GAP
from grader.llm.passages import content_stems
from grader.models import Grade

LOW_CONTENT_WORDS = 25
GAP_MARGIN = 3.0  # points on the 0-10 scale


def witness(llm: Grade, keyword: Callable[[], Grade], answer: str) -> Grade:
    """`llm` flagged `llm_keyword_gap` when it credits a near-empty answer far above `keyword()`'s view of it.
    `keyword` is called only for a near-empty answer scored above GAP_MARGIN (scores are never negative)."""
    if LLM_KEYWORD_GAP in llm.flags or llm.score <= GAP_MARGIN:
        return llm
    if len(content_stems(answer)) >= LOW_CONTENT_WORDS or llm.score - keyword().score <= GAP_MARGIN:
        return llm
    flags = [*llm.flags, LLM_KEYWORD_GAP]
    return llm.model_copy(update={"flags": flags, "feedback": summarise(llm.concepts, llm.misconceptions, flags)})
