"""`grade answer`: show a question, read an answer, grade it, show the feedback."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from grader.cli.common import err, friendly, out, state, write_json
from grader.errors import AnswerError
from grader.intake import check_answer_text, read_answer_file, read_answer_stream
from grader.pipeline import GradeOptions, Mode, grade_answer, rubric_for
from grader.render import grade_view, question_view

LLM_PANEL = "LLM grading"
EDITOR_TEMPLATE = "\n\n# Write your answer above. Lines starting with '#' are ignored.\n# Question: {text}\n"


class ModeChoice(str, Enum):
    auto = "auto"
    keyword = "keyword"
    llm = "llm"
    hybrid = "hybrid"


@friendly
def answer(
    ctx: typer.Context,
    question: Annotated[str, typer.Option("--question", "-q", help="Question id, e.g. cicd-3.")],
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the answer from this file ('-' for stdin).")
    ] = None,
    editor: Annotated[bool, typer.Option("--editor", "-e", help="Write the answer in $EDITOR.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the grade as JSON and nothing else.")] = False,
    show_model_answer: Annotated[bool, typer.Option("--show-model-answer", help="Show the model answer.")] = False,
    mode: Annotated[
        ModeChoice,
        typer.Option(
            case_sensitive=False,
            help="auto (the LLM when a model is configured, else keywords), keyword, llm or hybrid.",
            rich_help_panel=LLM_PANEL,
        ),
    ] = ModeChoice.auto,
    model: Annotated[
        str | None,
        typer.Option(envvar="GRADER_MODEL", help="litellm model string.", rich_help_panel=LLM_PANEL),
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option(envvar="GRADER_API_BASE", help="OpenAI-compatible base URL.", rich_help_panel=LLM_PANEL),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per LLM request.", rich_help_panel=LLM_PANEL)] = 60.0,
) -> None:
    """Grade an answer to one question (from --file, stdin, $EDITOR, or typed in)."""
    app_state = state(ctx)
    bank = app_state.bank()
    q = bank.question(question)
    rubric = rubric_for(bank, q)
    title = bank.titles.get(q.category)
    interactive = file is None and not editor and sys.stdin.isatty()
    if not json_output:
        out.print(question_view(q, title))
    elif interactive:
        err.print(question_view(q, title))
    text = _read_answer(file, editor, interactive, q.text)
    options = GradeOptions(mode=_mode(mode), model=model, api_base=api_base, timeout=timeout)
    grade = grade_answer(q, rubric, text, options)
    if json_output:
        write_json(grade.model_dump_json(indent=2))
        return
    out.print(grade_view(grade, rubric.model_answer if show_model_answer else None))


def _mode(value: ModeChoice) -> Mode:
    return value.value  # type: ignore[return-value]


def _read_answer(file: Path | None, editor: bool, interactive: bool, question_text: str) -> str:
    if file is not None and str(file) != "-":
        return read_answer_file(file)
    if editor:
        edited = typer.edit(EDITOR_TEMPLATE.format(text=question_text), extension=".md")
        if edited is None:
            raise AnswerError("editor closed without saving; nothing to grade")
        lines = [line for line in edited.splitlines() if not line.startswith("#")]
        return check_answer_text("\n".join(lines), "editor")
    if interactive:
        err.print("[dim]Type your answer. Finish with Ctrl-D on an empty line.[/dim]")
    return read_answer_stream(sys.stdin.buffer, "stdin")
