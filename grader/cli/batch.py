"""`grade batch` (grade many answers into a results file, resumable) and `grade coverage` (cohort view)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli import provider_batch as provider
from grader.cli.common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
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
from grader.cli.completion import complete_question
from grader.cli.options import (
    LLM_PANEL,
    ApiBaseOption,
    CacheOption,
    ConfigOption,
    FallbackOption,
    ModelOption,
    ModeOption,
    SamplesOption,
    TimeoutOption,
    VerboseOption,
)
from grader.cli.watch import verbose_exchanges

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress

    from grader.cohort.batch import Outcome
    from grader.cohort.coverage import CandidateSummary, Cohort, QuestionSummary
    from grader.cohort.report import ReportContext


OUTPUT_PANEL = "Output"
PROVIDER_PANEL = provider.PANEL
EXIT_FOR_STATUS = {"ok": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILURE, "empty": EXIT_FAILURE}


@friendly
def batch(
    ctx: typer.Context,
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Folders of .md/.txt answers (candidate/question-id.md), .jsonl or .csv files.",
            exists=True,
            show_default=False,
            metavar="INPUT",
        ),
    ],
    results: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Results file (JSONL); graded answers in it are skipped.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = Path("results.jsonl"),
    reports: Annotated[
        list[Path] | None,
        typer.Option(
            "--report",
            "-r",
            help="Write a report: .html, .md, .csv or a name ending in gradebook.csv (repeatable).",
            rich_help_panel=OUTPUT_PANEL,
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", help="No progress bar and no summary.", rich_help_panel=OUTPUT_PANEL),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON.", rich_help_panel=OUTPUT_PANEL)
    ] = False,
    no_overrides: Annotated[
        bool,
        typer.Option("--no-overrides", help="Reports without a reviewer's corrections.", rich_help_panel=OUTPUT_PANEL),
    ] = False,
    follow_symlinks: Annotated[
        bool,
        typer.Option(
            "--follow-symlinks",
            help="Read symbolic links found in input folders (by default each is an error line, not followed).",
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="Answers with the model at once on the LLM path (requests in flight).",
            rich_help_panel=LLM_PANEL,
        ),
    ] = 4,
    mode: ModeOption = None,
    model: ModelOption = None,
    api_base: ApiBaseOption = None,
    timeout: TimeoutOption = None,
    samples: SamplesOption = None,
    cache: CacheOption = None,
    fallback: FallbackOption = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
    provider_batch: Annotated[
        bool,
        typer.Option(
            "--provider-batch",
            help="Send the answers through the provider's batch API; run the same command again to collect.",
            rich_help_panel=PROVIDER_PANEL,
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="Wait for the provider's batches and collect them.", rich_help_panel=PROVIDER_PANEL)
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Show the provider's batches, then exit.", rich_help_panel=PROVIDER_PANEL)
    ] = False,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Cancel the open batches, then exit.", rich_help_panel=PROVIDER_PANEL)
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Send failed or expired requests again instead of falling back to keywords.",
            rich_help_panel=PROVIDER_PANEL,
        ),
    ] = False,
    poll: Annotated[
        float,
        typer.Option(min=0.01, metavar="SECONDS", help="Seconds between polls with --wait.",
                     rich_help_panel=PROVIDER_PANEL),
    ] = 30.0,
) -> None:
    """Grade every answer in INPUTS into a results file; run it again to resume where it stopped.

    INPUTS: folders of .md/.txt answers (candidate/question-id.md), .jsonl or .csv files.

    Reports (-r): .html, .md, .csv (a row per answer), or *gradebook.csv (a row per candidate)."""
    from grader.cohort.batch import run_batch
    from grader.cohort.inputs import count_items
    from grader.settings import resolve_options

    _check_paths(inputs, results, reports or [])
    options = resolve_options(
        mode=mode.value if mode else None,
        model=model,
        api_base=api_base,
        timeout=timeout,
        samples=samples,
        use_cache=cache,
        fallback=fallback,
        config=config,
    )
    flags = provider.Flags(provider_batch, wait, status, cancel, retry_failed, poll)
    if flags.any():
        raise typer.Exit(provider.command(ctx, flags, inputs, results, options, quiet, json_output, reports or [],
                                          no_overrides))
    bank = state(ctx).bank()
    show_progress = not quiet and err.is_terminal
    progress = _progress(count_items(inputs, follow_symlinks=follow_symlinks)) if show_progress else None
    try:
        if progress is not None:
            progress.start()
        with verbose_exchanges(err, verbose):
            summary = run_batch(
                bank,
                inputs,
                results,
                options,
                concurrency,
                on_outcome=_tracker(progress) if progress else None,
                follow_symlinks=follow_symlinks,
            )
    except KeyboardInterrupt:
        fail(f"interrupted; what was graded is in {results}: run the same command again to resume", EXIT_INTERRUPTED)
    finally:
        if progress is not None:
            progress.stop()
    if reports:
        from grader.cohort.coverage import load_cohort

        cohort = load_cohort(results, overrides=not no_overrides)
        context = report_context(ctx, results)
        for report in reports:
            _write_report(cohort, report, context)
    if json_output:
        write_json(json.dumps(summary.as_dict(), indent=2))
    elif not quiet:
        from grader.cli.views.batch import summary_view

        out.print(summary_view(summary))
    raise typer.Exit(EXIT_FOR_STATUS[summary.status])


@friendly
def coverage(
    ctx: typer.Context,
    results: Annotated[
        Path,
        typer.Argument(
            help="A results file written by 'grade batch'.", exists=True, dir_okay=False, show_default=False
        ),
    ],
    question: Annotated[
        list[str] | None,
        typer.Option(
            "--question", "-q", help="Only this question (repeatable).", show_default=False,
            autocompletion=complete_question,
        ),
    ] = None,
    candidate: Annotated[
        list[str] | None,
        typer.Option("--candidate", metavar="NAME", help="Only this candidate (repeatable).", show_default=False),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Concepts shown per question and per candidate.")] = 5,
    reports: Annotated[
        list[Path] | None,
        typer.Option(
            "--report",
            "-r",
            help="Also write a report: .html, .md, .csv or *gradebook.csv (repeatable).",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print coverage as JSON.")] = False,
    no_overrides: Annotated[
        bool, typer.Option("--no-overrides", help="The machine's grades, without a reviewer's corrections.")
    ] = False,
) -> None:
    """Concept coverage in a results file: what most candidates miss, each candidate's weakest concepts."""
    from grader.cohort.corrections import reviewed_records
    from grader.cohort.coverage import candidate_summaries, cohort_of, question_summaries
    check_reports(reports or [], [results], results)
    wanted_q = {q.strip().lower() for q in question or []}
    wanted_c = set(candidate or [])
    cohort = cohort_of(
        r for r in reviewed_records(results, overrides=not no_overrides)
        if (not wanted_q or r["question_id"] in wanted_q) and (not wanted_c or r["candidate"] in wanted_c)
    )  # fmt: skip
    if not cohort.answers and not cohort.errors:
        fail(f"{results}: no results" + (" match the filters" if wanted_q or wanted_c else ""), EXIT_FAILURE)
    for report in reports or []:
        _write_report(cohort, report, report_context(ctx, results))
    questions = question_summaries(cohort)
    candidates = candidate_summaries(cohort, weakest=top)
    if json_output:
        write_json(json.dumps(_coverage_json(questions, candidates, top), indent=2))
        return
    from grader.cli.views.batch import coverage_view

    out.print(coverage_view(questions, candidates, top))


def _check_paths(inputs: list[Path], results: Path, reports: list[Path]) -> None:
    """Usage errors before grading: unreadable input types; an --out or --report that is an input, lies in an
    input folder where it would be read as an answer, is a symbolic link or a special file; unknown report types."""
    from grader.cohort.inputs import input_kind, output_conflict

    for path in inputs:
        if input_kind(path) is None:
            fail(f"{path}: not a folder, .md, .txt, .jsonl or .csv file", EXIT_USAGE)
    if results.is_dir() and not results.is_symlink():
        fail(f"{results}: --out is a folder; give a file such as results.jsonl", EXIT_USAGE)
    conflict = output_conflict(results, inputs, "--out")
    if conflict is not None:
        fail(conflict, EXIT_USAGE)
    check_reports(reports, inputs, results)



def _write_report(cohort: Cohort, report: Path, context: ReportContext) -> None:
    from grader.cohort.report import write_report

    write_report(cohort, report, context)


def _progress(total: int | None) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from grader.cli.terminal import real_console

    progress = Progress(
        TextColumn("[bold]grading[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[extra]}"),
        console=real_console(err),
        transient=True,
        refresh_per_second=8,
    )
    progress.add_task("grading", total=total, rate="", extra="")
    return progress


def _tracker(progress: Progress) -> Callable[[Outcome], None]:
    """A callback that advances the progress bar: answers done, rate, failures and fallbacks so far."""
    import time

    task = progress.tasks[0].id
    counts = {"graded": 0, "skipped": 0, "failed": 0, "fallback": 0}
    started = time.perf_counter()
    last = [0.0]

    def track(outcome: Outcome) -> None:
        counts[outcome.status] += 1
        counts["fallback"] += outcome.fallback
        now = time.perf_counter()
        if now - last[0] < 0.1:
            progress.advance(task)
            return
        last[0] = now
        rate = counts["graded"] / (now - started) if now > started else 0.0
        extra = []
        if counts["skipped"]:
            extra.append(f"{counts['skipped']:,} skipped")
        if counts["failed"]:
            extra.append(f"[red]{counts['failed']:,} failed[/]")
        extra.append(f"[yellow]{counts['fallback']:,} fallbacks[/]" if counts["fallback"] else "0 fallbacks")
        progress.update(task, advance=1, rate=f"{rate:,.0f}/s", extra=" · ".join(extra))

    return track


def _coverage_json(questions: list[QuestionSummary], candidates: list[CandidateSummary], top: int) -> dict[str, object]:
    return {
        "questions": [
            {
                "question_id": q.question_id,
                "answers": q.answers,
                "mean": round(q.mean, 2),
                "concepts": [
                    {
                        "id": c.concept.id,
                        "name": c.concept.name,
                        "coverage": round(c.coverage, 3),
                        "covered": c.covered,
                        "partial": c.partial,
                        "missing": c.missing,
                    }
                    for c in q.most_missed()
                ],
            }
            for q in questions
        ],
        "candidates": [
            {
                "candidate": c.candidate,
                "answers": c.answers,
                "mean": round(c.mean, 2),
                "weakest": [
                    {
                        "question_id": w.question_id,
                        "concept_id": w.concept.id,
                        "name": w.concept.name,
                        "status": w.status,
                    }
                    for w in c.weakest[:top]
                ],
            }
            for c in candidates
        ],
    }
