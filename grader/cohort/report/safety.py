"""Making report text safe where it lands: spreadsheets (no formulas), Markdown (no markup, no raw HTML), and
files created like every other file grader writes (mode 0644 less the umask, replaced atomically)."""

from __future__ import annotations

import html
import os
import re
import tempfile
from pathlib import Path

from grader.errors import StorageError

# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|..., @SUM, -2+3);
# a tab or carriage return first can hide one. Such cells get a leading apostrophe, which spreadsheets show as
# text and do not display.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # links, emphasis, code, tables; < > & become entities


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = _CONTROL.sub("", str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def markdown_text(value: object) -> str:
    """Text shown literally in Markdown, table cells included: HTML escaped, markup characters escaped, on one
    line, without control characters."""
    text = _CONTROL.sub("", " ".join(str(value).split()))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def html_text(value: object) -> str:
    """Text shown literally in HTML (attribute values included), without control characters."""
    return html.escape(_CONTROL.sub("", str(value)), quote=True)


def write_text_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a temporary file renamed over it), mode 0666 less the umask (0644
    with the usual umask 022), like results and exports; raises StorageError."""
    temp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
