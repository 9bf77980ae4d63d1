"""Asking a model for one sample of verdicts on one answer: requests, halving, repairs and response formats.

A sample asks for the whole rubric in one request, or in chunks of the size the model was found to complete
(`capabilities`). A reply cut off at the token limit, or a local server's reply that does not come in time, is
asked again in two halves rather than given up on (and the model remembered as needing smaller requests);
another unusable reply (not JSON, not the schema) gets one repair request that shows the model its error, then
halves. A server that rejects the response format (HTTP 400) is asked again with the next one. Every reply
received is counted in the `Spend`, the unusable ones too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from grader.errors import LLMError
from grader.llm.capabilities import ModelNotes
from grader.llm.client import LLMSettings, Reply, acomplete
from grader.llm.failures import CallError
from grader.llm.passages import Passage, labels
from grader.llm.pricing import is_local
from grader.llm.prompt import build_messages
from grader.llm.schema import (
    FORMATS,
    Chunk,
    ReplyProblem,
    Verdicts,
    parse_reply,
    request_shape,
)
from grader.models import Question, Rubric, Usage

REPAIR_TEMPLATE = (
    "Your reply could not be used: {problem}\n"
    "Reply again with only the JSON object that matches the schema, and nothing else."
)
MAX_ECHO = 4000  # characters of a broken reply shown back to the model
# Every exchange with the model, at DEBUG level: {"messages": [...]} before a request, {"reply": text} after it.
# `--verbose` prints them (grader/cli/watch.py); with no handler listening nothing is formatted.
EXCHANGES = logging.getLogger("grader.llm.exchange")

Progress = Callable[[int, int], None]  # (verdicts received, verdicts to receive) over every sample
# How a request is sent: `client.acomplete`, or a stand-in with its signature and errors (the provider-batch path
# replays recorded replies through it: grader/cohort/llm_requests.py).
Send = Callable[[LLMSettings, list[dict[str, str]], dict[str, Any] | None], Awaitable[Reply]]


@dataclass
class Spend:
    """Every reply received while grading one answer, usable or not: what the grade (or its fallback) cost."""

    replies: list[Reply] = field(default_factory=list)

    def usage(self) -> Usage | None:
        if not self.replies:
            return None
        return Usage(
            prompt_tokens=sum(r.prompt_tokens for r in self.replies),
            completion_tokens=sum(r.completion_tokens for r in self.replies),
            cost_usd=round(sum(r.cost_usd for r in self.replies), 6),
        )


@dataclass
class Conversation:
    """What every request about one answer shares, and the running count behind `progress`. `send` makes each
    request; `notes` is what the model is known to accept (by default the remembered `ModelNotes`)."""

    question: Question
    rubric: Rubric
    passages: tuple[Passage, ...]
    settings: LLMSettings
    spend: Spend
    progress: Progress | None = None
    total: int = 0
    done: int = 0
    slowed: bool = False  # a request has timed out and been asked again in halves
    send: Send = acomplete
    notes: ModelNotes | None = None  # None: the remembered notes of the settings' model

    def __post_init__(self) -> None:
        self.labels = labels(self.passages)
        if self.notes is None:
            self.notes = ModelNotes(self.settings.model, self.settings.api_base)
        self.whole = Chunk(tuple(c.id for c in self.rubric.concepts), tuple(m.id for m in self.rubric.misconceptions))

    async def sample(self) -> Verdicts:
        """One sample: every verdict of the rubric, asked in chunks of the size the model is known to complete."""
        return await self._ask_each(self.whole.split(self.notes.get().chunk or len(self.whole)))

    async def _ask_each(self, chunks: list[Chunk]) -> Verdicts:
        """The verdicts on every chunk, asked one after the other (each reuses the server's cache of the last)."""
        merged = Verdicts({}, {})
        for chunk in chunks:
            verdicts = await self._ask(chunk)
            merged.concepts.update(verdicts.concepts)
            merged.misconceptions.update(verdicts.misconceptions)
        return merged

    async def _ask(self, chunk: Chunk) -> Verdicts:
        """The verdicts on `chunk`: a reply cut off at the token limit, or a local server's reply that did not come
        in time, is asked again in halves (and the model remembered as needing smaller requests); another unusable
        reply gets one repair request that shows the model its error, then halves. A single verdict unusable twice
        raises LLMError."""
        messages = self._messages(chunk)
        try:
            reply = await self._request(chunk, messages)
        except CallError as exc:
            # A server on this machine that is too slow for many verdicts at once (a small model on a few cores)
            # finishes fewer within the same timeout; a hosted provider that times out is not helped by it. Once
            # only: a server that does not answer at all ends the grade after two timeouts, not one per halving.
            if exc.kind == "timeout" and len(chunk) > 1 and is_local(self.settings.api_base) and not self.slowed:
                self.slowed = True
                return await self._in_halves(chunk, remember=True)
            raise
        try:
            verdicts = parse_reply(reply.content, chunk, self.labels, _cut_off(reply))
        except ReplyProblem as problem:
            if _cut_off(reply) and len(chunk) > 1:
                return await self._in_halves(chunk, remember=True)
            repair = [
                *messages,
                {"role": "assistant", "content": reply.content[:MAX_ECHO]},
                {"role": "user", "content": REPAIR_TEMPLATE.format(problem=problem)},
            ]
            second = await self._request(chunk, repair)
            try:
                verdicts = parse_reply(second.content, chunk, self.labels, _cut_off(second))
            except ReplyProblem as again:
                if len(chunk) > 1:
                    return await self._in_halves(chunk, remember=_cut_off(second))
                item = (chunk.concepts or chunk.misconceptions)[0]
                raise LLMError(f"the model's reply about {item} was unusable twice: {again}") from None
        self._advance(len(chunk))
        return verdicts

    async def _in_halves(self, chunk: Chunk, remember: bool) -> Verdicts:
        half = -(-len(chunk) // 2)
        if remember:
            self.notes.shrink(half)
        return await self._ask_each(chunk.split(half))

    async def _request(self, chunk: Chunk, messages: list[dict[str, str]]) -> Reply:
        """One request in the strictest response format the server takes: when it rejects one (HTTP 400), the
        next is tried, and the first that works is remembered for the model. When none works the format was not
        the problem, nothing is remembered, and the first rejection is raised."""
        start = self.notes.get().format
        rejected: CallError | None = None
        for level in FORMATS[FORMATS.index(start) :]:
            form, budget = request_shape(chunk, self.labels, level)
            settings = self.settings if self.settings.max_tokens else _budgeted(self.settings, budget)
            if EXCHANGES.isEnabledFor(logging.DEBUG):
                EXCHANGES.debug("request", {"messages": messages})
            try:
                reply = await self.send(settings, messages, form)
            except CallError as exc:
                if exc.kind != "request":
                    raise
                rejected = rejected or exc
                continue
            if EXCHANGES.isEnabledFor(logging.DEBUG):
                EXCHANGES.debug("reply", {"reply": reply.content})
            if level != start:
                self.notes.use_format(level)
            self.spend.replies.append(reply)
            return reply
        assert rejected is not None
        raise rejected

    def _messages(self, chunk: Chunk) -> list[dict[str, str]]:
        if chunk == self.whole:
            return build_messages(self.question, self.rubric, self.passages)
        return build_messages(self.question, self.rubric, self.passages, chunk.concepts, chunk.misconceptions)

    def _advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


@lru_cache(maxsize=64)
def _budgeted(settings: LLMSettings, max_tokens: int) -> LLMSettings:
    """`settings` with `max_tokens` (made once per budget: every answer with as many passages shares one)."""
    return replace(settings, max_tokens=max_tokens)


def _cut_off(reply: Reply) -> bool:
    return reply.finish_reason == "length"
