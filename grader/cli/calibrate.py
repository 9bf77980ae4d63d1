"""`grade calibrate`: how closely the grader agrees with human grades on a labelled JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.common import EXIT_USAGE, err, fail, friendly, out, state, write_json
from grader.cli.options import (
    ApiBaseOption,
    ConfigOption,
    ModelOption,
    ModeOption,
    TimeoutOption,
)

if TYPE_CHECKING:
    from rich.console import RenderableType

    from grader.calibration import Agreement, CalibrationReport




@friendly
def calibrate(
    ctx: typer.Context,
    labelled: Annotated[
        Path | None,
        typer.Argument(
            metavar="LABELLED.jsonl",
            help="One JSON object a line: answer, score, max_score, and question + reference or a bank question_id.",
            show_default=False,
        ),
    ] = None,
    from_review: Annotated[
        Path | None,
        typer.Option("--from-review", metavar="RESULTS.jsonl", show_default=False,
                     help="Use the answers reviewed with 'grade review' as the labelled data (no grading)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    fit: Annotated[
        Path | None,
        typer.Option("--fit", help="Fit a monotone mapping from the grader's score to the human scale; save it here.",
                     show_default=False),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="Apply a mapping saved by --fit before measuring.", show_default=False),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="How many of the largest disagreements to list.")] = 10,
    peers: Annotated[
        bool,
        typer.Option("--peers/--no-peers",
                     help="Let reference questions learn from the other answers to them in the file (keyword path)."),
    ] = True,
    mode: ModeOption = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    timeout: TimeoutOption = None,
    config: ConfigOption = None,
) -> None:
    """Grade every labelled answer and report pearson, spearman, qwk, mae and rmse against the human scores."""
    from grader.calibration import calibrate as run_calibration
    from grader.calibration import load_mapping, save_mapping
    from grader.settings import resolve_options

    if fit is not None and calibration is not None:
        fail("--fit and --calibration exclude each other: fit on raw scores, then apply the mapping", EXIT_USAGE)
    if (labelled is None) == (from_review is None):
        fail("give a LABELLED.jsonl file or --from-review RESULTS.jsonl (one of them)", EXIT_USAGE)
    if fit is not None:
        from grader.files import output_problem, same_file

        source = labelled if labelled is not None else from_review
        problem = output_problem(fit) or (f"is {source} itself" if source and same_file(fit, source) else None)
        if problem is not None:
            fail(f"{fit}: --fit {problem}; save the mapping somewhere else", EXIT_USAGE)
    if from_review is not None:
        if calibration is not None:
            fail("--calibration does not apply to --from-review: reviewed scores are measured as they are", EXIT_USAGE)
        from grader.cli.review import calibrate_from_review

        calibrate_from_review(from_review, fit=fit, top=top, json_output=json_output)
        return
    assert labelled is not None
    mapping = load_mapping(calibration) if calibration is not None else None
    options = resolve_options(
        mode=mode.value if mode else None, model=model, api_base=api_base, timeout=timeout, config=config
    )
    app_state = state(ctx)
    report = run_calibration(
        labelled, app_state.bank, options, mapping=mapping, fit=fit is not None, use_peers=peers, top=top
    )
    if fit is not None and report.fitted is not None:
        save_mapping(report.fitted, fit)
    if json_output:
        import json

        write_json(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
        return
    out.print(_view(report))
    if fit is not None:
        err.print(f"mapping saved to {fit} (figures above it are in-sample)", markup=False, highlight=False)


def _view(report: CalibrationReport) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    scale = "calibrated scores" if report.calibrated else "score / 10 x max_score"
    parts = [Text(f"{report.file}: {report.overall.n} answers, human scale in steps of {report.step:g} ({scale})",
                  style="bold")]
    table = Table(show_edge=False, header_style="bold")
    for name in ("question", "n", "human mean", "grader mean", "pearson", "spearman", "qwk", "mae", "rmse"):
        table.add_column(name, justify="left" if name == "question" else "right")
    for q in report.per_question:
        table.add_row(q.question, str(q.agreement.n), f"{q.human_mean:.2f}", f"{q.predicted_mean:.2f}",
                      *_figures(q.agreement))
    table.add_row(Text("overall", style="bold"), str(report.overall.n), "", "", *_figures(report.overall),
                  style="bold")
    if report.fitted_overall is not None:
        table.add_row(Text("overall, fitted mapping (in-sample)", style="bold"), str(report.fitted_overall.n), "", "",
                      *_figures(report.fitted_overall))
    parts.append(table)
    if report.disagreements:
        worst = Table(title="Largest disagreements", show_edge=False, header_style="bold", title_justify="left")
        for name in ("id", "question", "human", "grader", "score /10", "answer"):
            worst.add_column(name, justify="left" if name in ("id", "question", "answer") else "right")
        for d in report.disagreements:
            worst.add_row(d.id, d.question, f"{d.human:g}", f"{d.predicted:.2f}", f"{d.score:g}", Text(d.answer))
        parts.append(worst)
    return Group(*parts)


def _figures(a: Agreement) -> list[str]:
    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    return [show(a.pearson), show(a.spearman), show(a.qwk), show(a.mae), show(a.rmse)]
