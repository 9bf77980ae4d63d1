"""The `grade` command line. Each command group lives in its own module and is mounted here."""

from __future__ import annotations

import os

# The CLI runs no third-party pydantic plugins: looking them up scans every installed distribution's metadata
# (~10 ms with the LLM extras installed) on every start. Set PYDANTIC_DISABLE_PLUGINS yourself to override.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pathlib import Path
from typing import Annotated

import typer

from grader import __version__
from grader.cli import answer, questions, rubrics
from grader.cli import batch as batch_cli
from grader.cli import calibrate as calibrate_cli
from grader.cli import history as history_cli
from grader.cli import practice as practice_cli
from grader.cli.common import state
from grader.paths import set_default_home

app = typer.Typer(
    name="grade",
    help="Grade written answers to DevOps/SRE interview questions, concept by concept.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grade {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    bank: Annotated[
        Path | None,
        typer.Option(
            "--bank", envvar="GRADER_BANK", help="Bank folder with questions/ and rubrics/.", show_default=False
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Grade written answers to DevOps/SRE interview questions, concept by concept."""
    set_default_home(Path(typer.get_app_dir("grader")))
    state(ctx).bank_dir = bank


app.command("answer")(answer.answer)
app.add_typer(questions.app, name="questions")
app.add_typer(rubrics.app, name="rubrics")
app.command("batch")(batch_cli.batch)
app.command("calibrate")(calibrate_cli.calibrate)
app.command("coverage")(batch_cli.coverage)
app.command("practice")(practice_cli.practice)
app.add_typer(history_cli.app, name="history")
app.command("progress")(history_cli.progress)
app.command("export")(history_cli.export)


def main() -> None:
    app()
