"""What reaches a terminal: text cleaned of control characters, secrets masked, long output through a pager.

Names, answers, file names and model replies can hold escape sequences (ESC [ ... that recolour, move the
cursor, retitle the window or write to the clipboard) and other control characters. Every rich console of
the CLI is a `SafeConsole`, which strips them from the text it renders (its own styling is added afterwards,
so colours still work); strings handed to other libraries (prompt_toolkit prompts) go through `clean`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates that can
# make text display in another order than it is read ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# An escape sequence (CSI, OSC, or a two-character one), removed whole so its parameters do not show.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")
_SECRET_VALUE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}|\bBearer\s+[A-Za-z0-9._\-]{8,}")
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
MASK = "****"


def clean(text: str) -> str:
    """`text` without escape sequences and control characters (tab and newline kept; CR LF becomes LF)."""
    if text.isprintable():
        return text
    text = _ESCAPE.sub("", text.replace("\r\n", "\n"))
    return _CONTROL.sub("", text)


def mask_secrets(text: str, environ: dict[str, str] | None = None) -> str:
    """`text` with API keys hidden: the values of environment variables named like keys or tokens, and
    anything shaped like one (`sk-...`, `Bearer ...`)."""
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if len(value) >= 8 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, MASK)
    return _SECRET_VALUE.sub(MASK, text)


def safe_console(**options: Any) -> Any:
    """A rich Console that strips control characters from every piece of text it renders."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        def _render_buffer(self, buffer: Any) -> str:
            cleaned = (
                segment if segment.control or segment.text.isprintable() else Segment(clean(segment.text), *segment[1:])
                for segment in buffer
            )
            return super()._render_buffer(cleaned)

    return SafeConsole(**options)


def page(console: Any, renderable: Any, *, pager: bool = True) -> None:
    """Print `renderable`; through the user's pager ($PAGER, else `less`) when `console` is a terminal, `pager`
    is on and the output is taller than the screen. A pager that cannot start prints directly instead."""
    if not (pager and console.is_terminal):
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    text = captured.get()
    if text.count("\n") < console.height - 1:
        console.file.write(text)
        console.file.flush()
        return
    command = os.environ.get("PAGER") or "less"
    environ = dict(os.environ)
    environ.setdefault("LESS", "FRX")  # quit when it fits, pass colours, keep the screen afterwards
    try:
        process = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, env=environ)
    except (OSError, ValueError):
        console.file.write(text)
        return
    try:
        assert process.stdin is not None
        process.stdin.write(text.encode("utf-8", "replace"))
        process.stdin.close()
    except BrokenPipeError:  # the user quit the pager early
        pass
    process.wait()


def real_console(console: Any) -> Any:
    """The rich Console behind a lazily created one (rich's Live and Progress need the real one)."""
    from rich.console import Console

    if isinstance(console, Console):
        return console
    console.is_terminal  # noqa: B018 - creates the console on first use
    return console._console
