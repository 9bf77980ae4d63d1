"""The `grade` command line. Each command group lives in its own module and is mounted here."""

from __future__ import annotations

import os
from collections.abc import Iterable

# The CLI runs no third-party pydantic plugins: looking them up scans every installed distribution's metadata
# (~10 ms with the LLM extras installed) on every start. Set PYDANTIC_DISABLE_PLUGINS yourself to override.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from grader import __version__
from grader.cli.common import CONTEXT_SETTINGS, state
from grader.cli.help import HumanCommand, HumanGroup, epilog
from grader.paths import set_default_home

HELP = "Grade written answers to DevOps/SRE interview questions, concept by concept."

# Every command: its name, the module that defines it, and the attribute mounted (a Typer group or a function).
COMMANDS: dict[str, tuple[str, str]] = {
    "answer": ("answer", "answer"),
    "questions": ("questions", "app"),
    "rubrics": ("rubrics", "app"),
    "batch": ("batch", "batch"),
    "calibrate": ("calibrate", "calibrate"),
    "coverage": ("batch", "coverage"),
    "review": ("review", "review"),
    "report": ("review", "report"),
    "practice": ("practice", "practice"),
    "history": ("history", "app"),
    "progress": ("history", "progress"),
    "export": ("history", "export"),
    "config": ("setup", "config"),
    "doctor": ("setup", "doctor"),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grade {__version__}")
        raise typer.Exit()


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


def build_app(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The `grade` app with these commands mounted (all of them by default)."""
    application = typer.Typer(
        name="grade",
        help=HELP,
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion SHELL; ids and categories complete too
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        cls=HumanGroup,
        context_settings=CONTEXT_SETTINGS,
    )
    application.callback()(main_options)
    for name in names:
        module_name, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"grader.cli.{module_name}"), attribute)
        if isinstance(target, typer.Typer):
            application.add_typer(target, name=name, cls=HumanGroup, epilog=epilog(name))
        else:
            application.command(name, cls=HumanCommand, epilog=epilog(name))(target)
    return application


def invoked_command(argv: list[str]) -> str | None:
    """The command named on the command line (after the global options), if it is one of ours."""
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--bank":
            next(arguments, None)
        elif not argument.startswith("-"):
            return argument if argument in COMMANDS else None
    return None


def __getattr__(name: str) -> typer.Typer:
    """`grader.cli.app`, the full app, built on first use (tests and tools import it)."""
    if name == "app":
        application = globals()["app"] = build_app()
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Commands that end the process at once when they finish, without the interpreter's teardown: after a batch
# that freeing takes 0.15-0.3 s (every compiled rubric is some 50,000 objects, freed one by one). They close
# their files themselves (`grade batch` writes its results with unbuffered, closed writes), so nothing is lost.
FAST_EXIT = frozenset({"batch"})


def main() -> None:
    """Run `grade`. Only the invoked command is imported and built (typer builds every command's options up
    front, about 15 ms for all of them, and their modules cost more): `--help` alone builds them all."""
    name = invoked_command(sys.argv[1:])
    try:
        build_app([name] if name else COMMANDS)()
    except SystemExit as exc:
        if name not in FAST_EXIT:
            raise
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
        _exit_now(code)


def _exit_now(code: int) -> None:
    """Flush what was printed and end the process, skipping the interpreter's teardown."""
    import contextlib
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be shown
            stream.flush()
    os._exit(code)
