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

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader import pipeline
from grader.bank.loader import Bank
from grader.cohort import llm_requests
from grader.cohort.batch import BatchSummary, OnOutcome, Outcome, _Run, _Task
from grader.cohort.inputs import Item, discover
from grader.cohort.llm_requests import Request
from grader.cohort.provider_collect import Collected, CollectJob, Collector, Part, hold
from grader.cohort.provider_files import MAX_BYTES, MAX_REQUESTS, RequestFiles, Results, request_line
from grader.cohort.provider_remote import Remote
from grader.cohort.provider_state import (
    HELD,
    KEY_CHARS,
    BatchRecord,
    HeldReply,
    ItemRecord,
    load_state,
    new_run,
    new_state,
    out_tag,
    state_path,
    work_folder,
)
from grader.cohort.results import ResultsWriter, graded_keys, graded_line
from grader.errors import ConfigError, LLMError, StorageError
from grader.llm.batch_api import BatchAPI, open_batch_api
from grader.llm.client import LLMSettings
from grader.models import Grade

if TYPE_CHECKING:
    from grader.llm.cache import GradeCache

WINDOW = 4096  # answers read at a time: their cache lookups are one query, their collection one hand-out
SYNC_EVERY = 0.2  # seconds between fsyncs of the results while collecting (and always before the state is saved)


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
    awaited: int = 0  # answers in the inputs still awaited from the provider
    submitted: int = 0  # requests sent in new batches by this run
    batches_created: int = 0
    pending: int = 0  # answers awaited from the provider
    resent: int = 0  # requests sent after the first: failed or expired ones again, repairs, halves, next chunks
    kept: int = 0  # answers not in the inputs whose replies came back: kept in the state for a run that has them
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
            found=self.batch.found + self.awaited,
            state=str(self.state),
            submitted=self.submitted,
            batches_created=self.batches_created,
            pending=self.pending,
            resent=self.resent,
            kept=self.kept,
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


def _settings_record(options: pipeline.GradeOptions, api: BatchAPI) -> dict[str, object]:
    return {
        "model": options.model,
        "api_base": (options.api_base or "").rstrip("/") or None,
        "mode": options.method(),
        "samples": options.samples,
        "temperature": options.sampling_temperature(),
        "provider_model": api.model,
    }


class _Job:
    """One run over one results file."""

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
            awaited = sum(1 for item in state.items.values() if any(i != HELD for _, i, _ in item.parts))
            if awaited:
                raise ConfigError(
                    f"{state_path(out)}: {awaited:,} answers are awaited from batches sent with other "
                    f"settings (model {state.settings.get('model')}, {state.settings.get('samples')} samples, "
                    f"mode {state.settings.get('mode')}): collect them with those settings first (--cancel stops them "
                    "early), or use another --out"
                )
            state.settings = record
        self.state = state or new_state(out, record)
        self.remote = Remote(api, out, self.state)
        self.graded = graded_keys(out)
        self.cache = _open_cache(options)
        self.passes = 0

    def run(self, on_poll: OnPoll | None, started: float) -> None:
        workers_close = (self.writer.fileno(),)  # a forked worker must not keep the results file (and its lock)
        with Collector(self.bank, self.options, self.settings, self.plan.retry_failed, workers_close) as self.collector:
            self.remote.tidy()
            self.remote.submit_planned(self._submitted)  # left planned by a killed run
            self.remote.refresh()
            self._pass()
            self.remote.submit_planned(self._submitted)
            while self.plan.wait and self._awaiting():
                if on_poll is not None:
                    on_poll(self._poll(started))
                time.sleep(self.plan.poll_every)
                if self.remote.refresh():
                    self._pass()
                    self.remote.submit_planned(self._submitted)
        if on_poll is not None and self.plan.wait:
            on_poll(self._poll(started))
        self.summary.pending = self._awaiting()
        self.summary.awaited = sum(1 for key in self.seen if key in self.state.items)
        self.summary.open_batches = [b for b in self.state.batches if b.batch_id and not b.collected]

    def _awaiting(self) -> int:
        """Answers with requests the provider has not answered yet (not those whose replies are all kept)."""
        return sum(1 for record in self.state.items.values() if any(i != HELD for _, i, _ in record.parts))

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
        then fsync the results and save the state (and only then forget the collected result files)."""
        ready = [b for b in self.state.batches if b.downloaded and not b.collected]
        self.ready = {id(b) for b in ready}
        run_name = new_run()
        self.files = RequestFiles(
            work_folder(self.out), f"grader-{out_tag(self.out)[:8]}-{run_name}", self.plan.max_requests,
            self.plan.max_bytes,
        )
        self.base = len(self.state.batches)
        self.run = _Run(self.bank, self.writer, set(self.graded), self._report)
        self.seen: set[str] = set()
        items = discover(self.inputs)
        if self.passes:  # error lines and skips were written and counted by the first pass
            items = (i for i in items if i.error is None and not isinstance(self.run._rubric(i.question_id), Exception))
        self.passes += 1
        with Results() as self.results:
            for record in ready:
                for path in self.remote.result_paths(record):
                    self.results.add(path)
            self.summary.malformed += self.results.malformed
            try:
                for window in _windows(items):
                    self._window(window)
            except BaseException:
                self.files.discard()
                raise
        self._keep_absent()
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
        if self.state.batches or self.state.items or state_path(self.out).exists():  # no state for nothing sent
            self.remote.save()
        for record in ready:
            self.remote.forget_results(record)

    def _window(self, window: list[Item]) -> None:
        new: list[_Task] = []
        back: list[tuple[_Task, CollectJob]] = []
        for item in window:
            task = self.run._prepare(item)
            if task is None:
                continue
            self.seen.add(task.key)
            record = self.state.items.get(task.key)
            if record is None:
                new.append(task)
            elif self._back(record):
                back.append((task, self._job(task, record)))
        back.sort(key=lambda pair: pair[1].question_id)  # one rubric's answers together: its tables stay in cache
        tasks = {task.key: task for task, _ in back}
        for done in self.collector.collect([job for _, job in back]):
            self._apply(tasks[done.key], done)
        self._plan_or_reuse(new)

    def _back(self, record: ItemRecord) -> bool:
        """Whether every part of an awaited answer has come back (or is held)."""
        return all(index == HELD or id(self.state.batches[index]) in self.ready for _, index, _ in record.parts)

    def _job(self, task: _Task, record: ItemRecord) -> CollectJob:
        answer = task.item.answer or ""
        parts = self._parts(task.key, record)
        return CollectJob(task.key, task.question.id, answer, record.request_key, parts, record.start)

    def _parts(self, key: str, record: ItemRecord) -> dict[str, Part]:
        parts = {}
        held = self.state.held.get(key, {})
        for part, index, sent in record.parts:
            if index == HELD:
                parts[part] = Part(None, "held", None, sent, held.get(part) or HeldReply(error="lost", failed=True))
                continue
            batch = self.state.batches[index]
            where = self.results.where(f"{key}:{part}")
            parts[part] = Part(where, batch.status, batch.errors[0] if batch.errors else None, sent)
        return parts

    def _apply(self, task: _Task, done: Collected) -> None:
        record = self.state.items[task.key]
        if done.kind == "graded":
            assert done.grade_json is not None
            self._forget(task.key)
            self._write_json(task, done.grade_json, done.fallback, done.cost_usd)
        elif done.kind == "failed":
            assert done.error is not None
            self._forget(task.key)
            self.run._fail(task, done.error)
        elif done.kind == "stale":
            self.summary.stale += 1
            self._forget(task.key)
            self._plan(task)
        else:
            self.summary.resent += len(done.requests)
            self._send(task, done.requests, record.request_key, record.start, done.sends, done.held)

    def _plan_or_reuse(self, tasks: list[_Task]) -> None:
        """Write the cached grades of `tasks`, plan requests for the others."""
        if not tasks:
            return
        keys = {
            task.key: llm_requests.request_key(task.question, task.rubric, task.item.answer or "", self.options)
            for task in tasks
        }
        cached = self._lookup(keys.values())
        for task in tasks:
            grade = cached.get(keys[task.key])
            if grade is not None:
                answer = task.item.answer or ""
                self._write(task, llm_requests.from_cache(task.rubric, answer, self.options, grade))
            else:
                self._plan(task, keys[task.key])

    def _plan(self, task: _Task, request_key: str | None = None) -> None:
        answer = task.item.answer or ""
        key = request_key or llm_requests.request_key(task.question, task.rubric, answer, self.options)
        first = llm_requests.first_requests(task.question, task.rubric, answer, self.settings, self.options.samples)
        if first.requests:
            self._send(task, first.requests, key, first.start, {})
            return
        try:  # the conversation ended before asking anything (an answer with no words): its fallback, as online
            settled = llm_requests.settle(task.question, task.rubric, answer, self.options, {}, first.start)
        except LLMError as exc:
            self.run._fail(task, exc)
            return
        assert isinstance(settled, llm_requests.Settled)
        self._write(task, settled.grade)

    def _send(
        self, task: _Task, requests: list[Request], request_key: str, start: str, sends: dict[str, int],
        held: dict[str, HeldReply] | None = None,
    ) -> None:
        """Plan `requests` for an answer (the outcomes of its other requests `held` meanwhile)."""
        model = self.api.model
        lines = [  # the body's JSON its id was made from, when the provider names the model as the online path does
            request_line(
                f"{task.key}:{r.id}", self.api.url, dict(r.body, model=model),
                r.text if r.body.get("model") == model else "",
            )
            for r in requests
        ]
        index = self.base + self.files.add(lines)
        parts = tuple((r.id, index, sends.get(r.id, 0) + 1) for r in requests)
        if held:
            parts += tuple((part, HELD, 0) for part in held)
            self.state.held[task.key] = held
        self.state.items[task.key] = ItemRecord(request_key[:KEY_CHARS], parts, start)

    def _write(self, task: _Task, grade: Grade) -> None:
        self.run._graded(task, grade)
        self.graded.add(task.key)

    def _write_json(self, task: _Task, grade_json: str, fallback: bool, cost_usd: float) -> None:
        """A grade collected by a worker, as its JSON: the line `_Run._graded` would write."""
        item = task.item
        self.writer.write(graded_line(item.candidate, task.question.id, item.source, task.key, grade_json))
        self.graded.add(task.key)
        self.summary.cost_usd += cost_usd
        self.summary.batch.fallbacks += fallback
        self._report(Outcome(item.candidate, task.question.id, item.source, "graded"))

    def _report(self, outcome: Outcome) -> None:
        if outcome.status == "skipped" and self.passes > 1:
            return  # counted by the first pass
        self.summary.batch.add(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _forget(self, key: str) -> None:
        self.state.items.pop(key, None)
        self.state.held.pop(key, None)

    def _keep_absent(self) -> None:
        """Answers whose replies came back but which are not in these inputs: forgotten when `out` has their
        grade; else their replies are kept in the state for a run whose inputs have them (an answer edited since
        it was sent never comes back: its new text is a new answer)."""
        for key in [k for k in self.state.items if k not in self.seen]:
            record = self.state.items[key]
            if not self._back(record) or all(index == HELD for _, index, _ in record.parts):
                continue
            if key in self.graded:
                self._forget(key)
                continue
            self.summary.kept += 1
            held = self.state.held.setdefault(key, {})
            for part, got in self._parts(key, record).items():
                if got.held is None:
                    held[part] = hold(got, self.settings)
            self.state.items[key] = record._replace(parts=tuple((p, HELD, sent) for p, _, sent in record.parts))

    # --- the LLM cache ------------------------------------------------------------------------------------

    def _lookup(self, keys: Iterable[str]) -> dict[str, Grade]:
        if self.cache is None:
            return {}
        try:
            return self.cache.get_many(keys)
        except StorageError:
            return {}



def _open_cache(options: pipeline.GradeOptions) -> GradeCache | None:
    if not options.use_cache:
        return None
    from grader.llm.cache import GradeCache

    return GradeCache()


def _windows(items: Iterator[Item]) -> Iterator[list[Item]]:
    window: list[Item] = []
    for item in items:
        window.append(item)
        if len(window) >= WINDOW:
            yield window
            window = []
    if window:
        yield window
