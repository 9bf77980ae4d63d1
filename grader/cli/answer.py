"""`grade answer`: show a question, read an answer, grade it, show the feedback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grader.cli.common import err, friendly, out, state, write_json
from grader.cli.completion import complete_question
from grader.cli.options import (
    ApiBaseOption,
    CacheOption,
    ConfigOption,
    FallbackOption,
    ModelOption,
    ModeOption,
    SamplesOption,
    TemperatureOption,
    TimeoutOption,
    VerboseOption,
)
from grader.cli.watch import model_spinner, verbose_exchanges
from grader.errors import AnswerError
from grader.intake import check_answer_text, read_answer_file, read_answer_stream

EDITOR_TEMPLATE = "\n\n# Write your answer above. Lines starting with '#' are ignored.\n# Question: {text}\n"


@friendly
def answer(
    ctx: typer.Context,
    question: Annotated[
        str, typer.Option("--question", "-q", help="Question id, e.g. cicd-3.", autocompletion=complete_question)
    ],
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the answer from this file ('-' for stdin).")
    ] = None,
    editor: Annotated[bool, typer.Option("--editor", "-e", help="Write the answer in $EDITOR.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the grade as JSON and nothing else.")] = False,
    show_model_answer: Annotated[bool, typer.Option("--show-model-answer", help="Show the model answer.")] = False,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not save this attempt in the history.")] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Show everything: evidence, reasons, feedback, follow-up questions.")
    ] = False,
    pager: Annotated[
        bool, typer.Option("--pager/--no-pager", help="Page long output on a terminal ($PAGER, else less).")
    ] = True,
    verbose: VerboseOption = False,
    mode: ModeOption = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    timeout: TimeoutOption = None,
    samples: SamplesOption = None,
    temperature: TemperatureOption = None,
    cache: CacheOption = None,
    fallback: FallbackOption = None,
    config: ConfigOption = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            envvar="GRADER_CALIBRATION",
            help="Also map the score onto a human scale with a mapping saved by `grade calibrate --fit`.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Grade an answer to one question (from --file, stdin, $EDITOR, or typed in).

    The view fits one screen: score, band and a line per concept. --full adds evidence, feedback, follow-ups.

    The attempt is saved in your history unless --no-save."""
    from grader.pipeline import grade_answer, rubric_for  # imported here so that `--help` stays light
    from grader.settings import resolve_options

    app_state = state(ctx)
    bank = app_state.bank()
    q = bank.question(question)
    rubric = rubric_for(bank, q)
    options = resolve_options(
        mode=mode.value if mode else None,
        model=model,
        api_base=api_base,
        timeout=timeout,
        samples=samples,
        temperature=temperature,
        use_cache=cache,
        fallback=fallback,
        config=config,
    )
    mapping = None
    if calibration is not None:  # read before the answer: a bad mapping file fails fast (exit 5)
        from grader.calibration import load_mapping

        mapping = load_mapping(calibration)
    title = bank.titles.get(q.category)
    interactive = file is None and not editor and sys.stdin.isatty()
    if not json_output or interactive:
        from grader.cli.views.grade import question_view  # rich is imported only where a view is printed

        (err if json_output else out).print(question_view(q, title))
    text = _read_answer(file, editor, interactive, q.text)
    with_model = options.method() != "keyword"
    with verbose_exchanges(err, verbose and with_model), model_spinner(err, f"{options.model} is grading", with_model):
        grade = grade_answer(q, rubric, text, options)
    if mapping is not None:
        grade = mapping.apply_to(grade)
    if json_output:
        write_json(grade.model_dump_json(indent=2))
    else:
        from grader.cli.terminal import page
        from grader.cli.views.grade import grade_view

        view = grade_view(grade, rubric.model_answer if show_model_answer else None, full=full)
        page(out, view, pager=pager)
    if not no_save:  # after the output: a history problem never hides the feedback (it still exits 7)
        from grader.practice.history import record_attempt

        record_attempt(q, text, grade)


def _read_answer(file: Path | None, editor: bool, interactive: bool, question_text: str) -> str:
    if file is not None and str(file) != "-":
        return read_answer_file(file)
    if editor:
        from grader.cli.editor import edit

        template = EDITOR_TEMPLATE.format(text=" ".join(question_text.split()))
        edited = edit(template, extension=".md")
        if edited is None:
            raise AnswerError("editor closed without saving; nothing to grade")
        lines = [line for line in edited.splitlines() if not line.startswith("#")]
        return check_answer_text("\n".join(lines), "editor")
    if interactive:
        err.print("[dim]Type your answer. Finish with Ctrl-D on an empty line.[/dim]")
    return read_answer_stream(sys.stdin.buffer, "stdin")
