"""Reading answers in `grade practice`, optionally against the clock.

On a terminal, a prompt_toolkit box: multi-line editing and a bottom toolbar counting down the time left.
When the time runs out, whatever is in the box, the unfinished line included, is submitted and graded.
From a pipe or file, an answer is the lines up to one that holds a single '.' (or the end of input); with a
time limit, the lines that arrived in time are graded. Piped input is read as bytes and checked like any answer
(UTF-8, not binary, at most 64 KiB): an answer that is not is an AnswerError, never graded nor saved, and no
line or queue of lines can grow past the limit.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

from grader.cli.terminal import clean
from grader.errors import AnswerError
from grader.intake import MAX_ANSWER_BYTES, decode_answer

ANSWER_END = "."
QUEUED_LINES = 64  # lines read ahead of the session at most
SUBMIT_KEYS = "Ctrl-D or Esc Enter"
PROMPT_WIDTH = 2  # "> " on the first line, two spaces on the others


@dataclass(frozen=True)
class Typed:
    """What the user typed, whether the time ran out first, and how long it took."""

    text: str
    timed_out: bool
    seconds: float


class DraftInterrupt(KeyboardInterrupt):
    """Ctrl-C in the answer box, with what had been typed so far."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class AnswerSource(Protocol):
    def answer(self, limit_seconds: float | None, draft: str = "") -> Typed:
        """An answer, starting from `draft` (a kept unfinished answer)."""
        ...

    def choice(self, prompt: str) -> str | None:
        """One line typed in reply to `prompt`; None at the end of input."""
        ...


def countdown(seconds_left: float) -> str:
    """`m:ss` of the time left, never negative."""
    whole = max(0, int(seconds_left + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"


class StreamSource:
    """Answers from a pipe or file (a binary stream). One reader thread feeds a bounded queue, so a time limit
    can cut an answer short."""

    def __init__(self, stream: IO[bytes], prompts: IO[str] | None = None) -> None:
        self._prompts = prompts
        self._lines: queue.Queue[bytes | None] = queue.Queue(QUEUED_LINES)
        self._ended = False
        thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        try:
            for line in _lines_of(stream):
                self._lines.put(line.rstrip(b"\r\n"))
        finally:
            self._lines.put(None)

    def _next(self, deadline: float | None) -> tuple[bytes | None, bool]:
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

    def answer(self, limit_seconds: float | None, draft: str = "") -> Typed:
        start = time.monotonic()
        deadline = start + limit_seconds if limit_seconds is not None else None
        lines: list[bytes] = [draft.encode("utf-8")] if draft else []
        size = sum(len(line) + 1 for line in lines)
        timed_out = False
        while True:
            line, timed_out = self._next(deadline)
            if line is None or line.strip() == ANSWER_END.encode():
                break
            lines.append(line)
            size += len(line) + 1
            if size > MAX_ANSWER_BYTES + 1:
                raise AnswerError(f"stdin: the answer is over {MAX_ANSWER_BYTES:,} bytes (64 KiB); it was not graded")
        data = b"\n".join(lines).strip()
        text = decode_answer(data, "stdin") if data else ""
        return Typed(text.strip(), timed_out, time.monotonic() - start)

    def choice(self, prompt: str) -> str | None:
        if self._prompts is not None:
            self._prompts.write(clean(prompt) + "\n")
            self._prompts.flush()
        line, _ = self._next(None)
        return None if line is None else line.decode("utf-8", "replace")


def _lines_of(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of `stream`, none longer than MAX_ANSWER_BYTES + 1 bytes (a longer one comes in pieces).

    A stream with a descriptor is read through it, unbuffered: this runs on a daemon thread, and a thread blocked
    in a buffered read holds that buffer's lock, which the interpreter needs when it exits."""
    limit = MAX_ANSWER_BYTES + 1
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        while line := stream.readline(limit):
            yield line
        return
    pending = b""
    while chunk := os.read(fd, 1 << 16):
        pending += chunk
        while (cut := pending.find(b"\n", 0, limit)) >= 0 or len(pending) >= limit:
            end = cut + 1 if cut >= 0 else limit
            yield pending[:end]
            pending = pending[end:]
    if pending:
        yield pending


class TerminalSource:
    """Answers typed in a prompt_toolkit box with a live countdown in its bottom toolbar."""

    def __init__(self, **session_options: Any) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.key_binding import KeyBindings

        bindings = KeyBindings()

        @bindings.add("c-d", eager=True)
        def _submit(event: Any) -> None:
            event.app.exit(result=event.app.current_buffer.text)

        @bindings.add("c-c", eager=True)
        def _stop(event: Any) -> None:
            event.app.exit(exception=DraftInterrupt(event.app.current_buffer.text))

        self._session: Any = PromptSession(
            key_bindings=bindings, input_processors=[WordWrap(PROMPT_WIDTH)], **session_options
        )
        self._choices: Any = PromptSession(**session_options)

    def answer(self, limit_seconds: float | None, draft: str = "") -> Typed:
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
            default=draft,
            multiline=True,
            prompt_continuation="  ",
            bottom_toolbar=toolbar,
            refresh_interval=0.5 if deadline is not None else None,
            pre_run=pre_run,
        )
        return Typed(str(text or "").strip(), expired.is_set(), time.monotonic() - start)

    def choice(self, prompt: str) -> str | None:
        try:
            return str(self._choices.prompt(clean(prompt)))
        except EOFError:
            return None


def wrap_padding(line: str, width: int) -> list[tuple[int, int]]:
    """Where to pad `line` so that a terminal wrapping it every `width` columns breaks between words: a list
    of (index, spaces) — insert that many spaces before the character at index. A word longer than a whole
    row is left to break where it must."""
    if width < 2:
        return []
    pads: list[tuple[int, int]] = []
    column = 0
    index = 0
    while index < len(line):
        if line[index] == " ":
            column = (column + 1) % width
            index += 1
            continue
        end = line.find(" ", index)
        end = len(line) if end < 0 else end
        length = end - index
        if column and column + length > width and length <= width:
            pads.append((index, width - column))
            column = 0
        column = (column + length) % width
        index = end
    return pads


class WordWrap:
    """A prompt_toolkit input processor that wraps the answer box between words: it pads each line with spaces
    (on screen only; the text typed is unchanged) so that prompt_toolkit's wrapping falls between words."""

    def __init__(self, prefix_width: int) -> None:
        self.prefix_width = prefix_width

    def apply_transformation(self, ti: Any) -> Any:
        from prompt_toolkit.formatted_text.utils import fragment_list_to_text
        from prompt_toolkit.layout.processors import Transformation
        from prompt_toolkit.layout.utils import explode_text_fragments

        fragments = ti.fragments
        text = fragment_list_to_text(fragments)
        pads = wrap_padding(text, ti.width - self.prefix_width)
        if not pads:
            return Transformation(fragments)
        exploded = explode_text_fragments(fragments)
        result = []
        starts = dict(pads)
        for index, fragment in enumerate(exploded):
            if index in starts:
                result.append((fragment[0], " " * starts[index]))
            result.append(fragment)

        def to_display(position: int) -> int:
            return position + sum(spaces for at, spaces in pads if at <= position)

        def to_source(position: int) -> int:
            shift = 0
            for at, spaces in pads:
                if position >= at + shift + spaces:
                    shift += spaces
                elif position >= at + shift:
                    return at
            return position - shift

        return Transformation(result, source_to_display=to_display, display_to_source=to_source)

    def invalidation_hash(self) -> Any:
        return ("word-wrap", self.prefix_width)
