"""Reading answers in `grade practice`, optionally against the clock.

On a terminal, a prompt_toolkit box: multi-line editing and a bottom toolbar counting down the time left.
When the time runs out, whatever is in the box, the unfinished line included, is submitted and graded.
From a pipe or file, an answer is the lines up to one that holds a single '.' (or the end of input); with a
time limit, the lines that arrived in time are graded.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Protocol

ANSWER_END = "."
SUBMIT_KEYS = "Ctrl-D or Esc Enter"


@dataclass(frozen=True)
class Typed:
    """What the user typed, whether the time ran out first, and how long it took."""

    text: str
    timed_out: bool
    seconds: float


class AnswerSource(Protocol):
    def answer(self, limit_seconds: float | None) -> Typed: ...

    def choice(self, prompt: str) -> str | None:
        """One line typed in reply to `prompt`; None at the end of input."""
        ...


def countdown(seconds_left: float) -> str:
    """`m:ss` of the time left, never negative."""
    whole = max(0, int(seconds_left + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"


class StreamSource:
    """Answers from a pipe or file. One reader thread feeds a queue, so a time limit can cut an answer short."""

    def __init__(self, stream: IO[str], prompts: IO[str] | None = None) -> None:
        self._prompts = prompts
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        thread.start()

    def _pump(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._lines.put(line.rstrip("\r\n"))
        finally:
            self._lines.put(None)

    def _next(self, deadline: float | None) -> tuple[str | None, bool]:
        """(line, timed_out); line None at the end of input."""
        if self._ended:
            return None, False
        try:
            if deadline is None:
                line = self._lines.get()
            else:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None, True
        if line is None:
            self._ended = True
        return line, False

    def answer(self, limit_seconds: float | None) -> Typed:
        start = time.monotonic()
        deadline = start + limit_seconds if limit_seconds is not None else None
        lines: list[str] = []
        timed_out = False
        while True:
            line, timed_out = self._next(deadline)
            if line is None or line.strip() == ANSWER_END:
                break
            lines.append(line)
        return Typed("\n".join(lines).strip(), timed_out, time.monotonic() - start)

    def choice(self, prompt: str) -> str | None:
        if self._prompts is not None:
            self._prompts.write(prompt + "\n")
            self._prompts.flush()
        line, _ = self._next(None)
        return line


class TerminalSource:
    """Answers typed in a prompt_toolkit box with a live countdown in its bottom toolbar."""

    def __init__(self, **session_options: Any) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.key_binding import KeyBindings

        bindings = KeyBindings()

        @bindings.add("c-d", eager=True)
        def _submit(event: Any) -> None:
            event.app.exit(result=event.app.current_buffer.text)

        self._session: Any = PromptSession(key_bindings=bindings, **session_options)
        self._choices: Any = PromptSession(**session_options)

    def answer(self, limit_seconds: float | None) -> Typed:
        import asyncio

        from prompt_toolkit.application import get_app

        start = time.monotonic()
        deadline = start + limit_seconds if limit_seconds is not None else None
        expired = threading.Event()

        def toolbar() -> Any:
            keys = f" {SUBMIT_KEYS} to submit · Ctrl-C to stop "
            if deadline is None:
                return [("", keys)]
            left = deadline - time.monotonic()
            style = "bg:ansired fg:ansiwhite bold" if left < 60 else "bold"
            return [(style, f" ⏱ {countdown(left)} left "), ("", " ·" + keys)]

        async def expire() -> None:
            assert deadline is not None
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            expired.set()
            app = get_app()
            if not app.is_done:
                app.exit(result=app.current_buffer.text)

        def pre_run() -> None:
            if deadline is not None:
                get_app().create_background_task(expire())

        text = self._session.prompt(
            "> ",
            multiline=True,
            prompt_continuation="  ",
            bottom_toolbar=toolbar,
            refresh_interval=0.5 if deadline is not None else None,
            pre_run=pre_run,
        )
        return Typed(str(text or "").strip(), expired.is_set(), time.monotonic() - start)

    def choice(self, prompt: str) -> str | None:
        try:
            return str(self._choices.prompt(prompt))
        except EOFError:
            return None
