"""Choosing a grader for an answer and running it: the one entry point the CLI and batch use."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from grader.bank.loader import Bank
from grader.errors import ConfigError, LLMError, StorageError
from grader.flags import KEYWORD_STUFFING, PROMPT_INJECTION
from grader.keyword.grader import answer_flags as rubric_keyword_flags
from grader.keyword.grader import grade_by_keywords as grade_by_rubric_keywords
from grader.models import Disagreement, Grade, Question, Rubric

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from grader.llm.cache import GradeCache
    from grader.llm.client import LLMSettings
    from grader.llm.conversation import Spend

Mode = Literal["auto", "keyword", "llm", "hybrid"]
SAMPLING_TEMPERATURE = 0.7  # used when several samples are asked for and no temperature is given
MAX_SAMPLES = 15  # each sample is a paid request
ANSWER_FLAGS = (KEYWORD_STUFFING, PROMPT_INJECTION)  # flags about the answer itself, whoever grades it
Progress = Callable[[int, int], None]  # (verdicts the model has given, verdicts asked for), while it grades


@dataclass(frozen=True)
class GradeOptions:
    """How to grade. `mode="auto"` uses the LLM when a model is configured, else keywords."""

    mode: Mode = "auto"
    model: str | None = None
    api_base: str | None = None
    timeout: float = 60.0
    samples: int = 1
    use_cache: bool = True
    temperature: float | None = None  # None: 0 for one sample, SAMPLING_TEMPERATURE for several
    max_retries: int = 2
    fallback: bool = True  # False: raise LLMError instead of grading by keywords when the model fails
    client: Literal["auto", "litellm", "openai"] = "auto"

    def method(self) -> Literal["keyword", "llm", "hybrid"]:
        if self.mode == "auto":
            return "llm" if self.model else "keyword"
        return self.mode

    def check(self) -> None:
        """Raise ConfigError for settings that cannot work together."""
        if self.method() != "keyword" and not self.model:
            raise ConfigError(
                f"--mode {self.mode} needs a model: pass --model, set GRADER_MODEL, or set model in the config file"
            )
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise ConfigError(f"--samples must be between 1 and {MAX_SAMPLES}")
        if self.max_retries < 0:
            raise ConfigError("max_retries must not be negative")
        if self.timeout <= 0:
            raise ConfigError("--timeout must be more than 0 seconds")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise ConfigError("--temperature must be between 0 and 2")

    def sampling_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return 0.0 if self.samples == 1 else SAMPLING_TEMPERATURE


def answer_flags(grade: Grade) -> list[str]:
    """The flags of `grade` that are about the answer itself (ANSWER_FLAGS), which every grader reports."""
    return [flag for flag in grade.flags if flag in ANSWER_FLAGS]


def rubric_for(bank: Bank, question: Question) -> Rubric:
    """The question's rubric from the bank; for a question with only a reference answer, one derived from it."""
    if question.reference and not bank.has_rubric(question.id):
        from grader.keyword.reference import bank_stats, derive_rubric  # only banks with reference-only questions

        return derive_rubric(question, stats=bank_stats(bank.questions.values()))
    return bank.rubric(question.id)


def grade_by_keywords(rubric: Rubric, answer: str) -> Grade:
    """The offline grader the rubric names (`Rubric.method`): its key terms for a rubric derived from a reference
    answer, else its keywords."""
    if rubric.method == "reference":
        from grader.keyword.reference import DerivedRubric, grade_by_reference

        if isinstance(rubric, DerivedRubric):
            return grade_by_reference(rubric, answer)
    return grade_by_rubric_keywords(rubric, answer)


def flags_by_keywords(rubric: Rubric, answer: str) -> list[str]:
    """`answer_flags(grade_by_keywords(rubric, answer))`; for a rubric's keywords, without grading (the matching
    the flags come from, not the verdicts and feedback: what a model's grade needs of the keyword grader)."""
    if rubric.method == "reference":
        return answer_flags(grade_by_keywords(rubric, answer))
    return [flag for flag in rubric_keyword_flags(rubric, answer) if flag in ANSWER_FLAGS]


def grade_answer(
    question: Question,
    rubric: Rubric,
    answer: str,
    options: GradeOptions | None = None,
    *,
    progress: Progress | None = None,
) -> Grade:
    """Grade one answer to `question` with the grader `options` select.

    The keyword grader always runs. With a model (mode llm or hybrid, or auto with a model configured) the
    model grades too, with the keyword grade as its witness (`grader.llm.witness`); when it fails the keyword
    grade is returned with `fallback_reason` set and the usage of every request made (or LLMError is raised
    when `options.fallback` is off). Raises ConfigError for unusable settings. `progress`, when given, is told
    how many verdicts the model has given of how many asked, after each request.
    """
    options = options or GradeOptions()
    keyword = grade_by_keywords(rubric, answer)
    if options.method() == "keyword":
        return keyword
    settings = llm_settings(options)
    from grader.llm.conversation import Spend
    from grader.llm.grader import grade_with_llm

    cache, key = _open_cache(question, rubric, answer, settings, options)
    spend = Spend()
    try:
        llm = _lookup(cache, key)
        if llm is None:
            llm = grade_with_llm(
                question, rubric, answer, settings, options.samples, answer_flags(keyword), spend=spend,
                progress=progress,
            )
            _store(cache, key, llm)
    except LLMError as exc:
        return _fall_back(keyword, options, exc, spend)
    return _finish(llm, keyword, answer, options)


async def grade_answer_async(
    question: Question,
    rubric: Rubric,
    answer: str,
    options: GradeOptions | None = None,
    *,
    model_slots: asyncio.Semaphore | None = None,
    progress: Progress | None = None,
) -> Grade:
    """`grade_answer` for an event loop: the model is awaited (litellm.acompletion or the async openai client),
    the cache is read and written off the loop. On the keyword path the keyword grader runs inline; with a
    model, on a helper thread once it is needed (see `_KeywordGrade`). `model_slots`, when given, is held only
    while the model is asked (see `agrade_with_llm`)."""
    options = options or GradeOptions()
    if options.method() == "keyword":
        return grade_by_keywords(rubric, answer)
    settings = llm_settings(options)
    import asyncio

    from grader.llm.conversation import Spend
    from grader.llm.grader import agrade_with_llm

    keyword = _KeywordGrade(rubric, answer)
    cache, key = _open_cache(question, rubric, answer, settings, options)
    spend = Spend()
    try:
        llm = await asyncio.to_thread(_lookup, cache, key) if cache else None
        if llm is None:
            llm = await agrade_with_llm(
                question, rubric, answer, settings, options.samples, keyword.answer_flags, model_slots=model_slots,
                spend=spend, progress=progress,
            )
            if cache:
                await asyncio.to_thread(_store, cache, key, llm)
    except LLMError as exc:
        return _fall_back(await keyword.grade(), options, exc, spend)
    return _finish(llm, await keyword.grade(), answer, options)


def _finish(llm: Grade, keyword: Grade | Callable[[], Grade], answer: str, options: GradeOptions) -> Grade:
    """The model's grade with the keyword grade's testimony (`llm_keyword_gap`), and for hybrid, where they differ.
    `keyword` may be a function that grades (once) when called: most grades need no more of it than the flags."""
    from grader.llm.witness import witness

    graded = keyword if callable(keyword) else lambda: keyword
    llm = witness(llm, graded, answer)
    return _reconcile(llm, graded()) if options.method() == "hybrid" else llm


async def prepare_async(options: GradeOptions) -> None:
    """Ready what every LLM grade needs before grading concurrently: checked settings and the model client
    (ConfigError when they cannot work). Nothing for the keyword path."""
    if options.method() == "keyword":
        return
    from grader.llm.client import aprepare

    await aprepare(llm_settings(options))


class _KeywordGrade:
    """The keyword grade of an answer graded by a model, computed once, when first awaited, on one helper thread.

    A model's grade needs it for the answer's flags once the model has replied, as the fallback, and for hybrid
    grading; not before the request is sent, nor at all for a cached grade. Computed inline it would hold the
    event loop (about a millisecond an answer, some 20 ms for a rubric's first answer, which compiles it) while
    other answers wait to send their request or read their reply; on a thread the loop can take the GIL back
    every switch interval. One thread for every answer, so the loop competes for the GIL with one other: it
    is started late, not as soon as the answer is taken, for the same reason (while a batch sends its first
    requests, the thread would be compiling the rubrics of all of them).
    """

    _executor: ClassVar[ThreadPoolExecutor | None] = None

    def __init__(self, rubric: Rubric, answer: str) -> None:
        self._rubric = rubric
        self._answer = answer
        self._future: asyncio.Future[Grade] | None = None

    async def grade(self) -> Grade:
        import asyncio

        if self._future is None:
            self._future = asyncio.get_running_loop().run_in_executor(
                self._thread(), grade_by_keywords, self._rubric, self._answer
            )
        return await self._future

    async def answer_flags(self) -> list[str]:
        return answer_flags(await self.grade())

    @classmethod
    def _thread(cls) -> ThreadPoolExecutor:
        if cls._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            cls._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grade-keywords")
        return cls._executor


def llm_settings(options: GradeOptions, *, temperature: float | None = None) -> LLMSettings:
    """The model call settings `options` give (checked, and the client checked to be installed); `temperature`
    overrides the sampling temperature (drafting rubrics asks for 0)."""
    options.check()
    from grader.llm.client import LLMSettings, ensure_installed

    settings = LLMSettings(
        model=options.model or "",
        api_base=options.api_base,
        timeout=options.timeout,
        max_retries=options.max_retries,
        temperature=options.sampling_temperature() if temperature is None else temperature,
        client=options.client,
    )
    ensure_installed(settings)
    return settings


def _open_cache(
    question: Question, rubric: Rubric, answer: str, settings: LLMSettings, options: GradeOptions
) -> tuple[GradeCache | None, str]:
    if not options.use_cache:
        return None, ""
    from grader.llm.cache import GradeCache

    return GradeCache(), llm_cache_key(question, rubric, answer, settings, options)


def llm_cache_key(
    question: Question, rubric: Rubric, answer: str, settings: LLMSettings, options: GradeOptions
) -> str:
    """The LLM cache key of a model's grade of this answer with these settings (whether the cache is on or not)."""
    from grader.llm.cache import cache_key, code_version
    from grader.llm.prompt import template_fingerprint
    from grader.llm.schema import schema_fingerprint

    return cache_key(
        question=question,
        rubric=rubric,
        answer=answer,
        model=settings.model,
        api_base=settings.api_base,
        samples=options.samples,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        templates=template_fingerprint(),
        schema=schema_fingerprint(),
        code=code_version(),
    )


def _lookup(cache: GradeCache | None, key: str) -> Grade | None:
    """The cached grade, if any; a cache that cannot be read is skipped (it only saves requests)."""
    if cache is None:
        return None
    try:
        return cache.get(key)
    except StorageError:
        return None


def _store(cache: GradeCache | None, key: str, grade: Grade) -> None:
    if cache is None:
        return
    with contextlib.suppress(StorageError):
        cache.put(key, grade)


def _fall_back(keyword: Grade, options: GradeOptions, error: LLMError, spend: Spend) -> Grade:
    """The keyword grade, saying why the model's was not used and what the attempt cost."""
    if not options.fallback:
        raise error
    return keyword.model_copy(update={"fallback_reason": str(error), "usage": spend.usage()})


def _reconcile(llm: Grade, keyword: Grade) -> Grade:
    """The LLM's grade, with every concept where the keyword grader tells a different story listed."""
    by_id = {c.id: c for c in keyword.concepts}
    disagreements: list[Disagreement] = []
    for concept in llm.concepts:
        other = by_id.get(concept.id)
        if other is None:
            continue
        if concept.status != "missing" and other.status == "missing":
            note = "the LLM found this concept, but none of its keywords occur in the answer"
        elif concept.status == "missing" and other.status != "missing":
            note = f"keywords matched ({', '.join(other.matched[:3])}), but the LLM judged the concept missing"
        else:
            continue
        disagreements.append(
            Disagreement(concept_id=concept.id, llm_status=concept.status, keyword_status=other.status, note=note)
        )
    return llm.model_copy(update={"method": "hybrid", "disagreements": disagreements})
