"""`grade rubrics check`: validate a bank's questions and rubrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grader.cli.common import EXIT_FAILURE, err, friendly, out, state
from grader.cli.help import HumanCommand, epilog

app = typer.Typer(help="Author and check rubrics.", no_args_is_help=True)


@app.command("check", cls=HumanCommand, epilog=epilog("rubrics check"))
@friendly
def check(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="DIR", help="A bank folder (with questions/ and rubrics/), or its rubrics/."),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Validate every question and rubric; print `file: field: message` for each problem."""
    from grader.bank.validation import check_bank

    root = directory if directory is not None else state(ctx).bank().root
    if root.name == "rubrics" and not (root / "questions").is_dir():
        root = root.parent
    report = check_bank(root)
    for problem in report.problems:
        err.print(f"{problem.severity}: {problem}", markup=False, highlight=False, soft_wrap=True)
    summary = (
        f"{report.questions} questions, {report.rubrics} rubrics: "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    )
    out.print(summary, markup=False)
    if report.errors or (strict and report.warnings):
        raise typer.Exit(EXIT_FAILURE)
