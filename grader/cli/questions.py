"""`grade questions`: list and show the bank's questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grader.cli.common import EXIT_USAGE, fail, friendly, out, state, write_json
from grader.cli.completion import complete_category, complete_question
from grader.cli.help import HumanCommand, epilog

app = typer.Typer(help="Browse the question bank.", no_args_is_help=True)


@app.command("list", cls=HumanCommand, epilog=epilog("questions list"))
@friendly
def list_questions(
    ctx: typer.Context,
    category: Annotated[
        str | None, typer.Option("--category", "-c", help="Only this category.", autocompletion=complete_category)
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the questions, optionally of one category."""
    from grader.cli.views.grade import questions_table

    bank = state(ctx).bank()
    if category is not None and category not in bank.titles:
        fail(f"unknown category '{category}'; one of: {', '.join(bank.titles)}", EXIT_USAGE)
    questions = bank.in_category(category)
    if json_output:
        import json

        write_json(json.dumps([q.model_dump() for q in questions], indent=2))
        return
    out.print(questions_table(questions, bank.titles))


@app.command("show", cls=HumanCommand, epilog=epilog("questions show"))
@friendly
def show_question(
    ctx: typer.Context,
    question_id: Annotated[
        str, typer.Argument(metavar="ID", help="Question id, e.g. cicd-3.", autocompletion=complete_question)
    ],
    model_answer: Annotated[bool, typer.Option("--model-answer", help="Also show the model answer.")] = False,
) -> None:
    """Show one question, its concepts and follow-up questions."""
    from rich.text import Text

    from grader.cli.views.grade import question_view

    bank = state(ctx).bank()
    question = bank.question(question_id)
    out.print(question_view(question, bank.titles.get(question.category)))
    if bank.has_rubric(question.id):
        rubric = bank.rubric(question.id)
        out.print(Text("Concepts a strong answer covers:", style="bold"))
        for concept in rubric.concepts:
            out.print(Text(f"  • {concept.name} (weight {concept.weight:g})"))
        if model_answer:
            out.print(Text("\nModel answer:", style="bold"))
            out.print(Text(rubric.model_answer.strip()))


@app.command("import", cls=HumanCommand, epilog=epilog("questions import"))
@friendly
def import_questions(
    source: Annotated[Path, typer.Argument(metavar="FILE.md", help="Markdown: headings, numbered questions.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Bank folder to write questions/ and rubrics/ into.")],
    draft_rubrics: Annotated[
        bool, typer.Option("--draft-rubrics", help="Ask the configured model to draft each rubric (marked draft).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", "-m", envvar="GRADER_MODEL", metavar="MODEL", help="litellm model string.")
    ] = None,
    api_base: Annotated[str | None, typer.Option(envvar="GRADER_API_BASE", help="OpenAI-compatible base URL.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per LLM request.", show_default=False)] = None,
    config: Annotated[
        Path | None, typer.Option(envvar="GRADER_CONFIG", help="TOML config file.", show_default=False)
    ] = None,
) -> None:
    """Import a Markdown list of questions as a bank: questions plus draft rubrics to review."""
    from grader.bank.importer import import_questions as run_import
    from grader.cli.common import EXIT_CONFIG, EXIT_PARTIAL, err

    draft = None
    if draft_rubrics:
        from functools import partial

        from grader.llm.drafting import draft_rubric
        from grader.pipeline import llm_settings
        from grader.settings import resolve_options

        options = resolve_options(mode="llm", model=model, api_base=api_base, timeout=timeout, config=config)
        if not options.model:
            fail("--draft-rubrics needs a model: set --model or GRADER_MODEL", EXIT_CONFIG)
        draft = partial(draft_rubric, settings=llm_settings(options, temperature=0.0))
    result = run_import(source, out_dir, force=force, draft=draft)
    for question_id, reason in result.failed:
        err.print(f"warning: {question_id}: kept the skeleton: {reason}", markup=False, highlight=False)
    drafted = f", {len(result.drafted)} drafted by the model" if draft_rubrics else ""
    out.print(
        f"{result.questions} questions in {len(result.categories)} categories -> {out_dir}: "
        f"{len(result.question_files)} question files, {len(result.rubric_files)} draft rubrics{drafted}. "
        f"Review them, then run: grade --bank {out_dir} rubrics check",
        markup=False,
        highlight=False,
    )
    if result.failed:
        raise typer.Exit(EXIT_PARTIAL)
