"""Watching the model work: a spinner with the elapsed time, and (`--verbose`) each prompt and raw reply.

The LLM grader logs every exchange on the `grader.llm.exchange` logger at DEBUG level (the messages sent,
then the reply's text); `--verbose` attaches a handler that prints them on stderr, keys masked and control
characters stripped. Nothing is logged, nor formatted, when no handler listens.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from grader.cli.terminal import clean, mask_secrets

EXCHANGE_LOGGER = "grader.llm.exchange"


class _Printer(logging.Handler):
    def __init__(self, console: Any) -> None:
        super().__init__(logging.DEBUG)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        from rich.rule import Rule
        from rich.text import Text

        payload = record.args if isinstance(record.args, dict) else {}
        if "messages" in payload:
            title = "prompt sent to the model"
            body = "\n\n".join(f"[{m.get('role', '?')}]\n{m.get('content', '')}" for m in payload["messages"])
        else:
            title = "raw reply from the model"
            body = str(payload.get("reply", record.getMessage()))
        self.console.print(Rule(title, style="dim"))
        self.console.print(Text(clean(mask_secrets(body))))


@contextlib.contextmanager
def verbose_exchanges(console: Any, enabled: bool = True) -> Iterator[None]:
    """While inside, print every prompt sent to the model and every raw reply on `console`."""
    if not enabled:
        yield
        return
    logger = logging.getLogger(EXCHANGE_LOGGER)
    handler = _Printer(console)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextlib.contextmanager
def model_spinner(console: Any, label: str, enabled: bool = True) -> Iterator[None]:
    """A spinner with the elapsed seconds on `console` (a terminal only) while the block runs."""
    if not (enabled and console.is_terminal):
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from grader.cli.terminal import real_console

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=real_console(console),
        transient=True,
    )
    progress.add_task(clean(label), total=None)
    with progress:
        yield
