"""Grading with a language model: the answer cut into numbered passages, samples asked concurrently
(`conversation`), every citation checked (`support`), a majority over samples, and a `Grade` whose score is
computed in code.

Agreement (`confidence`) is the share of the requested samples whose model said the majority verdict: it is
about what the model said. The status shown is what survived the evidence check; when the check took the
credit away, `claimed` keeps what the model said and the reason says why it did not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from grader.errors import LLMError
from grader.feedback import grade_from_verdicts
from grader.flags import UNVERIFIED_EVIDENCE
from grader.llm.capabilities import ModelNotes
from grader.llm.client import LLMSettings, acomplete, aprepare, check_key
from grader.llm.conversation import Conversation, Progress, Send, Spend
from grader.llm.evidence import locate_quote
from grader.llm.passages import Passage, split_passages
from grader.llm.schema import Verdicts
from grader.llm.support import Claim, Terms, check_claims, citation_problem, rubric_terms
from grader.memo import PerRubric
from grader.models import ConceptResult, Grade, MisconceptionResult, Question, Rubric, Status
from grader.scoring import CREDIT

MAX_REASON = 240
UNVERIFIED_STATUS: Status = "missing"  # credit needs evidence that carries the concept
UNVERIFIED_REASON = "Downgraded from {status}: {problem}."
NO_PASSAGES = "the answer has no words to cite"
UNVERIFIED_QUOTE = "(quote not found in the answer)"
_QUOTED = re.compile(r'"([^"\n]{4,300})"|“([^”\n]{4,300})”')

T = TypeVar("T")


@dataclass(frozen=True)
class _Sample:
    """One sample's verdicts, with the passages they cite and why each citation of credit fails (None: holds)."""

    said: Verdicts
    concept_problems: dict[str, str | None]
    charged: dict[str, Passage]  # misconceptions stated on a passage that holds up
    unproven: set[str]  # misconceptions stated on a passage that does not


def grade_with_llm(
    question: Question,
    rubric: Rubric,
    answer: str,
    settings: LLMSettings,
    samples: int = 1,
    answer_flags: Sequence[str] = (),
    *,
    spend: Spend | None = None,
    progress: Progress | None = None,
) -> Grade:
    """Grade `answer` with the model in `settings`, `samples` times at once; raises LLMError when no sample
    succeeds. Runs an event loop of its own (on a helper thread when this thread already runs one)."""
    return run_sync(
        agrade_with_llm(
            question, rubric, answer, settings, samples, answer_flags, spend=spend, progress=progress
        )
    )


async def agrade_with_llm(
    question: Question,
    rubric: Rubric,
    answer: str,
    settings: LLMSettings,
    samples: int = 1,
    answer_flags: Sequence[str] | Callable[[], Awaitable[Sequence[str]]] = (),
    *,
    model_slots: asyncio.Semaphore | None = None,
    spend: Spend | None = None,
    progress: Progress | None = None,
    send: Send | None = None,
    notes: ModelNotes | None = None,
) -> Grade:
    """`grade_with_llm` for an event loop. `answer_flags` may be an async function (the flags are still being
    computed), awaited once the samples are in. `spend`, when given, receives every reply (a caller that falls
    back still knows what was spent). `send`, when given, makes the requests instead of `client.acomplete`, and
    `notes` stands for what the model is remembered to accept (the provider-batch path replays recorded replies
    through both: grader/cohort/llm_requests.py). An exception `send` raises that is not an LLMError leaves this
    function once every sample has run.

    `model_slots`, when given, is held while the requests are built and made (every sample, chunk and repair),
    and released before the grade is put together: a caller grading many answers at once bounds how many are
    with the model, while others that wait for their flags do not hold a slot."""
    spend = spend if spend is not None else Spend()
    check_key(settings)  # before any import: a missing key is known at once
    passages = split_passages(answer)
    if not passages:
        raise LLMError(NO_PASSAGES)
    async with model_slots or contextlib.nullcontext():
        if send is None:
            await aprepare(settings)  # the client library is imported before any request's deadline starts
        talk = Conversation(question, rubric, passages, settings, spend, progress, send=send or acomplete, notes=notes)
        talk.total = samples * len(talk.whole)
        gathered = await _samples(talk, samples)
    results: list[Verdicts | LLMError] = []
    for item in gathered:
        if isinstance(item, BaseException) and not isinstance(item, LLMError):
            raise item
        results.append(item)
    flags = await answer_flags() if callable(answer_flags) else answer_flags
    return _combine(question, rubric, passages, settings, results, flags, spend)


async def _samples(talk: Conversation, samples: int) -> list[Verdicts | BaseException]:
    """Every sample's verdicts or error, asked concurrently. One sample is awaited in place, without a task:
    the same outcome, and a conversation whose `send` never waits then never suspends (the provider-batch
    replays drive it without an event loop)."""
    if samples == 1:
        try:
            return [await talk.sample()]
        except LLMError as exc:
            return [exc]
    return await asyncio.gather(*(talk.sample() for _ in range(samples)), return_exceptions=True)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end from synchronous code."""
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False  # (asyncio.run is not called in here: its errors would carry this one as their context)
    if not running:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="grade-llm") as pool:
        return pool.submit(asyncio.run, coroutine).result()


_TERMS: PerRubric[Terms] = PerRubric()


def _check(question: Question, rubric: Rubric, passages: tuple[Passage, ...], said: Verdicts) -> _Sample:
    """The citations of one sample checked against the answer and the rubric."""
    terms = _TERMS.get(rubric, lambda r: rubric_terms(question, r))
    by_label = {p.label: p for p in passages}
    claims = [
        Claim(c.id, said.concepts[c.id].status, by_label.get(said.concepts[c.id].evidence)) for c in rubric.concepts
    ]
    problems = check_claims(claims, terms, {c.id: c.weight for c in rubric.concepts})
    charged: dict[str, Passage] = {}
    unproven: set[str] = set()
    for m in rubric.misconceptions:
        stated = said.misconceptions[m.id]
        if not stated.stated:
            continue
        passage = by_label.get(stated.evidence)
        if passage is not None and citation_problem(passage, terms.misconceptions[m.id]) is None:
            charged[m.id] = passage
        else:
            unproven.add(m.id)  # a misconception is never charged on a passage that does not state it
    return _Sample(said, {c.id: p for c, p in zip(rubric.concepts, problems, strict=True)}, charged, unproven)


def _combine(
    question: Question,
    rubric: Rubric,
    passages: tuple[Passage, ...],
    settings: LLMSettings,
    results: list[Verdicts | LLMError],
    answer_flags: Sequence[str],
    spend: Spend,
) -> Grade:
    """The majority verdict per concept over the samples that succeeded, checked, and scored by `compute_score`.

    Agreement is the share of all requested samples that said the majority verdict: a sample that failed agreed
    with nothing. Ties go to the lower credit."""
    good = [_check(question, rubric, passages, r) for r in results if isinstance(r, Verdicts)]
    if not good:
        raise next(r for r in results if isinstance(r, LLMError))
    answer = _answer_text(passages)
    by_label = {p.label: p for p in passages}
    several = len(results) > 1
    concepts: list[ConceptResult] = []
    agreements: list[float] = []
    downgraded = False
    for concept in rubric.concepts:
        votes = Counter(s.said.concepts[concept.id].status for s in good)
        status = max(votes, key=lambda st: (votes[st], -CREDIT[st]))
        agreement = votes[status] / len(results)
        agreements.append(agreement)
        saying = [s for s in good if s.said.concepts[concept.id].status == status]
        holding = next((s for s in saying if s.concept_problems[concept.id] is None), None)
        shown: Status = status
        claimed: Status | None = None
        evidence: str | None = None
        if holding is not None:
            said = holding.said.concepts[concept.id]
            passage = by_label.get(said.evidence)
            evidence = passage.text if passage is not None and status != "missing" else None
            reason = _clip(_scrub(said.reason, answer), MAX_REASON) or None
        else:
            downgraded = True
            shown, claimed = UNVERIFIED_STATUS, status
            reason = UNVERIFIED_REASON.format(status=status, problem=saying[0].concept_problems[concept.id])
        concepts.append(
            ConceptResult(
                id=concept.id,
                name=concept.name,
                weight=concept.weight,
                status=shown,
                confidence=round(agreement, 2) if several else None,
                evidence=evidence,
                reason=reason,
                claimed=claimed,
            )
        )
    misconceptions: list[MisconceptionResult] = []
    for m in rubric.misconceptions:
        charged = [s.charged[m.id] for s in good if m.id in s.charged]
        if len(charged) * 2 > len(good):
            misconceptions.append(
                MisconceptionResult(
                    id=m.id, description=m.description, penalty=m.penalty, evidence=charged[0].text,
                    correction=m.correction,
                )
            )
        elif sum(m.id in s.unproven for s in good) * 2 > len(good):
            downgraded = True
    flags = list(dict.fromkeys(answer_flags))
    if downgraded and UNVERIFIED_EVIDENCE not in flags:
        flags.append(UNVERIFIED_EVIDENCE)
    return grade_from_verdicts(
        rubric,
        "llm",
        concepts,
        misconceptions,
        flags,
        model=settings.model,
        usage=spend.usage(),
        confidence=round(sum(agreements) / len(agreements), 2) if several and agreements else None,
    )


def _answer_text(passages: tuple[Passage, ...]) -> str:
    return "\n".join(p.text for p in passages)


def _scrub(text: str, answer: str) -> str:
    """`text` (a model's reason) with every quotation that is not in the answer replaced."""

    def check(match: re.Match[str]) -> str:
        quoted = match.group(1) or match.group(2)
        return match.group(0) if locate_quote(answer, quoted) else UNVERIFIED_QUOTE

    return _QUOTED.sub(check, text)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
