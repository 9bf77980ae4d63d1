"""Rich views for batch grading: the end-of-run summary and cohort concept coverage. Never prints."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from grader.cli.views.grade import STATUS_STYLE
from grader.cohort.batch import BatchSummary
from grader.cohort.coverage import CandidateSummary, QuestionSummary

STATUS_LINE = {"ok": "green", "partial": "yellow", "failed": "red", "empty": "red"}


def summary_view(summary: BatchSummary) -> RenderableType:
    """What a run did: graded, skipped, failed, fallbacks, speed, and the first failures."""
    head = Text()
    head.append(f"{summary.status}: ", style=f"bold {STATUS_LINE[summary.status]}")
    head.append(f"graded {summary.graded:,}")
    if summary.skipped:
        head.append(f", skipped {summary.skipped:,} already graded")
    if summary.failed:
        head.append(f", {summary.failed:,} failed", style="red")
    if summary.fallbacks:
        head.append(f", {summary.fallbacks:,} fell back to keywords", style="yellow")
    head.append(f" in {summary.seconds:.1f} s")
    if summary.graded and summary.seconds > 0:
        head.append(f" ({summary.rate:,.0f} answers/s)")
    head.append(f" → {summary.out}", style="dim")
    parts: list[RenderableType] = [head]
    if summary.found == 0:
        parts.append(Text("no answers found: give folders of .md/.txt files, or .jsonl / .csv files", style="red"))
    for source, error in summary.failures:
        parts.append(Text(f"  ✘ {error}" if error.startswith(source) else f"  ✘ {source}: {error}", style="red"))
    if summary.failed > len(summary.failures):
        parts.append(Text(f"  … and {summary.failed - len(summary.failures):,} more error lines in {summary.out}"))
    return Group(*parts)


def coverage_view(questions: list[QuestionSummary], candidates: list[CandidateSummary], top: int) -> RenderableType:
    """Per question, the concepts most candidates miss; per candidate, their weakest concepts."""
    parts: list[RenderableType] = []
    for q in questions:
        table = Table(
            title=f"{q.question_id} · {q.answers} answers · mean {q.mean:.1f}",
            title_justify="left",
            title_style="bold cyan",
            show_edge=False,
            header_style="bold",
        )
        table.add_column("concept")
        table.add_column("coverage", justify="right")
        table.add_column("covered", justify="right", style=STATUS_STYLE["covered"])
        table.add_column("partial", justify="right", style=STATUS_STYLE["partial"])
        table.add_column("missing", justify="right", style=STATUS_STYLE["missing"])
        for c in q.most_missed(top):
            table.add_row(
                c.concept.name,
                Text(f"{c.coverage:.0%}", style=_style(c.coverage)),
                str(c.covered),
                str(c.partial),
                str(c.missing),
            )
        parts += [table, Text("")]
    people = Table(title="Candidates", title_justify="left", title_style="bold cyan", show_edge=False)
    people.add_column("candidate", style="cyan", no_wrap=True)
    people.add_column("answers", justify="right")
    people.add_column("mean", justify="right")
    people.add_column("weakest concepts")
    for c in candidates:
        weakest = Text()
        for index, w in enumerate(c.weakest):
            if index:
                weakest.append("; ")
            weakest.append(w.concept.name, style=STATUS_STYLE[w.status])
            weakest.append(f" ({w.question_id})", style="dim")
        people.add_row(c.candidate, str(c.answers), f"{c.mean:.1f}", weakest if c.weakest else Text("—"))
    parts.append(people)
    return Group(*parts)


def _style(coverage: float) -> str:
    return "green" if coverage >= 0.7 else "yellow" if coverage >= 0.4 else "red"
