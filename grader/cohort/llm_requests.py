"""The seam between the provider-batch path and the online LLM path: the requests the online conversation would
send about one answer, the cache key it would use, and the grade it would give with the replies.

Nothing here decides how to grade. The online conversation (`grader.llm.grader.agrade_with_llm`: passages, chunks,
halving a cut-off reply, one repair, response formats stepped down on HTTP 400, samples, evidence checks, the score
computed in code) runs as it does online, with one thing swapped: its transport. `_Replay.send` builds the body the
online SDK route would post (`client._sdk_request`), names it by a hash of that body and its occurrence (`<hash>#0`,
`<hash>#1`: samples send identical bodies, which must stay separate requests), and answers with the recorded reply
for that name; a name with no reply yet is recorded as a `Request` to send, and the conversation stops there
(`_Pending`, not an LLMError, so it leaves `agrade_with_llm` once every sample has run). So `first_requests` is the
conversation with no replies, and `settle` the conversation with the replies so far: the requests it would send
next, or its grade, finished as `pipeline.grade_answer` finishes one (`_finish`: the keyword witness and hybrid
reconciliation; `_fall_back` when the model fails). A request the provider failed is raised as the online
transport raises it: a provider 400 as `CallError(kind="request")`, so the conversation steps the response format
down as online. A conversation that asks in chunks (small models) asks them one after the other, so it takes one
batch round per chunk.

What a model is known to accept (`capabilities.ModelNotes`) is pinned for each answer to what it was when the
answer's first requests were built (`Planned.start`, kept in the state): a reply cut off for one answer (which
makes the online path ask later answers in smaller chunks) does not change the requests another answer's replay
asks for, so a reply already paid for is never asked again. What the replay learns is still remembered for the
answers planned after it.

Borrowed from the online path, to re-point when it changes: `grader.llm.grader.agrade_with_llm` (with `send` and
`notes`), `grader.llm.conversation.Spend`, `grader.llm.capabilities.ModelNotes`/`Capabilities`,
`grader.llm.client._sdk_request` (the body posted) and `completion_reply` (a reply body read), `grader.llm.grader
._TERMS` with `grader.llm.support.rubric_terms` (memoised per rubric), and from `grader.pipeline`: `llm_settings`,
`llm_cache_key` (the cache key), `grade_by_keywords`, `answer_flags`, `flags_by_keywords` (the flags without the
keyword grade, which is made only when the grade needs it: a fallback, hybrid, the witness of a near-empty answer),
`_finish` and `_fall_back`. Tests hold the seam to the online path (tests/test_provider_batch.py): the uploaded body
equals the one the online path posts, a batch grade equals the online grade for the same replies, repairs, halves
and format steps equal the online ones.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from grader import pipeline
from grader.errors import LLMError
from grader.llm.capabilities import Capabilities, ModelNotes
from grader.llm.client import LLMSettings, MalformedCompletion, Reply, _sdk_request, completion_reply
from grader.llm.conversation import Spend
from grader.llm.failures import CallError
from grader.llm.grader import _TERMS, agrade_with_llm
from grader.llm.schema import FORMATS
from grader.llm.support import rubric_terms
from grader.models import Grade, Question, Rubric

ID_CHARS = 12  # hex digits of a request body's hash in its id (ids only need to differ within one answer)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Request:
    """One chat-completion request about an answer: its id (`<body hash>#<occurrence>`), its OpenAI-format body, and
    the body as the compact JSON with sorted keys its id is the hash of ("" when not made yet)."""

    id: str
    body: dict[str, Any]
    text: str = ""


@dataclass(frozen=True, slots=True)
class Planned:
    """An answer's first requests, and what the model was known to accept when they were built (`start`, to pin
    the answer's replays to; "" for the defaults)."""

    requests: list[Request]
    start: str


@dataclass(frozen=True, slots=True)
class Settled:
    """The grade for the results file, and the model's grade to cache (None for a fallback, which is never cached)."""

    grade: Grade
    cached: Grade | None


Outcome = Reply | LLMError  # a reply, or how the provider failed the request


@lru_cache(maxsize=8)
def settings_for(options: pipeline.GradeOptions) -> LLMSettings:
    """The checked model settings the online path would use (ConfigError when they cannot work)."""
    return pipeline.llm_settings(options)


def request_key(question: Question, rubric: Rubric, answer: str, options: pipeline.GradeOptions) -> str:
    """The online path's LLM cache key for this answer (whether the cache is on or not): it changes whenever
    anything that shapes the requests or the grade does, so it also tells a reply to a request built otherwise."""
    return pipeline.llm_cache_key(question, rubric, answer, settings_for(options), options)


def warm(question: Question, rubric: Rubric) -> None:
    """Build what the online path keeps per rubric: the terms its evidence checks use, the keyword grader's
    compiled rubric."""
    _TERMS.get(rubric, lambda r: rubric_terms(question, r))
    pipeline.grade_by_keywords(rubric, question.text)


def first_requests(question: Question, rubric: Rubric, answer: str, settings: LLMSettings, samples: int) -> Planned:
    """The requests the online conversation sends first for this answer (one per sample, or per sample's first
    chunk), built with what the model is known to accept now. No requests: the conversation ended before asking
    anything (an answer with no words); `settle` gives its grade."""
    notes = ModelNotes(settings.model, settings.api_base)
    start = _encode(notes.get())
    replay = _Replay({})
    with contextlib.suppress(_Pending, LLMError):
        pinned = _pinned(settings, start, notes.path)
        _run(agrade_with_llm(question, rubric, answer, settings, samples, send=replay.send, notes=pinned), samples)
    return Planned(replay.pending, start)


def reply_from(body: Any, price: Callable[[int, int], float]) -> Reply:
    """The Reply in a chat-completion response body, read as the online path reads one, costed by `price`
    (prompt tokens, completion tokens -> dollars). LLMError when it is not a chat completion."""
    try:
        return completion_reply(body, price)
    except MalformedCompletion as exc:
        raise LLMError(str(exc)) from None


def settle(
    question: Question,
    rubric: Rubric,
    answer: str,
    options: pipeline.GradeOptions,
    replies: Mapping[str, Outcome],
    start: str = "",
) -> Settled | list[Request]:
    """The grade the online path would give with these replies (by request id), or the requests it would send next.

    The online conversation is replayed from the start, pinned to `start` (`Planned.start`): a request with a
    recorded outcome gets it, and the first request of each sample with none is returned, with the others (a
    sample's next chunk, its halves, its repair, the next response format). With every request answered, the
    grade is `pipeline.grade_answer`'s: the model's grade with the keyword witness (and hybrid reconciliation), or
    the keyword grade with a `fallback_reason` when no sample succeeded (LLMError when `options.fallback` is off)."""
    settings = settings_for(options)
    replay = _Replay(replies)
    keyword: list[Grade] = []

    def keyword_grade() -> Grade:
        if not keyword:
            keyword.append(pipeline.grade_by_keywords(rubric, answer))
        return keyword[0]

    async def flags() -> list[str]:  # unless it falls back or is hybrid, all the grade needs of the keyword grader
        if keyword or options.method() == "hybrid":
            return pipeline.answer_flags(keyword_grade())
        return pipeline.flags_by_keywords(rubric, answer)

    spend = Spend()
    pinned = _pinned(settings, start)
    try:
        llm = _run(
            agrade_with_llm(
                question, rubric, answer, settings, options.samples, flags, spend=spend, send=replay.send,
                notes=pinned,
            ),
            options.samples,
        )
    except _Pending:
        return replay.pending
    except LLMError as exc:
        return Settled(pipeline._fall_back(keyword_grade(), options, exc, spend), None)
    return Settled(pipeline._finish(llm, keyword_grade, answer, options), llm)


def from_cache(rubric: Rubric, answer: str, options: pipeline.GradeOptions, cached: Grade) -> Grade:
    """The grade the online path returns for a cache hit: the cached model grade with the keyword witness (and
    hybrid reconciliation)."""
    return pipeline._finish(cached, lambda: pipeline.grade_by_keywords(rubric, answer), answer, options)


# --- the replay -----------------------------------------------------------------------------------------------


class _Pending(Exception):
    """A request with no reply yet: the conversation stops there (not an LLMError: nothing failed)."""


class _Replay:
    """A transport for the online conversation that answers from recorded outcomes and records the requests it has
    none for."""

    def __init__(self, replies: Mapping[str, Outcome]) -> None:
        self.replies = replies
        self.pending: list[Request] = []
        self._seen: dict[str, int] = {}

    async def send(
        self, settings: LLMSettings, messages: list[dict[str, str]], response_format: dict[str, Any] | None
    ) -> Reply:
        body = _sdk_request(settings, messages, response_format)
        text = _canonical(body)
        digest = hashlib.sha256(text.encode()).hexdigest()[:ID_CHARS]
        occurrence = self._seen.get(digest, 0)
        self._seen[digest] = occurrence + 1
        request_id = f"{digest}#{occurrence}"
        outcome = self.replies.get(request_id)
        if outcome is None:
            self.pending.append(Request(request_id, body, text))
            raise _Pending(request_id)
        if isinstance(outcome, CallError):
            raise CallError(str(outcome), outcome.kind)
        if isinstance(outcome, LLMError):
            raise LLMError(str(outcome))
        return outcome


def _canonical(body: dict[str, Any]) -> str:
    """The body as compact JSON with sorted keys; its response format (most of its bytes, the same object for every
    request with the same schema) serialised once."""
    form = body.get("response_format")
    if form is None:
        return _json(body)
    rest = _json({k: v for k, v in body.items() if k != "response_format"})
    return f'{rest[:-1]},"response_format":{_format_json(form)}}}'


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# The JSON of each response format object met (the online path makes one per chunk, passages and format:
# `schema.request_shape`), so that a request's schema, most of its bytes, is serialised once, not once a request.
# Bounded: cleared when full.
_FORMAT_JSON: dict[int, tuple[dict[str, Any], str]] = {}
MAX_FORMATS = 4096


def _format_json(form: dict[str, Any]) -> str:
    found = _FORMAT_JSON.get(id(form))
    if found is None or found[0] is not form:
        if len(_FORMAT_JSON) >= MAX_FORMATS:
            _FORMAT_JSON.clear()
        found = _FORMAT_JSON[id(form)] = (form, _json(form))
    return found[1]


class _Pinned(ModelNotes):
    """A model's notes that always read as `start`, however much a replay learns (so every replay of an answer asks
    what its first one did); what is learned is still remembered, for answers planned later."""

    def __init__(self, settings: LLMSettings, start: Capabilities, path: Path | None = None) -> None:
        super().__init__(settings.model, settings.api_base, path)
        self.start = start

    def get(self) -> Capabilities:
        return self.start

    def use_format(self, level: Any) -> None:
        ModelNotes(self.model, self.api_base, self.path).use_format(level)

    def shrink(self, size: int) -> None:
        ModelNotes(self.model, self.api_base, self.path).shrink(size)


def _pinned(settings: LLMSettings, start: str, path: Path | None = None) -> _Pinned:
    return _Pinned(settings, _decode(start), path)


def _encode(capabilities: Capabilities) -> str:
    if capabilities == Capabilities():
        return ""
    return f"{capabilities.format}:{capabilities.chunk or ''}"


def _decode(start: str) -> Capabilities:
    if not start:
        return Capabilities()
    level, _, chunk = start.partition(":")
    found = next((f for f in FORMATS if f == level), None)
    if found is None:
        return Capabilities()
    return Capabilities(format=found, chunk=int(chunk) if chunk.isdigit() and int(chunk) > 0 else None)


# One event loop per process for the replays of several samples (they never wait on anything, but their samples
# are gathered as tasks): asyncio.run's new loop per answer would cost some 0.2 ms of CPU an answer. A one-sample
# conversation needs no loop at all: it never suspends, so it is driven to its end in one step.
_LOOP: tuple[int, asyncio.AbstractEventLoop] | None = None


def _run(coroutine: Coroutine[Any, Any, T], samples: int) -> T:
    if samples == 1:
        return _drive(coroutine)
    global _LOOP
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # called from a coroutine: grade on a helper thread, as the online path does
        from grader.llm.grader import run_sync

        return run_sync(coroutine)
    if _LOOP is None or _LOOP[0] != os.getpid():  # a forked worker makes its own
        loop = asyncio.new_event_loop()
        atexit.register(loop.close)
        _LOOP = (os.getpid(), loop)
    return _LOOP[1].run_until_complete(coroutine)


def _drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends (a replayed one-sample conversation), without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a replayed conversation waited on something: it must be run on an event loop")
