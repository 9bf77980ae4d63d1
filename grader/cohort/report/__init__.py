"""Batch reports from a cohort of results, chosen by the file's name: `.html`, `.md`, `.csv` (a row per
answer) or a name ending in `gradebook.csv` (a row per candidate, a column per question).

Reports never contain answer text or evidence, only verdicts, so they can be shared. They take an already
loaded `Cohort` (so results can be amended, e.g. by reviewers' overrides, before rendering) and a
`ReportContext` (title, source, date, question texts). Files are written atomically, mode 0644 less the umask.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grader.cohort.coverage import Cohort
from grader.cohort.report.gradebook import ReportContext, gradebook
from grader.cohort.report.html import render_html
from grader.cohort.report.markdown import render_markdown
from grader.cohort.report.safety import write_text_file
from grader.cohort.report.tables import CSV_COLUMNS, render_csv, render_gradebook

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "ReportContext",
    "gradebook",
    "render_csv",
    "render_gradebook",
    "render_html",
    "render_markdown",
    "report_format",
    "write_report",
]

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".csv": "csv"}
GRADEBOOK_SUFFIX = "gradebook.csv"


def report_format(path: Path) -> str | None:
    """'html', 'markdown', 'csv' or 'gradebook' from the file's name; None when it is none of them."""
    if path.name.lower().endswith(GRADEBOOK_SUFFIX):
        return "gradebook"
    return FORMATS.get(path.suffix.lower())


def write_report(cohort: Cohort, path: Path, context: ReportContext | None = None) -> None:
    """Write the report `path`'s name asks for (a ValueError for an unknown one); StorageError when it cannot."""
    kind = report_format(path)
    if kind is None:
        raise ValueError(f"{path}: unknown report format; use .html, .md, .csv or gradebook.csv")
    renderers: dict[str, Callable[[Cohort, ReportContext | None], str]] = {
        "html": render_html,
        "markdown": render_markdown,
        "csv": lambda c, _: render_csv(c),
        "gradebook": lambda c, _: render_gradebook(c),
    }
    write_text_file(path, renderers[kind](cohort, context))
