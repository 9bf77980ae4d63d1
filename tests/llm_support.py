"""Shared pieces of the LLM tests: the frozen test bank, canned verdicts, options against a fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.bank.loader import load_bank
from grader.models import Question, Rubric
from grader.pipeline import GradeOptions

BANK = Path(__file__).resolve().parent / "llm_bank"
QUESTION_ID = "deploy-1"
GOOD_ANSWER = (
    "Blue-green keeps two identical environments, one live and one idle. We deploy the release to the idle "
    "one, run smoke tests, and then switch traffic at the load balancer. To roll back we simply switch back, "
    "because the old environment is still running."
)
# GOOD_ANSWER's passages, as the model sees them: S1 the two environments, S2 the switch, S3 the rollback.
PASSAGE_SWITCH = "We deploy the release to the idle one, run smoke tests, and then switch traffic at the load balancer."
PASSAGE_ROLLBACK = "To roll back we simply switch back, because the old environment is still running."


def question_and_rubric() -> tuple[Question, Rubric]:
    bank = load_bank(BANK)
    return bank.question(QUESTION_ID), bank.rubric(QUESTION_ID)


def verdict(
    switch: tuple[str, str] = ("covered", "S2"),
    rollback: tuple[str, str] = ("covered", "S3"),
    in_place: tuple[bool, str] = (False, "none"),
    **extra: Any,
) -> str:
    """A reply in the verdict schema of the test rubric, as JSON text: (status, cited passage) per concept."""
    return json.dumps(
        {
            "concepts": {
                "traffic-switch": {"evidence": switch[1], "reason": "Explained.", "status": switch[0]},
                "rollback": {"evidence": rollback[1], "reason": "Explained.", "status": rollback[0]},
            },
            "misconceptions": {"in-place": {"evidence": in_place[1], "stated": in_place[0]}},
            **extra,
        }
    )


def llm_options(api_base: str, **overrides: Any) -> GradeOptions:
    """LLM options for a test server: no cache, fast backoff, short timeout unless overridden."""
    settings: dict[str, Any] = {
        "mode": "llm",
        "model": "openai/smollm2",
        "api_base": api_base,
        "timeout": 5.0,
        "use_cache": False,
        "max_retries": 2,
    }
    settings.update(overrides)
    return GradeOptions(**settings)


# What a cassette must never hold: request headers filtered out when recording, response headers removed.
SECRET_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie"]


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy's `before_record_response`: the response without its cookie and account headers."""
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "openai-organization", "openai-project"):
            del headers[name]
    return response
