"""`grade review` (review and correct a cohort's grades in the browser), `grade report` (re-render the reports of a
results file, with the corrections), and `grade calibrate --from-review` (the corrections as labelled data)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_USAGE,
    check_reports,
    err,
    fail,
    friendly,
    out,
    report_context,
    state,
    write_json,
)
from grader.errors import GraderError

if TYPE_CHECKING:
    from rich.console import RenderableType

    from grader.calibration.agreement import Agreement
    from grader.calibration.reviewed import ReviewReport

ResultsArgument = Annotated[
    Path,
    typer.Argument(
        metavar="RESULTS.jsonl", help="A results file written by 'grade batch'.", exists=True, dir_okay=False,
        show_default=False,
    ),
]  # fmt: skip
NoOverridesOption = Annotated[
    bool, typer.Option("--no-overrides", help="Show the machine's grades, without the reviewer's corrections.")
]


@friendly
def review(
    ctx: typer.Context,
    results: ResultsArgument,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")] = 0,
    reviewer: Annotated[
        str | None, typer.Option(help="The name the corrections are signed with (default: your user name).")
    ] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")] = False,
) -> None:
    """Review a cohort's grades in the browser; corrections go to RESULTS.overrides.jsonl beside the results.

    Serves on 127.0.0.1 only; the printed address carries the access token. Ctrl-C stops it; every correction is
    already on disk.
    """
    try:
        from grader.review.desk import Desk, describe_questions
        from grader.review.server import serve
    except ImportError as exc:
        fail(
            f"grade review needs the review extra ({exc.name} is missing): pip install "
            "'devops-answer-grader[review]' (from a clone: pip install '.[review]')",
            EXIT_CONFIG,
        )
    desk = Desk(results, reviewer)
    if not desk.entries:
        fail(f"{results}: no results to review", EXIT_FAILURE)
    with contextlib.suppress(GraderError):  # without the bank, the review goes on without question texts
        desk.notes = describe_questions(state(ctx).bank(), {e.question_id for e in desk.entries})

    def announce(url: str) -> None:
        typer.echo(f"Reviewing {len(desk.entries):,} answers of {results}; corrections go to {desk.overrides}")
        typer.echo(url)
        typer.echo("Press Ctrl-C to stop.")

    serve(desk, port, open_browser=not no_browser, announce=announce)
    err.print(f"stopped; the corrections are in {desk.overrides}", markup=False, highlight=False)


@friendly
def report(
    ctx: typer.Context,
    results: ResultsArgument,
    outputs: Annotated[
        list[Path],
        typer.Option("--out", "-o", help="The report to write: .html, .md or .csv (repeatable).", show_default=False),
    ],
    no_overrides: NoOverridesOption = False,
) -> None:
    """Write the reports of a results file, with the reviewer's corrections (see 'grade review')."""
    from grader.cohort.coverage import load_cohort
    from grader.cohort.report import write_report

    check_reports(outputs, [results], results)
    cohort = load_cohort(results, overrides=not no_overrides)
    if not cohort.answers and not cohort.errors:
        fail(f"{results}: no results", EXIT_FAILURE)
    context = report_context(ctx, results)
    for path in outputs:
        write_report(cohort, path, context)
        typer.echo(str(path))


def calibrate_from_review(results: Path, *, fit: Path | None, top: int, json_output: bool) -> None:
    """`grade calibrate --from-review RESULTS.jsonl`: the reviewed answers' agreement with the machine's grades."""
    from grader.calibration.mapping import save_mapping
    from grader.calibration.reviewed import NoReviewsError, review_report
    from grader.cohort.corrections import reviewed_answers

    if not results.is_file():
        fail(f"{results}: no such results file", EXIT_USAGE)
    try:
        report = review_report(reviewed_answers(results), str(results), fit=fit is not None, top=top)
    except NoReviewsError as exc:
        fail(str(exc), EXIT_FAILURE)
    if fit is not None and report.fitted is not None:
        save_mapping(report.fitted, fit)
    if json_output:
        import json

        write_json(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        out.print(_review_view(report))
    if fit is not None:
        err.print(f"mapping saved to {fit} (figures above it are in-sample)", markup=False, highlight=False)


def _review_view(report: ReviewReport) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [
        Text(f"{report.file}: {report.answers} reviewed answers; machine score against reviewed score (0-10)",
             style="bold")
    ]  # fmt: skip
    scores = Table(show_edge=False, header_style="bold")
    for name in ("question", "n", "reviewer mean", "machine mean", "pearson", "spearman", "qwk", "mae", "rmse"):
        scores.add_column(name, justify="left" if name == "question" else "right")
    for q in report.per_question:
        scores.add_row(q.question, str(q.agreement.n), f"{q.reviewer_mean:.2f}", f"{q.machine_mean:.2f}",
                       *_figures(q.agreement))  # fmt: skip
    scores.add_row("overall", str(report.overall.n), "", "", *_figures(report.overall), style="bold")
    if report.fitted_overall is not None:
        scores.add_row("overall, fitted mapping (in-sample)", str(report.fitted_overall.n), "", "",
                       *_figures(report.fitted_overall))  # fmt: skip
    parts.append(scores)
    concepts = Table(title="Concept verdicts the reviewer set (machine against reviewer)", title_justify="left",
                     show_edge=False, header_style="bold")  # fmt: skip
    for name in ("question", "concept", "n", "agree", "over-credited", "under-credited", "qwk"):
        concepts.add_column(name, justify="left" if name in ("question", "concept") else "right")
    for c in sorted(report.per_concept, key=lambda c: (c.rate, -c.n)):
        concepts.add_row(c.question, c.name, str(c.n), f"{c.rate:.0%}", str(c.over), str(c.under), _show(c.qwk))
    total = report.concepts
    concepts.add_row("all", "", str(total.n), f"{total.rate:.0%}", str(total.over), str(total.under),
                     _show(total.qwk), style="bold")  # fmt: skip
    parts.append(concepts)
    if report.disagreements:
        worst = Table(title="Largest corrections", title_justify="left", show_edge=False, header_style="bold")
        for name in ("candidate", "question", "machine", "reviewed"):
            worst.add_column(name, justify="left" if name in ("candidate", "question") else "right")
        for d in report.disagreements:
            worst.add_row(d.candidate, d.question, f"{d.machine:.1f}", f"{d.reviewed:.1f}")
        parts.append(worst)
    return Group(*parts)


def _figures(a: Agreement) -> list[str]:
    return [_show(a.pearson), _show(a.spearman), _show(a.qwk), _show(a.mae), _show(a.rmse)]


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
