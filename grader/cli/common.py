"""What every command shares: consoles, exit codes, turning domain errors into one line on stderr."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer

from grader.errors import (
    AnswerError,
    BankError,
    ConfigError,
    GraderError,
    LLMError,
    StorageError,
    UnknownQuestionError,
)

EXIT_OK = 0
EXIT_FAILURE = 1  # a check found errors, every batch item failed, or an unexpected internal error
EXIT_USAGE = 2  # bad option or argument, unknown question id or category
EXIT_ANSWER = 3  # the answer is missing, empty, binary, not UTF-8 or too large
EXIT_BANK = 4  # the bank cannot be read: missing folder, broken YAML, invalid rubric
EXIT_CONFIG = 5  # inconsistent settings, e.g. --mode llm without a model, litellm not installed
EXIT_LLM = 6  # the model failed and no fallback was allowed
EXIT_STORAGE = 7  # the history database or a results file cannot be used safely
EXIT_PARTIAL = 8  # a batch finished, but some items failed; an export skipped rows it could not read
EXIT_INTERRUPTED = 130  # Ctrl-C

# Every command and group: -h as well as --help.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

_EXIT_FOR: tuple[tuple[type[GraderError], int], ...] = (
    (UnknownQuestionError, EXIT_USAGE),
    (AnswerError, EXIT_ANSWER),
    (BankError, EXIT_BANK),
    (ConfigError, EXIT_CONFIG),
    (LLMError, EXIT_LLM),
    (StorageError, EXIT_STORAGE),
)



class LazyConsole:
    """A rich Console created on first use, so that `--json` paths never import rich."""

    def __init__(self, **options: object) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from grader.cli.terminal import safe_console

            self._console = safe_console(**self._options)
        return getattr(self._console, name)


out: Any = LazyConsole(highlight=False, soft_wrap=False)
err: Any = LazyConsole(stderr=True, highlight=False)

if TYPE_CHECKING:
    from grader.bank.loader import Bank
    from grader.cohort.report import ReportContext

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class AppState:
    bank_dir: Path | None = None
    _bank: Bank | None = None

    def bank(self) -> Bank:
        if self._bank is None:
            from grader.bank.loader import load_bank  # pydantic and YAML only for commands that read the bank

            self._bank = load_bank(self.bank_dir)
        return self._bank


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def exit_code_for(error: GraderError) -> int:
    for kind, code in _EXIT_FOR:
        if isinstance(error, kind):
            return code
    return EXIT_FAILURE


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """One warning line on stderr: something was skipped, and the command went on."""
    err.print(f"[bold yellow]warning:[/] {_escape(message)}", markup=True, highlight=False, soft_wrap=True)


def warn_unreadable(problems: list[str]) -> None:
    """Say which history rows were skipped because they cannot be read (the database is left as it is)."""
    for problem in problems:
        warn(f"{problem}; skipped (the history is left as it is)")


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command, turning domain errors, Ctrl-C and surprises into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except GraderError as exc:
            fail(_escape(str(exc)), exit_code_for(exc))
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except SystemExit:
            raise
        except Exception as exc:
            if _is_cli_signal(exc):
                raise  # typer/click handle their own exits and usage errors
            if os.environ.get("GRADER_DEBUG"):
                raise
            fail(_escape(f"internal error: {type(exc).__name__}: {exc} (set GRADER_DEBUG=1 for details)"), EXIT_FAILURE)

    return wrapper


def _is_cli_signal(exc: BaseException) -> bool:
    """typer.Exit, Abort and click's usage errors (typer may vendor click, so match by class name)."""
    return any(kind.__name__ in {"Exit", "Abort", "ClickException"} for kind in type(exc).__mro__)


def write_json(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def report_context(ctx: typer.Context, results: Path) -> ReportContext:
    """The report's title, source, date and question texts (when the bank can be read)."""
    from datetime import datetime

    from grader.cohort.report import ReportContext
    from grader.errors import GraderError

    try:
        texts = {q.id: q.text for q in state(ctx).bank().questions.values()}
    except GraderError:
        texts = {}
    return ReportContext(source=str(results), generated=datetime.now().astimezone(), questions=texts)


def check_reports(reports: list[Path], inputs: list[Path], results: Path) -> None:
    """Each report must have a known type and must not be the results file, an input, a link or a special file."""
    if not reports:
        return
    from grader.cohort.inputs import output_conflict
    from grader.cohort.report import report_format  # only when asked for: it costs 10 ms of start-up
    from grader.files import same_file

    for report in reports:
        if report_format(report) is None:
            fail(f"{report}: unknown report format; use .html, .md, .csv or gradebook.csv", EXIT_USAGE)
        if report.absolute() == results.absolute() or same_file(report, results):
            fail(f"{report}: --report is also the results file; write the report somewhere else", EXIT_USAGE)
        conflict = output_conflict(report, inputs, "--report")
        if conflict is not None:
            fail(conflict, EXIT_USAGE)
