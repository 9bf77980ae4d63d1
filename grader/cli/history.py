"""`grade history`, `grade history show`, `grade progress`, `grade export`: the saved attempts and what they show."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.common import EXIT_PARTIAL, EXIT_USAGE, fail, friendly, out, state, warn_unreadable, write_json
from grader.cli.completion import complete_category, complete_question
from grader.cli.help import HumanCommand, epilog

if TYPE_CHECKING:
    from grader.practice.history import Attempt

DEFAULT_LAST = 20

app = typer.Typer(
    help="List saved attempts (newest last); 'grade history show N' shows one again.",
    invoke_without_command=True,
)


@app.callback()
@friendly
def list_history(
    ctx: typer.Context,
    question: Annotated[
        str | None,
        typer.Option("--question", "-q", help="Only attempts at this question.", autocompletion=complete_question),
    ] = None,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="Show the last N attempts.")] = DEFAULT_LAST,
    json_output: Annotated[bool, typer.Option("--json", help="Print the attempts as a JSON array.")] = False,
) -> None:
    """List saved attempts, newest last. Where they live: GRADER_HOME/history.db."""
    if ctx.invoked_subcommand is not None:
        return
    from grader.practice.history import count_attempts, list_attempts

    question_id = state(ctx).bank().question(question).id if question else None
    unreadable: list[str] = []
    attempts = list_attempts(question_id, last=last, unreadable=unreadable)
    warn_unreadable(unreadable)
    if json_output:
        write_json("[" + ",\n".join(a.model_dump_json(indent=2) for a in attempts) + "]")
        return
    from grader.cli.views.history import attempts_table

    out.print(attempts_table(attempts, count_attempts(question_id)))


@app.command("show", cls=HumanCommand, epilog=epilog("history show"))
@friendly
def show_attempt(
    ctx: typer.Context,
    attempt_id: Annotated[int, typer.Argument(metavar="ATTEMPT", help="Attempt number, from 'grade history'.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the attempt as JSON.")] = False,
    show_model_answer: Annotated[bool, typer.Option("--show-model-answer", help="Show the model answer.")] = False,
) -> None:
    """Show one attempt again: the question, your answer and its full feedback."""
    from grader.practice.history import UnknownAttemptError, get_attempt

    try:
        attempt = get_attempt(attempt_id)
    except UnknownAttemptError as exc:
        fail(str(exc), EXIT_USAGE)
    if json_output:
        write_json(attempt.model_dump_json(indent=2))
        return
    from grader.cli.views.history import attempt_view

    prompt, model_answer = _prompt_of(ctx, attempt)
    out.print(attempt_view(attempt, prompt, model_answer if show_model_answer else None))


@friendly
def progress(
    ctx: typer.Context,
    category: Annotated[
        str | None, typer.Option("--category", "-c", help="Only this category.", autocompletion=complete_category)
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the progress as JSON.")] = False,
) -> None:
    """Mastery per category and concept (latest, best, trend), concepts missed most, and a study plan."""
    from grader.practice.history import list_attempts
    from grader.practice.progress import compute_progress

    bank = state(ctx).bank()
    if category is not None and category not in bank.titles:
        fail(f"unknown category '{category}'; one of: {', '.join(bank.titles)}", EXIT_USAGE)
    unreadable: list[str] = []
    report = compute_progress(list_attempts(category=category, unreadable=unreadable), bank, category=category)
    warn_unreadable(unreadable)
    if json_output:
        write_json(report.model_dump_json(indent=2))
        return
    from grader.cli.views.history import progress_view

    elsewhere = 0
    if category is not None and not report.attempts:
        from grader.practice.history import count_attempts

        elsewhere = count_attempts()
    out.print(progress_view(report, category, elsewhere))


@friendly
def export(
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this file (atomically) instead of stdout.", dir_okay=False),
    ] = None,
) -> None:
    """Export every attempt as JSONL: one JSON object a line, oldest first.

    A row that cannot be read is skipped with a warning, and the export exits 8 (partial). --out is never a
    symbolic link, a device or the history itself (exit 2)."""
    from grader.files import output_problem, same_file
    from grader.practice.history import export_attempts, export_to_file, history_path

    unreadable: list[str] = []
    if output is None or str(output) == "-":
        export_attempts(sys.stdout.write, unreadable=unreadable)
        sys.stdout.flush()
    else:
        problem = output_problem(output) or ("is the history itself" if same_file(output, history_path()) else None)
        if problem is not None:
            fail(f"{output}: --out {problem}", EXIT_USAGE)
        count = export_to_file(output, unreadable=unreadable)
        from grader.cli.common import err

        noun = "attempt" if count == 1 else "attempts"
        err.print(f"Exported {count} {noun} to {output}", markup=False, highlight=False)
    warn_unreadable(unreadable)
    if unreadable:
        raise typer.Exit(EXIT_PARTIAL)


def _prompt_of(ctx: typer.Context, attempt: Attempt) -> tuple[str | None, str | None]:
    """The text that was asked (the question, or a concept's follow-up) and the model answer, from the bank."""
    from grader.errors import GraderError

    try:
        bank = state(ctx).bank()
        question = bank.questions.get(attempt.question_id)
        if question is None:
            return None, None
        rubric = bank.rubric(question.id) if bank.has_rubric(question.id) else None
    except GraderError:
        return None, None
    model_answer = rubric.model_answer if rubric else None
    if attempt.source != "follow-up":
        return question.text, model_answer
    concept_id = attempt.grade.concepts[0].id if attempt.grade.concepts else None
    concept = next((c for c in rubric.concepts if c.id == concept_id), None) if rubric else None
    return (concept.follow_up if concept else None), model_answer
