"""Collecting answers from a provider batch's results: one answer at a time, or many on worker processes.

`collect_answer` turns what the provider returned for one answer's requests into what to do with it: a grade to
write (and cache), an LLM error line, requests to send (a failed or expired request again with `retry_failed`;
what the online conversation asks next: a repair of an unusable reply, halves of a cut-off one, the next chunk or
response format), or "stale" (the requests were built for another rubric, prompt or setting than the answer would
get now). It reads a result line as the online path reads a reply and grades with the online path's own
conversation, replayed (`llm_requests`).

Collecting an answer costs about what grading it online costs in CPU, network aside (the conversation, parsing,
evidence checks, the keyword grader's flags and witness): a few milliseconds an answer. `Collector` hands large
collections to forked worker processes, one per core, in chunks; each worker reads its answers' result lines
itself, builds the grade's JSON and stores the model's grades in the LLM cache, so the parent only reads the
inputs and appends lines. Small collections, and platforms without a safe fork, run in this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from grader import pipeline
from grader.bank.loader import Bank
from grader.cohort import llm_requests
from grader.cohort.llm_requests import Request, Settled
from grader.cohort.provider_files import read_result
from grader.cohort.provider_state import HeldReply
from grader.errors import LLMError, StorageError
from grader.llm.batch_api import batch_cost
from grader.llm.client import LLMSettings, Reply
from grader.llm.failures import CallError
from grader.models import Grade

MAX_SENDS = 3  # times one request is sent before its answer falls back
PARALLEL_FROM = 1000  # answers in one hand-out before worker processes are worth starting
CHUNK = 64  # answers handed to a worker at a time (and cached in one transaction)
ENDED = {
    "expired": "the provider batch expired before this request was done",
    "cancelled": "the provider batch was cancelled before this request was done",
    "completed": "the provider returned no result for this request",
}

Where = tuple[str, int, int]  # a result line: file, offset, length


@dataclass(frozen=True, slots=True)
class Part:
    """What came back for one request of an answer: its outcome kept in the state (`held`), or where its result
    line is (None: nowhere) and how its batch ended; and how many times it was sent."""

    where: Where | None
    batch_status: str
    batch_error: str | None
    sent: int
    held: HeldReply | None = None


@dataclass(frozen=True, slots=True)
class CollectJob:
    key: str
    question_id: str
    answer: str
    request_key: str  # the start of the LLM cache key its requests were built with
    parts: dict[str, Part]
    start: str = ""  # what the model was known to accept when its first requests were built


@dataclass(slots=True)
class Collected:
    """What to do with one answer. `kind`: graded (`grade_json` to write), failed (an error line for `error`),
    resend (`requests`: what the conversation asks next, with the outcomes so far to hold), stale (plan it afresh)."""

    key: str
    kind: str
    grade_json: str | None = None
    fallback: bool = False
    cost_usd: float = 0.0
    error: Exception | None = None
    requests: list[Request] = field(default_factory=list)
    sends: dict[str, int] = field(default_factory=dict)  # times already sent, for parts sent again
    held: dict[str, HeldReply] = field(default_factory=dict)  # the other parts' outcomes, kept meanwhile


@dataclass(frozen=True, slots=True)
class _Failed:
    error: LLMError


def collect_answer(
    job: CollectJob, bank: Bank, options: pipeline.GradeOptions, settings: LLMSettings, retry_failed: bool
) -> tuple[Collected, tuple[str, Grade] | None]:
    """What to do with one answer, and the model's grade to cache under its key (None: nothing to cache)."""
    question = bank.question(job.question_id)
    rubric = pipeline.rubric_for(bank, question)
    request_key = llm_requests.request_key(question, rubric, job.answer, options)
    if request_key[: len(job.request_key)] != job.request_key:
        return Collected(job.key, "stale"), None
    replies: dict[str, Reply | LLMError] = {}
    sends: dict[str, int] = {}
    for part, got in job.parts.items():
        value = _reply(got, settings)
        if isinstance(value, _Failed) and retry_failed and got.sent < MAX_SENDS:
            sends[part] = got.sent  # left out: settle asks for it again
            continue
        replies[part] = value.error if isinstance(value, _Failed) else value
    try:
        outcome = llm_requests.settle(question, rubric, job.answer, options, replies, job.start)
    except LLMError as exc:  # no fallback allowed: an error line, as online
        return Collected(job.key, "failed", error=exc), None
    if isinstance(outcome, Settled):
        grade = outcome.grade
        cost = grade.usage.cost_usd if grade.usage is not None else 0.0
        done = Collected(job.key, "graded", grade.model_dump_json(), grade.fallback_reason is not None, cost)
        return done, (request_key, outcome.cached) if outcome.cached is not None else None
    held = {p: _held(v) for p, v in replies.items()}
    return Collected(job.key, "resend", requests=outcome, sends=sends, held=held), None


def hold(got: Part, settings: LLMSettings) -> HeldReply:
    """A request's outcome, to keep in the state until its answer is collected."""
    value = _reply(got, settings)
    if isinstance(value, _Failed):
        return HeldReply(error=str(value.error), failed=True)
    return _held(value)  # a reply, or a final failure


def _reply(got: Part, settings: LLMSettings) -> Reply | _Failed | LLMError:
    if got.held is not None:
        if got.held.error is None:
            return _reply_of(got.held)
        if got.held.failed:
            return _Failed(LLMError(got.held.error))
        return CallError(got.held.error, got.held.kind) if got.held.kind else LLMError(got.held.error)
    if got.where is None:
        if got.batch_status == "failed":
            detail = f": {got.batch_error}" if got.batch_error else ""
            return _Failed(LLMError("the provider rejected the batch" + detail))
        return _Failed(LLMError(ENDED.get(got.batch_status, f"the provider batch ended {got.batch_status}")))
    body, problem, status = read_result(_read(got.where))
    if body is None:
        reason = problem or "the provider failed this request"
        if status == 400:  # the request's own fault: sending it again cannot help; the conversation steps down
            return CallError(reason, "request")
        return _Failed(LLMError(reason))
    try:
        return llm_requests.reply_from(body, lambda p, c: batch_cost(settings, p, c))
    except LLMError as exc:
        return _Failed(exc)


_FDS: dict[str, int] = {}  # result files open in this process


def _read(where: Where) -> dict[str, Any]:
    path, offset, length = where
    fd = _FDS.get(path)
    if fd is None:
        fd = _FDS[path] = os.open(path, os.O_RDONLY)
    return json.loads(os.pread(fd, length, offset))


def _close_files() -> None:
    for fd in _FDS.values():
        os.close(fd)
    _FDS.clear()


def _reply_of(held: HeldReply) -> Reply:
    return Reply(
        content=held.content or "", prompt_tokens=held.prompt_tokens, completion_tokens=held.completion_tokens,
        cost_usd=held.cost_usd, finish_reason=held.finish_reason,
    )


def _held(value: Reply | LLMError) -> HeldReply:
    if isinstance(value, LLMError):
        return HeldReply(error=str(value), kind=value.kind if isinstance(value, CallError) else None)
    return HeldReply(
        content=value.content, prompt_tokens=value.prompt_tokens, completion_tokens=value.completion_tokens,
        cost_usd=value.cost_usd, finish_reason=value.finish_reason,
    )


# --- many answers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    bank: Bank
    options: pipeline.GradeOptions
    settings: LLMSettings
    retry_failed: bool


class Collector:
    """Collects answers in this process, or on forked workers once a hand-out is large enough. Use as a context
    manager: the workers end with it."""

    def __init__(
        self, bank: Bank, options: pipeline.GradeOptions, settings: LLMSettings, retry_failed: bool,
        close_in_workers: tuple[int, ...] = (), workers: int | None = None,
    ) -> None:
        self._context = _Context(bank, options, settings, retry_failed)
        self._close = close_in_workers  # descriptors the workers inherit but must not keep
        self.workers = workers if workers is not None else len(os.sched_getaffinity(0)) if _can_fork() else 1
        self._pool: Any = None

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        _close_files()

    def collect(self, jobs: list[CollectJob]) -> Iterator[Collected]:
        """The jobs' outcomes, in order."""
        chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
        if len(jobs) < PARALLEL_FROM or self.workers < 2:
            for chunk in chunks:
                yield from _collect_chunk(chunk, self._context)
            return
        if self._pool is None:
            self._start(jobs)
        for done in self._pool.imap(_work, chunks):
            yield from done

    def _start(self, jobs: list[CollectJob]) -> None:
        """Fork the workers, after readying what every answer to these questions needs (the keyword grader's
        compiled rubric, the rubric's terms for the evidence checks), so each worker inherits it instead of
        building it again."""
        import multiprocessing

        bank = self._context.bank
        for question_id in {job.question_id for job in jobs}:
            with contextlib.suppress(Exception):  # a question that cannot be readied fails in its answer's job
                question = bank.question(question_id)
                llm_requests.warm(question, pipeline.rubric_for(bank, question))
        global _WORKER_CONTEXT
        _WORKER_CONTEXT = self._context  # inherited by the forked workers, never pickled
        _close_files()  # each worker opens the result files it reads
        self._pool = multiprocessing.get_context("fork").Pool(self.workers, _start_worker, (self._close,))


_WORKER_CONTEXT: _Context | None = None


def _start_worker(fds: tuple[int, ...]) -> None:
    """A forked worker's start: close the descriptors it must not keep, and leave what it inherited (the parent's
    state, bank, modules) out of garbage collection: a full collection would traverse all of it, costing time and
    writing to pages the worker otherwise shares with the parent."""
    import gc

    gc.freeze()
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _work(chunk: list[CollectJob]) -> list[Collected]:
    assert _WORKER_CONTEXT is not None
    return _collect_chunk(chunk, _WORKER_CONTEXT)


def _collect_chunk(chunk: list[CollectJob], context: _Context) -> list[Collected]:
    """The outcomes of a chunk of answers (a surprise in one answer is that answer's error line, as online);
    the model's grades are stored in the LLM cache in one transaction."""
    done: list[Collected] = []
    to_cache: list[tuple[str, Grade]] = []
    for job in chunk:
        try:
            collected, cached = collect_answer(
                job, context.bank, context.options, context.settings, context.retry_failed
            )
        except Exception as exc:  # one bad answer must not stop the batch
            collected, cached = Collected(job.key, "failed", error=exc), None
        done.append(collected)
        if cached is not None:
            to_cache.append(cached)
    if to_cache and context.options.use_cache:
        from grader.llm.cache import GradeCache

        with contextlib.suppress(StorageError):  # the cache only saves requests
            GradeCache().put_many(to_cache)
    return done


def _can_fork() -> bool:
    """Forking is safe and cheap on Linux (macOS's system libraries may not survive a fork; Windows has none)."""
    return sys.platform.startswith("linux")
