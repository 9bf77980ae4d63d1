"""The names of the flags a grade can carry. Each grader sets the ones it can see; feedback explains them."""

from __future__ import annotations

PROMPT_INJECTION = "prompt_injection"  # the answer addresses the grader; it never earns credit
KEYWORD_STUFFING = "keyword_stuffing"  # most of the answer is a bare list of terms
UNVERIFIED_EVIDENCE = "unverified_evidence"  # a model's quote did not hold up; the verdict was downgraded
LLM_KEYWORD_GAP = "llm_keyword_gap"  # a model credited a near-empty answer far above its keyword grade
