"""Grading a cohort through the provider's batch API: submit, survive, collect.

`run_provider_batch` does, in one call, whatever the results file's state calls for:
1. submits request files planned by a run that was killed before it recorded their batches (never twice: see
   `provider_remote`);
2. asks about every open batch and downloads the output and error files of finished ones;
3. reads the inputs once: an answer graded in `out` is skipped; an answer whose requests have all come back is
   graded from the replies exactly as online (`llm_requests.settle`), written to `out` and the LLM cache; an
   answer in the cache is written at once; every other answer is planned: its requests (the online path's) go to
   request files split to the provider's limits;
4. saves the state, then uploads the request files and creates their batches.
With `wait` it then polls until no answer is awaited, collecting as batches finish. A failed or expired request is
sent again in a later batch with `retry_failed` (at most MAX_SENDS times), else the answer falls back to its
keyword grade with a `fallback_reason`, as online. Results lines are fsync'ed before the state that no longer
awaits them is saved, and the results writer skips what is already in `out`: a kill at any moment loses nothing
and writes nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader import pipeline
from grader.bank.loader import Bank
from grader.cohort import llm_requests
from grader.cohort.batch import BatchSummary, OnOutcome, Outcome, _Run, _Task
from grader.cohort.inputs import Item, discover
from grader.cohort.llm_requests import Request, Settled
from grader.cohort.provider_files import MAX_BYTES, MAX_REQUESTS, RequestFiles, Results, read_result, request_line
from grader.cohort.provider_remote import Remote
from grader.cohort.provider_state import (
    BatchRecord,
    HeldReply,
    ItemRecord,
    ProviderState,
    load_state,
    new_run,
    new_state,
    out_tag,
    state_path,
    work_folder,
)
from grader.cohort.results import ResultsWriter, graded_keys
from grader.errors import ConfigError, LLMError, StorageError
from grader.llm.batch_api import BatchAPI, batch_cost, open_batch_api
from grader.llm.client import LLMSettings, Reply
from grader.models import Grade

MAX_SENDS = 3  # times one request is sent before its answer falls back
WINDOW = 2048  # answers read before their cache lookups are made at once
SYNC_EVERY = 0.2  # seconds between fsyncs of the results while collecting (and always before the state is saved)
ENDED = {
    "expired": "the provider batch expired before this request was done",
    "cancelled": "the provider batch was cancelled before this request was done",
    "completed": "the provider returned no result for this request",
}


@dataclass(frozen=True)
class BatchPlan:
    """How to run: wait for the batches, resend failed requests, how often to poll, the provider's file limits."""

    wait: bool = False
    retry_failed: bool = False
    poll_every: float = 30.0
    max_requests: int = MAX_REQUESTS
    max_bytes: int = MAX_BYTES


@dataclass
class Poll:
    """Where the open batches stand, for a progress bar."""

    requests: int
    completed: int
    failed: int
    batches: int
    statuses: dict[str, int]
    elapsed: float


@dataclass
class ProviderSummary:
    """One run: the lines written (`batch`), what was sent and what is still awaited."""

    batch: BatchSummary
    submitted: int = 0  # requests sent in new batches by this run
    batches_created: int = 0
    pending: int = 0  # answers still awaited from the provider
    resent: int = 0  # requests sent again (failed or expired) or repairs of unusable replies
    orphaned: int = 0  # replies for answers no longer in the inputs (edited or removed), not used
    stale: int = 0  # replies to requests built otherwise (rubric or prompt changed since), not used
    malformed: int = 0  # lines of output files that could not be read
    cost_usd: float = 0.0  # of the grades written by this run, at batch prices
    state: Path | None = None
    open_batches: list[BatchRecord] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "pending" if self.pending else self.batch.status

    def as_dict(self) -> dict[str, object]:
        data = self.batch.as_dict()
        data.update(
            status=self.status,
            state=str(self.state),
            submitted=self.submitted,
            batches_created=self.batches_created,
            pending=self.pending,
            resent=self.resent,
            orphaned=self.orphaned,
            stale=self.stale,
            malformed=self.malformed,
            cost_usd=round(self.cost_usd, 6),
            batches=[{"id": b.batch_id, "status": b.status, "requests": b.requests} for b in self.open_batches],
        )
        return data


OnPoll = Callable[[Poll], None]


def run_provider_batch(
    bank: Bank,
    inputs: Iterable[Path],
    out: Path,
    options: pipeline.GradeOptions,
    plan: BatchPlan | None = None,
    on_outcome: OnOutcome | None = None,
    on_poll: OnPoll | None = None,
) -> ProviderSummary:
    """Submit, collect or both, as `out`'s state calls for (see the module's docstring)."""
    plan = plan or BatchPlan()
    if options.method() == "keyword":
        raise ConfigError("--provider-batch needs a model: pass --model (and --mode llm or hybrid)")
    settings = llm_requests.settings_for(options)
    api = open_batch_api(settings)
    started = time.perf_counter()
    inputs = list(inputs)
    summary = ProviderSummary(batch=BatchSummary(out=out), state=state_path(out))
    with ResultsWriter(out, sync_every=SYNC_EVERY) as writer:
        job = _Job(bank, inputs, out, options, settings, api, plan, writer, summary, on_outcome)
        try:
            job.run(on_poll, started)
        finally:
            summary.batch.seconds = time.perf_counter() - started
    return summary


def provider_batches(out: Path, options: pipeline.GradeOptions) -> list[BatchRecord]:
    """`out`'s batches with the provider's latest word (`--status`); the state file is not changed."""
    remote = _remote_for(out, options)
    return remote.look()


def cancel_provider_batches(out: Path, options: pipeline.GradeOptions) -> list[str]:
    """Ask the provider to cancel `out`'s open batches (`--cancel`); the next run collects what they finished."""
    remote = _remote_for(out, options)
    return [f"{info.id}: {info.status}" for info in remote.cancel()]


def _remote_for(out: Path, options: pipeline.GradeOptions) -> Remote:
    state = load_state(out)
    if state is None:
        raise StorageError(f"{state_path(out)}: no provider batches were submitted for {out}")
    settings = llm_requests.settings_for(_options_of(state, options))
    return Remote(open_batch_api(settings), out, state)


def _settings_record(options: pipeline.GradeOptions, api: BatchAPI) -> dict[str, object]:
    return {
        "model": options.model,
        "api_base": (options.api_base or "").rstrip("/") or None,
        "mode": options.method(),
        "samples": options.samples,
        "temperature": options.sampling_temperature(),
        "provider_model": api.model,
    }


def _options_of(state: ProviderState, options: pipeline.GradeOptions) -> pipeline.GradeOptions:
    """`options` with the model and server the state's batches were sent to."""
    from dataclasses import replace

    return replace(
        options, model=str(state.settings.get("model") or options.model), api_base=state.settings.get("api_base")
    )


class _Job:
    def __init__(
        self,
        bank: Bank,
        inputs: list[Path],
        out: Path,
        options: pipeline.GradeOptions,
        settings: LLMSettings,
        api: BatchAPI,
        plan: BatchPlan,
        writer: ResultsWriter,
        summary: ProviderSummary,
        on_outcome: OnOutcome | None,
    ) -> None:
        self.bank, self.inputs, self.out, self.options = bank, inputs, out, options
        self.settings, self.api, self.plan, self.writer = settings, api, plan, writer
        self.summary, self.on_outcome = summary, on_outcome
        record = _settings_record(options, api)
        state = load_state(out)
        if state is not None and state.settings != record:
            if state.items:
                raise ConfigError(
                    f"{state_path(out)}: {len(state.items):,} answers are awaited from batches sent with other "
                    f"settings (model {state.settings.get('model')}, {state.settings.get('samples')} samples, "
                    f"mode {state.settings.get('mode')}); run with those to collect them, or --cancel them first"
                )
            state.settings = record
        self.state = state or new_state(out, record)
        self.remote = Remote(api, out, self.state)
        self.graded = graded_keys(out)
        self.cache = self._open_cache()
        self.passes = 0

    def run(self, on_poll: OnPoll | None, started: float) -> None:
        self.remote.submit_planned(self._submitted)  # left planned by a killed run
        self.remote.refresh()
        self._pass()
        self.remote.submit_planned(self._submitted)
        while self.plan.wait and self.state.items:
            if on_poll is not None:
                on_poll(self._poll(started))
            time.sleep(self.plan.poll_every)
            if self.remote.refresh():
                self._pass()
                self.remote.submit_planned(self._submitted)
        if on_poll is not None and self.plan.wait:
            on_poll(self._poll(started))
        self.summary.pending = len(self.state.items)
        self.summary.open_batches = [b for b in self.state.batches if b.batch_id and not b.collected]

    def _submitted(self, record: BatchRecord) -> None:
        self.summary.submitted += record.requests
        self.summary.batches_created += 1

    def _poll(self, started: float) -> Poll:
        open_ = [b for b in self.state.batches if b.batch_id and not b.collected and b.status != "lost"]
        statuses: dict[str, int] = {}
        for b in open_:
            statuses[b.status] = statuses.get(b.status, 0) + 1
        return Poll(
            requests=sum(b.total or b.requests for b in open_),
            completed=sum(b.completed for b in open_),
            failed=sum(b.failed for b in open_),
            batches=len(open_),
            statuses=statuses,
            elapsed=time.perf_counter() - started,
        )

    # --- one pass over the inputs ------------------------------------------------------------------------

    def _pass(self) -> None:
        """Collect every answer whose requests have all come back, plan every answer not graded, cached or awaited;
        then fsync the results and save the state."""
        ready = [b for b in self.state.batches if b.downloaded and not b.collected]
        ready_ids = {id(b) for b in ready}
        run_name = new_run()
        self.files = RequestFiles(
            work_folder(self.out), f"grader-{out_tag(self.out)[:8]}-{run_name}", self.plan.max_requests,
            self.plan.max_bytes,
        )
        self.base = len(self.state.batches)
        self.run = _Run(self.bank, self.writer, set(self.graded), self._report)
        seen: set[str] = set()
        items = discover(self.inputs)
        if self.passes:  # error lines and skips were reported by the first pass
            items = (i for i in items if i.error is None and not isinstance(self.run._rubric(i.question_id), Exception))
        self.passes += 1
        with Results() as results:
            for record in ready:
                for path in self.remote.result_paths(record):
                    results.add(path)
            self.summary.malformed += results.malformed
            try:
                for window in _windows(items):
                    self._window(window, results, ready_ids, seen)
            except BaseException:
                self.files.discard()
                raise
        self._drop_orphans(ready_ids, seen)
        planned_at = time.time()
        for done in self.files.close():
            self.state.batches.append(
                BatchRecord(
                    name=done.path.name, run=run_name, number=done.number, requests=done.requests,
                    bytes=done.bytes, sha256=done.sha256, planned_at=planned_at,
                )
            )
            self.remote.fresh.add(done.path.name)
        for record in ready:
            record.collected = True
        self.writer.fsync()
        self.remote.save()
        for record in ready:
            self.remote.forget_results(record)

    def _window(self, window: list[Item], results: Results, ready: set[int], seen: set[str]) -> None:
        new: list[_Task] = []
        to_cache: list[tuple[str, Grade]] = []
        for item in window:
            task = self.run._prepare(item)
            if task is None:
                continue
            seen.add(task.key)
            record = self.state.items.get(task.key)
            if record is None:
                new.append(task)
                continue
            if any(id(self.state.batches[i]) not in ready for i, _ in record.parts.values()):
                continue  # still with the provider
            settled = self._collect(task, record, results)
            if settled is not None and settled.cached is not None and self.cache is not None:
                key = llm_requests.cache_key(task.rubric, task.item.answer or "", self.options)
                if key:
                    to_cache.append((key, settled.cached))
        self._plan_or_reuse(new)
        self._store(to_cache)

    def _collect(self, task: _Task, record: ItemRecord, results: Results) -> Settled | None:
        """Grade an answer from its replies, or plan what the online path would send next."""
        answer = task.item.answer or ""
        first = llm_requests.first_requests(task.question, task.rubric, answer, self.settings, self.options.samples)
        if _hash(first[0].body) != record.request_hash:
            self.summary.stale += 1
            self._forget(task.key)
            self._plan(task, first)
            return None
        replies: dict[str, Reply | LLMError] = {}
        sends: dict[str, int] = {}
        for part, (index, sent) in record.parts.items():
            value = self._result(task.key, part, self.state.batches[index], results)
            if isinstance(value, _Failed) and self.plan.retry_failed and sent < MAX_SENDS:
                sends[part] = sent
                continue  # missing: settle asks for it again
            replies[part] = value.error if isinstance(value, _Failed) else value
        for custom_id, held in self.state.held.items():
            key, _, part = custom_id.partition(":")
            if key == task.key and part not in record.parts:
                replies[part] = LLMError(held.error) if held.error is not None else _reply_of(held)
        try:
            outcome = llm_requests.settle(task.question, task.rubric, answer, self.options, replies)
        except LLMError as exc:  # no fallback allowed: an error line, as online
            self._forget(task.key)
            self.run._fail(task, exc)
            return None
        if isinstance(outcome, list):
            for custom_part, value in replies.items():
                self.state.held[f"{task.key}:{custom_part}"] = _held(value)
            self.summary.resent += len(outcome)
            self._send(task, outcome, record.request_hash, sends)
            return None
        self._forget(task.key)
        self.writer_line(task, outcome.grade)
        return outcome

    def _result(self, key: str, part: str, batch: BatchRecord, results: Results) -> Reply | _Failed:
        line = results.get(f"{key}:{part}")
        if line is None:
            if batch.status == "failed":
                reason = "the provider rejected the batch" + (f": {batch.errors[0]}" if batch.errors else "")
            else:
                reason = ENDED.get(batch.status, f"the provider batch ended {batch.status}")
            return _Failed(LLMError(reason))
        body, problem = read_result(line)
        if body is None:
            return _Failed(LLMError(problem or "the provider failed this request"))
        try:
            return llm_requests.reply_from(self.settings, body, lambda p, c: batch_cost(self.settings, p, c))
        except LLMError as exc:
            return _Failed(exc)

    def _plan_or_reuse(self, tasks: list[_Task]) -> None:
        """Write the cached grades of `tasks`, plan requests for the others."""
        if not tasks:
            return
        keys = {}
        if self.cache is not None:
            for task in tasks:
                key = llm_requests.cache_key(task.rubric, task.item.answer or "", self.options)
                if key:
                    keys[task.key] = key
        cached = self._lookup(keys.values())
        for task in tasks:
            grade = cached.get(keys.get(task.key, ""))
            if grade is not None:
                answer = task.item.answer or ""
                self.writer_line(task, llm_requests.from_cache(task.rubric, answer, self.options, grade))
                continue
            first = llm_requests.first_requests(
                task.question, task.rubric, task.item.answer or "", self.settings, self.options.samples
            )
            self._plan(task, first)

    def _plan(self, task: _Task, first: list[Request]) -> None:
        self._send(task, first, _hash(first[0].body), {})

    def _send(self, task: _Task, requests: list[Request], request_hash: str, sends: dict[str, int]) -> None:
        lines = []
        for request in requests:
            body = dict(request.body, model=self.api.model)
            lines.append(request_line(f"{task.key}:{request.part}", self.api.url, body))
        number = self.files.add(lines)
        index = self.base + number
        self.state.items[task.key] = ItemRecord(
            request_hash=request_hash, parts={r.part: (index, sends.get(r.part, 0) + 1) for r in requests}
        )

    def writer_line(self, task: _Task, grade: Grade) -> None:
        self.run._graded(task, grade)
        self.graded.add(task.key)
        if grade.usage is not None and not grade.usage.cached:
            self.summary.cost_usd += grade.usage.cost_usd

    def _report(self, outcome: Outcome) -> None:
        if outcome.status == "skipped" and self.passes > 1:
            return  # counted by the first pass
        self.summary.batch.add(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _forget(self, key: str) -> None:
        self.state.items.pop(key, None)
        for custom_id in [c for c in self.state.held if c.partition(":")[0] == key]:
            del self.state.held[custom_id]

    def _drop_orphans(self, ready: set[int], seen: set[str]) -> None:
        """Answers awaited only from collected batches but not in the inputs: already graded, or edited or
        removed since they were sent (their replies cannot be checked without their text)."""
        for key in [k for k in self.state.items if k not in seen]:
            places = [self.state.batches[i] for i, _ in self.state.items[key].parts.values()]
            if all(id(b) in ready for b in places):
                self.summary.orphaned += key not in self.graded
                self._forget(key)

    # --- the LLM cache ------------------------------------------------------------------------------------

    def _open_cache(self) -> object | None:
        if not self.options.use_cache:
            return None
        from grader.llm.cache import GradeCache

        return GradeCache()

    def _lookup(self, keys: Iterable[str]) -> dict[str, Grade]:
        if self.cache is None:
            return {}
        try:
            return self.cache.get_many(keys)  # type: ignore[attr-defined]
        except StorageError:
            return {}

    def _store(self, grades: list[tuple[str, Grade]]) -> None:
        if self.cache is None or not grades:
            return
        with contextlib.suppress(StorageError):  # the cache only saves requests
            self.cache.put_many(grades)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Failed:
    """A request the provider did not answer (or answered with an error): it may be sent again."""

    error: LLMError


def _reply_of(held: HeldReply) -> Reply:
    return Reply(
        content=held.content or "", prompt_tokens=held.prompt_tokens, completion_tokens=held.completion_tokens,
        cost_usd=held.cost_usd, finish_reason=held.finish_reason,
    )


def _held(value: Reply | LLMError) -> HeldReply:
    if isinstance(value, LLMError):
        return HeldReply(error=str(value))
    return HeldReply(
        content=value.content, prompt_tokens=value.prompt_tokens, completion_tokens=value.completion_tokens,
        cost_usd=value.cost_usd, finish_reason=value.finish_reason,
    )


def _hash(body: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _windows(items: Iterator[Item]) -> Iterator[list[Item]]:
    window: list[Item] = []
    for item in items:
        window.append(item)
        if len(window) >= WINDOW:
            yield window
            window = []
    if window:
        yield window
