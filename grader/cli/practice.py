"""`grade practice`: pick the next question (never answered, then weakest), take an answer (optionally against
the clock), grade, save, show the feedback, then offer the follow-up question of a missed concept."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.common import EXIT_ANSWER, EXIT_OK, EXIT_USAGE, err, fail, friendly, out, state
from grader.cli.completion import complete_category
from grader.cli.options import (
    ApiBaseOption,
    ConfigOption,
    ModelOption,
    ModeOption,
    TimeoutOption,
)
from grader.cli.terminal import clean

if TYPE_CHECKING:
    from grader.cli.answer_box import AnswerSource, Typed
    from grader.models import Grade, Question, Rubric
    from grader.pipeline import GradeOptions
    from grader.practice.history import Attempt, Source


@friendly
def practice(
    ctx: typer.Context,
    category: Annotated[
        str | None,
        typer.Option("--category", "-c", help="Only questions of this category.", autocompletion=complete_category),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            "-t",
            min=0.01,
            metavar="MINUTES",
            help="Minutes per answer, with a countdown; when time is up, what you typed so far is graded.",
        ),
    ] = None,
    no_save: Annotated[
        bool, typer.Option("--no-save", help="Leave the history alone: picks use this session's answers only.")
    ] = False,
    mode: ModeOption = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    timeout: TimeoutOption = None,
    config: ConfigOption = None,
) -> None:
    """Practise: the next question is one you never answered, then the one whose concepts are weakest.

    After each grade: answer the follow-up question of a missed concept, move on, or quit.

    On a terminal, submit an answer with Ctrl-D (or Esc then Enter). From a pipe, an answer ends at a line '.'.
    """
    from grader.cli.answer_box import StreamSource, TerminalSource
    from grader.practice.picks import practice_pool
    from grader.settings import resolve_options

    bank = state(ctx).bank()
    if category is not None and category not in bank.titles:
        fail(f"unknown category '{category}'; one of: {', '.join(bank.titles)}", EXIT_USAGE)
    questions, rubrics = practice_pool(bank, category)
    if not questions:
        where = f"in category '{category}' " if category else ""
        fail(f"no question {where}has a rubric yet; see 'grade rubrics --help'", EXIT_USAGE)
    source: AnswerSource = TerminalSource() if sys.stdin.isatty() else StreamSource(sys.stdin.buffer, sys.stderr)
    session = _Session(
        bank_titles=bank.titles,
        questions=questions,
        rubrics=rubrics,
        source=source,
        options=resolve_options(
            mode=mode.value if mode else None, model=model, api_base=api_base, timeout=timeout, config=config
        ),
        limit_seconds=time_limit * 60 if time_limit else None,
        limit_minutes=time_limit,
        save=not no_save,
    )
    raise typer.Exit(session.run())


@dataclass
class _Session:
    """One practice session: rounds of question, answer, grade, feedback and follow-ups until the user stops."""

    bank_titles: dict[str, str]
    questions: list[Question]
    rubrics: dict[str, Rubric]
    source: AnswerSource
    options: GradeOptions
    limit_seconds: float | None
    limit_minutes: float | None
    save: bool
    graded: int = 0
    practised: list[str] = field(default_factory=list)
    warned: set[str] = field(default_factory=set)  # unreadable history rows already reported
    unsaved: list[Attempt] = field(default_factory=list)  # with --no-save, this session's answers steer picks

    def run(self) -> int:
        from grader.practice.picks import Pick, choose_next

        resumed = self._offer_draft()
        while True:
            if resumed is not None:
                pick: Pick | None = Pick(question=resumed[0], reason="new")
                draft = resumed[1]
                resumed = None
            else:
                pick = choose_next(self.questions, self.rubrics, self._attempts(), avoid=self.practised)
                draft = ""
            if pick is None:
                return self._end()
            from grader.cli.views.history import pick_view

            question = pick.question
            if draft:
                from rich.text import Text

                out.print(Text(f"{question.id}: {question.text}", style="bold"))
            else:
                out.print(pick_view(pick, self.bank_titles.get(question.category), self.limit_minutes))
            grade = self._round(question, self.rubrics[question.id], "practice", draft=draft)
            if grade is None:
                return self._end()
            self.practised.append(question.id)
            if not self._follow_ups(question, grade):
                return self._end()

    def _follow_ups(self, question: Question, grade: Grade) -> bool:
        """Offer the follow-up of each missed concept in turn; False when the user quits."""
        from grader.cli.views.history import follow_up_view
        from grader.practice.picks import answered_follow_ups, follow_up_concept, follow_up_round

        rubric = self.rubrics[question.id]
        offered: set[str] = set()
        while True:
            answered = answered_follow_ups(self._attempts(), question.id)  # answered well before: not again
            remaining = rubric.model_copy(update={"concepts": [c for c in rubric.concepts if c.id not in offered]})
            concept = follow_up_concept(grade, remaining, answered) if remaining.concepts else None
            if concept is None:
                reply = self._ask("[n]ext question (Enter) or [q]uit? ")
                return reply is not None and not reply.lower().startswith("q")
            reply = self._ask(f"[f]ollow-up on '{concept.name}' (Enter), [n]ext question or [q]uit? ")
            if reply is None or reply.lower().startswith("q"):
                return False
            if reply.lower().startswith("n"):
                return True
            offered.add(concept.id)
            prompt, sub_rubric = follow_up_round(question, rubric, concept)
            out.print(follow_up_view(question.id, concept.name, prompt.text))
            if self._round(prompt, sub_rubric, "follow-up") is None:
                return False

    def _offer_draft(self) -> tuple[Question, str] | None:
        """Offer the oldest kept draft of a question in this session's pool: resume it, keep it, or discard it."""
        from grader.practice.drafts import discard_draft, list_drafts

        pool = {q.id: q for q in self.questions}
        for draft in list_drafts():
            if draft.question_id not in pool or draft.follow_up_of:
                continue
            reply = self._ask(
                f"You have an unfinished answer to {clean(draft.question_id)} ({draft.saved_at[:16].replace('T', ' ')}"
                " UTC): [r]esume (Enter), [l]ater or [d]iscard? "
            )
            if reply is None or reply.lower().startswith("l"):
                return None
            if reply.lower().startswith("d"):
                discard_draft(draft.question_id)
                return None
            return pool[draft.question_id], draft.text
        return None

    def _round(self, question: Question, rubric: Rubric, source: Source, draft: str = "") -> Grade | None:
        """Read, grade, show and save one answer; None when nothing was typed or the user stopped (the session
        ends). Ctrl-C in the answer box offers to keep what was typed as a draft."""
        from grader.cli.answer_box import DraftInterrupt
        from grader.cli.views.grade import grade_view
        from grader.pipeline import grade_answer

        try:
            typed = self._read(draft)
        except DraftInterrupt as stop:
            self._keep_draft(question, stop.text, rubric if source == "follow-up" else None)
            return None
        if not typed.text:
            if typed.timed_out:
                err.print("[bold yellow]Time is up[/] and nothing was typed: nothing graded or saved.")
            else:
                err.print("[dim]No answer: nothing graded or saved.[/dim]")
            return None
        if typed.timed_out:
            err.print("[bold yellow]Time is up:[/] grading what you typed so far.")
        from grader.cli.watch import model_spinner

        with model_spinner(err, f"{self.options.model} is grading", self.options.method() != "keyword"):
            grade = grade_answer(question, rubric, typed.text, self.options)
        out.print(grade_view(grade))
        self.graded += 1
        self._save(question, typed, grade, source)
        if draft:
            from grader.practice.drafts import discard_draft

            discard_draft(question.id)
        return grade

    def _keep_draft(self, question: Question, text: str, follow_up: Rubric | None) -> None:
        if not text.strip():
            return
        try:
            reply = self.source.choice("Keep what you typed, to finish it next time? [Y/n] ")
        except (KeyboardInterrupt, EOFError):
            reply = "n"
        if reply is not None and reply.strip().lower().startswith("n"):
            err.print("[dim]Draft discarded.[/dim]")
            return
        from grader.practice.drafts import make_draft, save_draft

        concept = follow_up.concepts[0].id if follow_up is not None else None
        path = save_draft(make_draft(question.id, text, concept))
        err.print(f"Draft kept in {path}; 'grade practice' offers it next time.", markup=False, highlight=False)

    def _read(self, draft: str = "") -> Typed:
        if self.limit_seconds is not None:
            err.print(f"[dim]You have {self.limit_minutes:g} min.[/dim]", highlight=False)
        return self.source.answer(self.limit_seconds, draft)

    def _ask(self, prompt: str) -> str | None:
        reply = self.source.choice(prompt)
        return None if reply is None else reply.strip()

    def _save(self, question: Question, typed: Typed, grade: Grade, source: Source) -> None:
        if self.save:
            from grader.practice.history import record_attempt

            record_attempt(question, typed.text, grade, source=source, elapsed_seconds=round(typed.seconds, 1))
            return
        from grader.practice.history import make_attempt

        self.unsaved.append(
            make_attempt(
                question,
                typed.text,
                grade,
                source=source,
                elapsed_seconds=typed.seconds,
                attempt_id=len(self.unsaved) + 1,
            )
        )

    def _attempts(self) -> list[Attempt]:
        if not self.save:
            return list(self.unsaved)
        from grader.cli.common import warn_unreadable
        from grader.practice.history import list_attempts

        unreadable: list[str] = []
        attempts = list_attempts(unreadable=unreadable)
        warn_unreadable([problem for problem in unreadable if problem not in self.warned])
        self.warned.update(unreadable)
        return attempts

    def _end(self) -> int:
        err.print(f"Practice ended: {self.graded} answer{'s' if self.graded != 1 else ''} graded this session.")
        return EXIT_OK if self.graded else EXIT_ANSWER
