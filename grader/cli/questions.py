"""`grade questions`: list and show the bank's questions."""

from __future__ import annotations

from typing import Annotated

import typer

from grader.cli.common import EXIT_USAGE, fail, friendly, out, state, write_json

app = typer.Typer(help="Browse the question bank.", no_args_is_help=True)


@app.command("list")
@friendly
def list_questions(
    ctx: typer.Context,
    category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the questions, optionally of one category."""
    from grader.render import questions_table

    bank = state(ctx).bank()
    if category is not None and category not in bank.titles:
        fail(f"unknown category '{category}'; one of: {', '.join(bank.titles)}", EXIT_USAGE)
    questions = bank.in_category(category)
    if json_output:
        import json

        write_json(json.dumps([q.model_dump() for q in questions], indent=2))
        return
    out.print(questions_table(questions, bank.titles))


@app.command("show")
@friendly
def show_question(
    ctx: typer.Context,
    question_id: Annotated[str, typer.Argument(metavar="ID", help="Question id, e.g. cicd-3.")],
    model_answer: Annotated[bool, typer.Option("--model-answer", help="Also show the model answer.")] = False,
) -> None:
    """Show one question, its concepts and follow-up questions."""
    from rich.text import Text

    from grader.render import question_view

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
