"""The seam between the provider-batch path and the online LLM path: what the online path would send about one
answer, the cache key it would use, and what it would make of the replies.

Nothing here decides how to grade: every function calls the online path's own code (`grader.llm.grader`,
`grader.llm.prompt`, `grader.llm.client`, `grader.pipeline`), so a batch request is byte for byte the request
`grade answer` sends, and a batch reply is checked exactly as an online one (schema, one repair request, evidence
verification, the keyword grader's injection and stuffing flags, the score computed by `grader.scoring`, hybrid
reconciliation, the fallback). When the online path changes, only this module follows it.

One answer may need several requests: one per sample, and a repair request after an unusable reply. Each has a
`part` name unique within the answer (`0`, `1`, `0r`, ...), so the request's custom id is `<item key>:<part>`.
A grader that splits a rubric into several requests (or halves one cut off at the token limit) fits the same
shape: more parts, the replay in `settle` asking for what it would send next.

What is borrowed, to re-point when the online path changes: `first_requests` = `build_messages`, `reply_schema`,
`_budgeted`, `client._sdk_request` (the body `grade answer` posts); `request_key` = `pipeline._open_cache`;
`reply_from` = `client._completion_reply`; `settle` = `grader._conversation` replayed per sample, `_check`,
`_combine`, then `pipeline.grade_by_keywords` / `answer_flags` / `_fall_back` / `_reconcile` as
`pipeline.grade_answer` does; `from_cache` = the cache-hit branch of `pipeline.grade_answer`. Tests hold the seam
to the online path: the uploaded body equals the one the online path posts, a batch grade equals the online grade
for the same reply, a repair request equals the online one (tests/test_provider_batch.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from grader import pipeline
from grader.errors import LLMError
from grader.llm.client import LLMSettings, MalformedCompletion, Reply, _completion_reply, _sdk_request
from grader.llm.grader import _budgeted, _check, _combine, _conversation, _Sample, reply_schema
from grader.llm.prompt import build_messages
from grader.models import Grade, Question, Rubric

REPAIR = "r"  # suffix of the part that repairs an unusable reply


@dataclass(frozen=True, slots=True)
class Request:
    """One chat-completion request about an answer: its part name and its OpenAI-format body."""

    part: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Settled:
    """The grade for the results file, and the grade to cache (None for a fallback, which is never cached)."""

    grade: Grade
    cached: Grade | None


def settings_for(options: pipeline.GradeOptions) -> LLMSettings:
    """The checked model settings the online path would use (ConfigError when they cannot work)."""
    return pipeline.llm_settings(options)


def request_key(rubric: Rubric, answer: str, options: pipeline.GradeOptions) -> str:
    """The online path's LLM cache key for this answer (whether the cache is on or not): it changes whenever
    anything that shapes the request or the grade does, so it also tells a reply to a request built otherwise."""
    return pipeline._open_cache(rubric, answer, _caching(options))[1]


@lru_cache(maxsize=8)
def _caching(options: pipeline.GradeOptions) -> pipeline.GradeOptions:
    return replace(options, use_cache=True)


def warm(question: Question, rubric: Rubric) -> None:
    """Build what the online path keeps per rubric (the keyword grader's compiled rubric, the reply schema)."""
    reply_schema(rubric)
    pipeline.grade_by_keywords(rubric, question.text)


def first_requests(
    question: Question, rubric: Rubric, answer: str, settings: LLMSettings, samples: int
) -> list[Request]:
    """The requests the online path sends first for this answer: one per sample."""
    body = _sdk_request(_budgeted(settings, rubric), build_messages(question, rubric, answer), reply_schema(rubric)[1])
    return [Request(str(i), body) for i in range(samples)]


def reply_from(settings: LLMSettings, body: Any, price: Callable[[int, int], float]) -> Reply:
    """The Reply in a chat-completion response body, read as the online path reads one, costed by `price`
    (prompt tokens, completion tokens -> dollars). LLMError when it is not a chat completion."""
    try:
        reply = _completion_reply(settings, json.dumps(body).encode())
    except MalformedCompletion as exc:
        raise LLMError(str(exc)) from None
    return replace(reply, cost_usd=price(reply.prompt_tokens, reply.completion_tokens))


def settle(
    question: Question,
    rubric: Rubric,
    answer: str,
    options: pipeline.GradeOptions,
    replies: Mapping[str, Reply | LLMError],
) -> Settled | list[Request]:
    """The grade the online path would give with these replies (by part), or the requests it would send next.

    Each sample is the online conversation replayed: its first reply, and when that was unusable, the repair
    request's reply. A part missing from `replies` is a request still to send (returned, with every other missing
    one); a part whose value is an LLMError failed for good. When no sample succeeds the answer falls back to the
    keyword grade (LLMError when `options.fallback` is off), as online."""
    settings = _budgeted(settings_for(options), rubric)
    messages = build_messages(question, rubric, answer)
    model, response_format = reply_schema(rubric)
    results: list[_Sample | LLMError] = []
    missing: list[Request] = []
    for sample in range(options.samples):
        part = str(sample)
        conversation = _conversation(messages, model)
        request = next(conversation)
        while True:
            reply = replies.get(part)
            if reply is None:
                missing.append(Request(part, _sdk_request(settings, request, response_format)))
                break
            if isinstance(reply, LLMError):
                results.append(reply)
                break
            try:
                request = conversation.send(reply)
            except StopIteration as stop:
                verdict, received = stop.value
                results.append(_check(rubric, answer, verdict, received))
                break
            except LLMError as exc:
                results.append(exc)
                break
            part += REPAIR
    if missing:
        return missing
    keyword = pipeline.grade_by_keywords(rubric, answer)
    try:
        llm = _combine(rubric, settings, results, pipeline.answer_flags(keyword))
    except LLMError as exc:
        return Settled(pipeline._fall_back(keyword, options, exc), None)
    return Settled(pipeline._reconcile(llm, keyword) if options.method() == "hybrid" else llm, llm)


def from_cache(rubric: Rubric, answer: str, options: pipeline.GradeOptions, cached: Grade) -> Grade:
    """The grade the online path returns for a cache hit: the cached model grade (reconciled with the keyword
    grade in hybrid mode)."""
    if options.method() != "hybrid":
        return cached
    return pipeline._reconcile(cached, pipeline.grade_by_keywords(rubric, answer))
