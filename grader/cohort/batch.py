"""Batch grading: answers found in INPUT paths are graded one by one and appended to a results file.

Inputs (see `discover`): a directory tree of `.md`/`.txt` answer files, one answer a file; JSONL files
with `candidate`, `question`, `answer` on each line; CSV files with those three columns. Items are read
lazily, so a batch of any size runs in constant memory.

Resume: every answer has a key (candidate, question id, sha256 of the answer text). Answers whose key has a
graded line in the results file are skipped; error lines are retried. The keyword path grades in-process,
one answer after the other; the LLM path grades `concurrency` answers at a time with asyncio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grader import pipeline
from grader.bank.loader import Bank
from grader.cohort.inputs import Item, discover
from grader.cohort.results import ResultsWriter, answer_key, error_line, graded_line
from grader.errors import AnswerError, BankError, ConfigError, GraderError, LLMError, UnknownQuestionError
from grader.models import Grade, Question, Rubric

KEYWORD_SYNC_EVERY = 0.2  # seconds between fsyncs on the keyword path (a kill loses nothing either way)
# The keyword path grades the items in windows of this many items (or this much answer text), each window in
# order of question: consecutive answers to one question keep its rubric's tables in the CPU caches, which makes
# grading about 20% faster than in the candidate-by-candidate order of a folder tree.
WINDOW_ITEMS = 4096
WINDOW_BYTES = 8 << 20
FAILURES_KEPT = 20  # failures listed in the summary
WORKERS_PER_SLOT = 4  # LLM path: answers in progress per answer with the model (see grade_concurrently)

Status = Literal["graded", "failed", "skipped"]
ExitKind = Literal["unknown_question", "answer", "input", "bank", "llm", "internal"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item; passed to `on_outcome` as soon as it is known."""

    candidate: str
    question_id: str
    source: str
    status: Status
    grade: Grade | None = None
    error: str | None = None
    exit_kind: str | None = None

    @property
    def fallback(self) -> bool:
        return self.grade is not None and self.grade.fallback_reason is not None


@dataclass
class BatchSummary:
    """The totals of one run. `status`: ok, partial (some failed), failed (all failed) or empty."""

    out: Path
    found: int = 0
    graded: int = 0
    skipped: int = 0
    failed: int = 0
    fallbacks: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source, error), the first few

    @property
    def status(self) -> Literal["ok", "partial", "failed", "empty"]:
        if self.found == 0:
            return "empty"
        if self.failed == 0:
            return "ok"
        return "partial" if self.graded + self.skipped > 0 else "failed"

    @property
    def rate(self) -> float:
        return self.graded / self.seconds if self.seconds > 0 else 0.0

    def add(self, outcome: Outcome) -> None:
        self.found += 1
        if outcome.status == "graded":
            self.graded += 1
            self.fallbacks += outcome.fallback
        elif outcome.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            kind = outcome.exit_kind or "internal"
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if len(self.failures) < FAILURES_KEPT:
                self.failures.append((outcome.source, outcome.error or ""))

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "out": str(self.out),
            "found": self.found,
            "graded": self.graded,
            "skipped": self.skipped,
            "failed": self.failed,
            "fallbacks": self.fallbacks,
            "seconds": round(self.seconds, 3),
            "failed_by_kind": dict(self.by_kind),
            "failures": [{"source": s, "error": e} for s, e in self.failures],
        }


@dataclass(frozen=True, slots=True)
class _Task:
    """An item ready to grade."""

    item: Item
    question: Question
    rubric: Rubric
    key: str


OnOutcome = Callable[[Outcome], None]


def run_batch(
    bank: Bank,
    inputs: Iterable[Path],
    out: Path,
    options: pipeline.GradeOptions | None = None,
    concurrency: int = 4,
    on_outcome: OnOutcome | None = None,
    *,
    follow_symlinks: bool = False,
) -> BatchSummary:
    """Grade every answer found in `inputs` into `out`, skipping those `out` already has a grade for.

    `out` is checked to be a results file (or new) before anything is written to it (StorageError otherwise);
    symbolic links inside input folders are followed only with `follow_symlinks`."""
    options = options or pipeline.GradeOptions()
    llm = options.method() != "keyword"
    summary = BatchSummary(out=out)
    started = time.perf_counter()

    def report(outcome: Outcome) -> None:
        summary.add(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    with ResultsWriter(out, sync_every=None if llm else KEYWORD_SYNC_EVERY) as writer:
        run = _Run(bank, writer, writer.graded, report)
        items = discover(inputs, follow_symlinks=follow_symlinks)
        try:
            if llm:
                import asyncio  # only the LLM path runs an event loop

                asyncio.run(run.grade_concurrently(items, options, max(1, concurrency)))
            else:
                run.grade_in_turn(items, options)
        finally:
            summary.seconds = time.perf_counter() - started
    return summary


class _Run:
    """One batch run: turns items into tasks or outcomes, grades tasks, writes lines."""

    def __init__(self, bank: Bank, writer: ResultsWriter, done: set[str], report: OnOutcome) -> None:
        self.bank = bank
        self.writer = writer
        self.seen = done  # keys graded before, and keys taken in this run (a repeated answer is graded once)
        self.report = report
        self._rubrics: dict[str, tuple[Question, Rubric] | GraderError] = {}

    def grade_in_turn(self, items: Iterator[Item], options: pipeline.GradeOptions) -> None:
        grade = pipeline.grade_answer
        for item in _by_question(items):
            task = self._prepare(item)
            if task is None:
                continue
            try:
                result = grade(task.question, task.rubric, task.item.answer or "", options)
            except ConfigError:
                raise
            except Exception as exc:
                self._fail(task, exc)
                continue
            self._graded(task, result)

    async def grade_concurrently(self, items: Iterator[Item], options: pipeline.GradeOptions, concurrency: int) -> None:
        """Workers share the item stream; `concurrency` of them at a time may be with the model (`model_slots`).
        The others prepare their next answer or finish their last one meanwhile, so a slot the model frees is
        taken at once by an answer ready to send. The model client is made ready once the first answer to
        grade is found (a run that skips everything needs none)."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        loop = asyncio.get_running_loop()
        stop: list[BaseException] = []
        first = self._next_task(items)
        if first is None:
            return
        pending = [first]
        model_slots = asyncio.Semaphore(concurrency)
        workers = concurrency * WORKERS_PER_SLOT
        with ThreadPoolExecutor(max_workers=workers + 2, thread_name_prefix="grade") as pool:
            loop.set_default_executor(pool)  # asyncio.to_thread in the graders must not cap concurrency
            await pipeline.prepare_async(options)  # ConfigError stops the run before any request

            async def worker() -> None:
                while not stop:
                    task = pending.pop() if pending else self._next_task(items)
                    if task is None:
                        return
                    try:
                        result = await pipeline.grade_answer_async(
                            task.question, task.rubric, task.item.answer or "", options, model_slots=model_slots
                        )
                    except ConfigError as exc:
                        stop.append(exc)
                        return
                    except Exception as exc:  # one bad answer must not stop the batch
                        self._fail(task, exc)
                    else:
                        self._graded(task, result)
                    if self.writer.unsynced:  # every paid grade reaches the disk, without blocking the loop
                        await loop.run_in_executor(pool, self.writer.fsync)

            await asyncio.gather(*(worker() for _ in range(workers)))
        if stop:
            raise stop[0]

    def _next_task(self, items: Iterator[Item]) -> _Task | None:
        for item in items:
            task = self._prepare(item)
            if task is not None:
                return task
        return None

    def _prepare(self, item: Item) -> _Task | None:
        """A task to grade, or None when the item failed before grading or was graded already."""
        if item.error is not None:
            self._write_error(item, item.question_id, _error_key(item), item.error, item.exit_kind or "input")
            return None
        found = self._rubric(item.question_id)
        if isinstance(found, GraderError):
            self._write_error(item, item.question_id, _error_key(item), str(found), _kind(found))
            return None
        question, rubric = found
        key = answer_key(item.candidate, question.id, item.answer or "")
        if key in self.seen:
            self.report(Outcome(item.candidate, question.id, item.source, "skipped"))
            return None
        self.seen.add(key)
        return _Task(item, question, rubric, key)

    def _rubric(self, question_id: str) -> tuple[Question, Rubric] | GraderError:
        found = self._rubrics.get(question_id)
        if found is None:
            try:
                question = self.bank.question(question_id)
                found = (question, pipeline.rubric_for(self.bank, question))
            except (UnknownQuestionError, BankError) as exc:
                found = exc
            self._rubrics[question_id] = found
        return found

    def _graded(self, task: _Task, grade: Grade) -> None:
        item = task.item
        self.writer.write(graded_line(item.candidate, task.question.id, item.source, task.key, grade.model_dump_json()))
        self.report(Outcome(item.candidate, task.question.id, item.source, "graded", grade=grade))

    def _fail(self, task: _Task, exc: Exception) -> None:
        self.seen.discard(task.key)
        message = str(exc) if isinstance(exc, GraderError) else f"internal error: {type(exc).__name__}: {exc}"
        self._write_error(task.item, task.question.id, task.key, message, _kind(exc))

    def _write_error(self, item: Item, question_id: str, key: str, message: str, kind: str) -> None:
        self.writer.write(error_line(item.candidate, question_id, item.source, key, message, kind))
        self.report(Outcome(item.candidate, question_id, item.source, "failed", error=message, exit_kind=kind))


def _by_question(items: Iterator[Item]) -> Iterator[Item]:
    """The items in windows of WINDOW_ITEMS (at most WINDOW_BYTES of answers), each window sorted by question."""
    window: list[Item] = []
    size = 0
    for item in items:
        window.append(item)
        size += len(item.answer or "")
        if len(window) >= WINDOW_ITEMS or size >= WINDOW_BYTES:
            yield from sorted(window, key=_question_of)
            window, size = [], 0
    yield from sorted(window, key=_question_of)


def _question_of(item: Item) -> str:
    return item.question_id


def _error_key(item: Item) -> str:
    """The key of an item that could not be read or has no rubric: its answer's, else its source's."""
    return answer_key(item.candidate, item.question_id, item.answer if item.answer is not None else "\0" + item.source)


def _kind(exc: BaseException) -> ExitKind:
    if isinstance(exc, UnknownQuestionError):
        return "unknown_question"
    if isinstance(exc, AnswerError):
        return "answer"
    if isinstance(exc, BankError):
        return "bank"
    if isinstance(exc, LLMError):
        return "llm"
    return "internal"
