"""Grading with a language model: the verdict schema, a strict parse with one repair, evidence checks,
a majority over samples, and a `Grade` whose score is computed in code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from grader.errors import LLMError
from grader.feedback import plan_study, summarise
from grader.flags import UNVERIFIED_EVIDENCE
from grader.llm.client import LLMSettings, Reply, acomplete, complete
from grader.llm.evidence import locate_quote
from grader.llm.prompt import build_messages
from grader.memo import PerRubric
from grader.models import ConceptResult, Grade, MisconceptionResult, Question, Rubric, Status, Usage
from grader.scoring import CREDIT, RUBRIC_SCALE, band_for, compute_score

IGNORED_KEYS = ("score", "total", "total_score", "overall_score", "grade", "marks")  # a model's own number
REPAIR_TEMPLATE = (
    "Your reply could not be used: {problem}\n"
    "Reply again with only the JSON object that matches the schema, and nothing else."
)
MAX_ECHO = 4000  # characters of a broken reply shown back to the model
MAX_REASON = 240
MAX_NOTE = 600
BASE_TOKENS, TOKENS_PER_CONCEPT = 300, 150  # reply budget: feedback and misconceptions, then each verdict
UNVERIFIED_STATUS: Status = "missing"  # credit needs evidence the candidate really wrote
UNVERIFIED_REASON = "Downgraded from {status}: the quoted evidence does not occur in the answer."

UNVERIFIED_QUOTE = "(quote not found in the answer)"
_QUOTED = re.compile(r'"([^"\n]{4,300})"|“([^”\n]{4,300})”')
_FORBID = ConfigDict(extra="forbid")


class ConceptVerdict(BaseModel):
    """The model's verdict on one concept: a quote first, then a reason, then the status."""

    model_config = _FORBID
    evidence: str
    reason: str
    status: Status


class MisconceptionVerdict(BaseModel):
    """Whether the answer states one listed misconception, with the quote that shows it."""

    model_config = _FORBID
    evidence: str
    stated: bool


class ReplyProblem(Exception):
    """A reply that cannot be used; the message is shown to the model in the repair request."""


@dataclass
class _Sample:
    """One sample's verdicts after the evidence check."""

    concepts: list[ConceptResult]
    misconceptions: dict[str, str]  # id -> evidence as the candidate wrote it
    unverified: bool
    note: str
    replies: list[Reply] = field(default_factory=list)


# --- schema and parsing --------------------------------------------------------------------------


def verdict_model(rubric: Rubric) -> type[BaseModel]:
    """The reply schema for `rubric`: an object with one required verdict per concept and per misconception
    (keyed by id, so nothing can be skipped, repeated or invented), then the feedback."""
    concept_fields: dict[str, Any] = {
        f"c{i}": (ConceptVerdict, Field(alias=c.id)) for i, c in enumerate(rubric.concepts)
    }
    fields: dict[str, Any] = {"concepts": (create_model("ConceptVerdicts", __config__=_FORBID, **concept_fields), ...)}
    if rubric.misconceptions:
        misconception_fields: dict[str, Any] = {
            f"m{i}": (MisconceptionVerdict, Field(alias=m.id)) for i, m in enumerate(rubric.misconceptions)
        }
        fields["misconceptions"] = (
            create_model("MisconceptionVerdicts", __config__=_FORBID, **misconception_fields),
            ...,
        )
    fields["feedback"] = (str, ...)
    return create_model("GradeVerdict", __config__=_FORBID, **fields)


_SCHEMAS: PerRubric[tuple[type[BaseModel], dict[str, Any]]] = PerRubric()


def reply_schema(rubric: Rubric) -> tuple[type[BaseModel], dict[str, Any]]:
    """`verdict_model` and its `response_format`, built once per rubric object (a batch reuses them)."""
    return _SCHEMAS.get(rubric, _reply_schema)


def _reply_schema(rubric: Rubric) -> tuple[type[BaseModel], dict[str, Any]]:
    model = verdict_model(rubric)
    return model, response_format(model)


def response_format(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAI-style strict `json_schema` response format for `model`."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "grade_verdict", "strict": True, "schema": model.model_json_schema()},
    }


def parse_verdict(model: type[BaseModel], reply: Reply) -> BaseModel:
    """The reply validated against `model`; ReplyProblem says what is wrong in words the model can act on."""
    text = reply.content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0].strip()
    cut = " (the reply was cut off at the token limit)" if reply.finish_reason == "length" else ""
    if not text:
        raise ReplyProblem("the reply was empty" + cut)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplyProblem(f"it is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{cut}") from None
    if not isinstance(data, dict):
        raise ReplyProblem("it is not a JSON object")
    for key in IGNORED_KEYS:
        data.pop(key, None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'reply'}: {error['msg']}"
            for error in exc.errors()[:6]
        ]
        raise ReplyProblem("it does not match the schema: " + "; ".join(problems) + cut) from None


def _conversation(
    messages: list[dict[str, str]], model: type[BaseModel]
) -> Generator[list[dict[str, str]], Reply, tuple[BaseModel, list[Reply]]]:
    """Ask, parse; on a bad reply ask once more showing the model its error. Yields requests, gets replies."""
    reply = yield messages
    try:
        return parse_verdict(model, reply), [reply]
    except ReplyProblem as problem:
        repair = [
            *messages,
            {"role": "assistant", "content": reply.content[:MAX_ECHO]},
            {"role": "user", "content": REPAIR_TEMPLATE.format(problem=problem)},
        ]
    second = yield repair
    try:
        return parse_verdict(model, second), [reply, second]
    except ReplyProblem as problem:
        raise LLMError(f"the model's reply was unusable twice: {problem}") from None


# Every exchange with the model, at DEBUG level: {"messages": [...]} before a request, {"reply": text} after it.
# `--verbose` prints them (grader/cli/watch.py); with no handler listening nothing is formatted.
EXCHANGES = logging.getLogger("grader.llm.exchange")


def _log_request(messages: list[dict[str, str]]) -> None:
    if EXCHANGES.isEnabledFor(logging.DEBUG):
        EXCHANGES.debug("request", {"messages": messages})


def _log_reply(reply: Reply) -> None:
    if EXCHANGES.isEnabledFor(logging.DEBUG):
        EXCHANGES.debug("reply", {"reply": reply.content})


def _run(conversation: Generator[Any, Reply, Any], call: Callable[[Any], Reply]) -> Any:
    request = next(conversation)
    while True:
        _log_request(request)
        reply = call(request)
        _log_reply(reply)
        try:
            request = conversation.send(reply)
        except StopIteration as stop:
            return stop.value


async def _arun(conversation: Generator[Any, Reply, Any], call: Callable[[Any], Awaitable[Reply]]) -> Any:
    request = next(conversation)
    while True:
        _log_request(request)
        reply = await call(request)
        _log_reply(reply)
        try:
            request = conversation.send(reply)
        except StopIteration as stop:
            return stop.value


# --- grading ---------------------------------------------------------------------------------------


def grade_with_llm(
    question: Question,
    rubric: Rubric,
    answer: str,
    settings: LLMSettings,
    samples: int = 1,
    answer_flags: Sequence[str] = (),
) -> Grade:
    """Grade `answer` with the model in `settings`, `samples` times; raises LLMError when no sample succeeds."""
    messages = build_messages(question, rubric, answer)
    model, fmt = reply_schema(rubric)
    settings = _budgeted(settings, rubric)
    results: list[_Sample | LLMError] = []
    for _ in range(samples):
        try:
            verdict, replies = _run(_conversation(messages, model), lambda m: complete(settings, m, fmt))
            results.append(_check(rubric, answer, verdict, replies))
        except LLMError as exc:
            results.append(exc)
    return _combine(rubric, settings, results, answer_flags)


async def agrade_with_llm(
    question: Question,
    rubric: Rubric,
    answer: str,
    settings: LLMSettings,
    samples: int = 1,
    answer_flags: Sequence[str] | Callable[[], Awaitable[Sequence[str]]] = (),
    *,
    model_slots: asyncio.Semaphore | None = None,
) -> Grade:
    """`grade_with_llm` for an event loop; the samples are requested concurrently. `answer_flags` may be an
    async function (the flags are still being computed), awaited once the samples are in.

    `model_slots`, when given, is held while the requests are built and made (every sample and repair), and
    released before the grade is put together: a caller grading many answers at once bounds how many are with
    the model, while others that wait for their flags do not hold a slot."""
    async with model_slots or contextlib.nullcontext():
        messages = build_messages(question, rubric, answer)
        model, fmt = reply_schema(rubric)
        settings = _budgeted(settings, rubric)

        async def one() -> _Sample:
            verdict, replies = await _arun(_conversation(messages, model), lambda m: acomplete(settings, m, fmt))
            return _check(rubric, answer, verdict, replies)

        gathered = await asyncio.gather(*(one() for _ in range(samples)), return_exceptions=True)
    results: list[_Sample | LLMError] = []
    for item in gathered:
        if isinstance(item, BaseException) and not isinstance(item, LLMError):
            raise item
        results.append(item)
    flags = await answer_flags() if callable(answer_flags) else answer_flags
    return _combine(rubric, settings, results, flags)


def _budgeted(settings: LLMSettings, rubric: Rubric) -> LLMSettings:
    if settings.max_tokens:
        return settings
    return replace(settings, max_tokens=BASE_TOKENS + TOKENS_PER_CONCEPT * len(rubric.concepts))


def _check(rubric: Rubric, answer: str, verdict: BaseModel, replies: list[Reply]) -> _Sample:
    """Verdicts whose quotes are found in the answer; the others downgraded, their quotes never shown."""
    concepts: list[ConceptResult] = []
    unverified = False
    for i, concept in enumerate(rubric.concepts):
        said: ConceptVerdict = getattr(verdict.concepts, f"c{i}")  # type: ignore[attr-defined]
        status, evidence, reason = said.status, None, _clip(_scrub(said.reason, answer), MAX_REASON) or None
        if status != "missing":
            evidence = locate_quote(answer, said.evidence)
            if evidence is None:
                unverified = True
                status, reason = UNVERIFIED_STATUS, UNVERIFIED_REASON.format(status=said.status)
        concepts.append(
            ConceptResult(
                id=concept.id, name=concept.name, weight=concept.weight, status=status, evidence=evidence,
                reason=reason,
            )
        )
    found: dict[str, str] = {}
    for i, misconception in enumerate(rubric.misconceptions):
        stated: MisconceptionVerdict = getattr(verdict.misconceptions, f"m{i}")  # type: ignore[attr-defined]
        if not stated.stated:
            continue
        quote = locate_quote(answer, stated.evidence)
        if quote is None:
            unverified = True  # a misconception is never charged on words the candidate did not write
        else:
            found[misconception.id] = quote
    note = _clip(_scrub(getattr(verdict, "feedback", ""), answer), MAX_NOTE)
    return _Sample(concepts, found, unverified, note, replies)


def _combine(
    rubric: Rubric, settings: LLMSettings, results: list[_Sample | LLMError], answer_flags: Sequence[str]
) -> Grade:
    """The majority verdict per concept over the samples that succeeded, scored by `compute_score`.

    Agreement is the share of all requested samples that gave the majority verdict: a sample that failed
    agreed with nothing.
    """
    good = [r for r in results if isinstance(r, _Sample)]
    if not good:
        raise next(r for r in results if isinstance(r, LLMError))
    several = len(results) > 1
    concepts: list[ConceptResult] = []
    agreements: list[float] = []
    for i in range(len(rubric.concepts)):
        votes = Counter(s.concepts[i].status for s in good)
        status = max(votes, key=lambda st: (votes[st], -CREDIT[st]))  # ties go to the lower credit
        agreement = votes[status] / len(results)
        agreements.append(agreement)
        chosen = next(s.concepts[i] for s in good if s.concepts[i].status == status)
        concepts.append(chosen.model_copy(update={"confidence": round(agreement, 2) if several else None}))
    by_id = {m.id: m for m in rubric.misconceptions}
    counts = Counter(mid for s in good for mid in s.misconceptions)
    misconceptions = [
        MisconceptionResult(
            id=mid,
            description=by_id[mid].description,
            penalty=by_id[mid].penalty,
            evidence=next(s.misconceptions[mid] for s in good if mid in s.misconceptions),
            correction=by_id[mid].correction,
        )
        for mid in by_id
        if counts[mid] * 2 > len(good)
    ]
    flags = list(dict.fromkeys(answer_flags))
    if any(s.unverified for s in good) and UNVERIFIED_EVIDENCE not in flags:
        flags.append(UNVERIFIED_EVIDENCE)
    score = compute_score(concepts, misconceptions, flags)
    replies = [reply for s in good for reply in s.replies]
    feedback = summarise(concepts, misconceptions, flags)
    note = next((s.note for s in good if s.note), "")
    if note:
        feedback += f"\nGrader's note: {note}"
    return Grade(
        question_id=rubric.question_id,
        score=score,
        band=band_for(score),
        method="llm",
        scale=RUBRIC_SCALE,
        concepts=concepts,
        misconceptions=misconceptions,
        flags=flags,
        feedback=feedback,
        study_next=plan_study(concepts, rubric),
        rubric_version=rubric.version,
        model=settings.model,
        usage=Usage(
            prompt_tokens=sum(r.prompt_tokens for r in replies),
            completion_tokens=sum(r.completion_tokens for r in replies),
            cost_usd=round(sum(r.cost_usd for r in replies), 6),
        ),
        confidence=round(sum(agreements) / len(agreements), 2) if several and agreements else None,
    )


def _scrub(text: str, answer: str) -> str:
    """`text` (a model's reason or note) with every quotation that is not in the answer replaced."""

    def check(match: re.Match[str]) -> str:
        quoted = match.group(1) or match.group(2)
        return match.group(0) if locate_quote(answer, quoted) else UNVERIFIED_QUOTE

    return _QUOTED.sub(check, text)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
