"""`grade batch ... --provider-batch`: submit to the provider's batch API, collect, `--status`, `--cancel`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from grader.cli.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, err, fail, out, report_context, state, write_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress

    from grader.cohort.provider_batch import Poll, ProviderSummary
    from grader.cohort.provider_state import BatchRecord
    from grader.pipeline import GradeOptions

PANEL = "Provider batch (about half price, results within 24 h)"


@dataclass(frozen=True)
class Flags:
    provider_batch: bool
    wait: bool
    status: bool
    cancel: bool
    retry_failed: bool
    poll: float

    def any(self) -> bool:
        return self.provider_batch or self.wait or self.status or self.cancel or self.retry_failed


def command(
    ctx: typer.Context,
    flags: Flags,
    inputs: list[Path],
    results: Path,
    options: GradeOptions,
    quiet: bool,
    json_output: bool,
    reports: list[Path],
    no_overrides: bool,
) -> int:
    """The provider-batch variant of `grade batch`: run, write the reports, show the summary; the exit code."""
    summary = run(ctx, flags, inputs, results, options, quiet, json_output)
    if reports:
        from grader.cli.batch import _write_report
        from grader.cohort.coverage import load_cohort

        cohort = load_cohort(results, overrides=not no_overrides)
        context = report_context(ctx, results)
        for report in reports:
            _write_report(cohort, report, context)
    return show_summary(summary, quiet, json_output)


def run(
    ctx: typer.Context,
    flags: Flags,
    inputs: list[Path],
    results: Path,
    options: GradeOptions,
    quiet: bool,
    json_output: bool,
) -> ProviderSummary:
    """Run the provider-batch variant of `grade batch` (exits for --status and --cancel)."""
    if not flags.provider_batch:
        used = [name for name, on in (("--wait", flags.wait), ("--status", flags.status), ("--cancel", flags.cancel),
                                      ("--retry-failed", flags.retry_failed)) if on]
        fail(f"{used[0]} needs --provider-batch", EXIT_USAGE)
    if flags.status and flags.cancel:
        fail("--status and --cancel cannot be used together", EXIT_USAGE)
    if flags.status:
        _status(results, options, json_output)
    if flags.cancel:
        _cancel(results, options, json_output, quiet)
    from grader.cohort.provider_batch import BatchPlan, run_provider_batch

    plan = BatchPlan(wait=flags.wait, retry_failed=flags.retry_failed, poll_every=flags.poll)
    show = flags.wait and not quiet and err.is_terminal
    progress = _progress() if show else None
    try:
        if progress is not None:
            progress.start()
        summary = run_provider_batch(
            state(ctx).bank(), inputs, results, options, plan, on_poll=_tracker(progress) if progress else None
        )
    except KeyboardInterrupt:
        fail(
            f"interrupted; what was submitted is recorded in {results.name}.batches.json and what was collected "
            f"is in {results}: run the same command again to go on",
            EXIT_INTERRUPTED,
        )
    finally:
        if progress is not None:
            progress.stop()
    return summary


def show_summary(summary: ProviderSummary, quiet: bool, json_output: bool) -> int:
    """Print the run's summary; the exit code."""
    from grader.cli.batch import EXIT_FOR_STATUS

    if json_output:
        write_json(json.dumps(summary.as_dict(), indent=2))
    elif not quiet:
        out.print(_summary_view(summary))
    return EXIT_OK if summary.pending else EXIT_FOR_STATUS[summary.batch.status]


def _summary_view(summary: ProviderSummary) -> Any:
    from rich.console import Group
    from rich.text import Text

    from grader.cli.views.batch import summary_view

    parts: list[Any] = []
    if summary.batch.found or not summary.pending:
        parts.append(summary_view(summary.batch))
    if summary.cost_usd:
        parts.append(Text(f"  cost at batch prices: ${summary.cost_usd:,.4f}"))
    if summary.submitted:
        batches = "batch" if summary.batches_created == 1 else "batches"
        parts.append(Text(f"submitted {summary.submitted:,} requests in {summary.batches_created} {batches}"))
    notes = [
        (summary.resent, "requests sent after the first (failed or expired, repairs, halves, next chunks)"),
        (summary.kept, "replies for answers not in these inputs were kept for a run that has them"),
        (summary.stale, "replies to requests built otherwise (rubric or prompt changed) were not used"),
        (summary.malformed, "lines of the provider's result files could not be read"),
    ]
    for count, what in notes:
        if count:
            parts.append(Text(f"  {count:,} {what}", style="yellow"))
    if summary.pending:
        parts.append(Text(f"pending: {summary.pending:,} answers awaited from the provider", style="bold yellow"))
        parts.append(
            Text(
                "run the same command again to collect them (add --wait to wait here; --status to look)",
                style="dim",
            )
        )
    return Group(*parts)


def _status(results: Path, options: GradeOptions, json_output: bool) -> None:
    from grader.cohort.provider_remote import provider_batches

    records = provider_batches(results, options)
    if json_output:
        write_json(json.dumps([_record_json(r) for r in records], indent=2))
    else:
        out.print(_status_view(records))
    raise typer.Exit(EXIT_OK)


def _cancel(results: Path, options: GradeOptions, json_output: bool, quiet: bool) -> None:
    from grader.cohort.provider_remote import cancel_provider_batches

    cancelled = cancel_provider_batches(results, options)
    if json_output:
        write_json(json.dumps({"cancelled": cancelled}, indent=2))
    elif not quiet:
        for line in cancelled or ["no open batches to cancel"]:
            out.print(line)
        if cancelled:
            out.print("run the same command again to collect what they finished", style="dim")
    raise typer.Exit(EXIT_OK)


def _record_json(record: BatchRecord) -> dict[str, Any]:
    return {
        "batch_id": record.batch_id,
        "status": record.status,
        "requests": record.requests,
        "completed": record.completed,
        "failed": record.failed,
        "collected": record.collected,
        "file": record.name,
    }


def _status_view(records: list[BatchRecord]) -> Any:
    from rich.table import Table

    table = Table(title="Provider batches", title_justify="left", title_style="bold cyan", show_edge=False)
    for column, justify in (("batch", "left"), ("status", "left"), ("requests", "right"), ("done", "right"),
                            ("failed", "right"), ("collected", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in records:
        table.add_row(
            r.batch_id or f"(not created: {r.name})", r.status, f"{r.requests:,}", f"{r.completed:,}",
            f"{r.failed:,}", "yes" if r.collected else "no",
        )
    return table


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.cli.terminal import real_console

    progress = Progress(
        TextColumn("[bold]provider batch[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[extra]}"),
        TimeElapsedColumn(),
        console=real_console(err),
        transient=True,
        refresh_per_second=4,
    )
    progress.add_task("batch", total=None, extra="submitting")
    return progress


def _tracker(progress: Progress) -> Callable[[Poll], None]:
    task = progress.tasks[0].id

    def track(poll: Poll) -> None:
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(poll.statuses.items()))
        extra = f"{poll.failed:,} failed · {statuses}" if poll.failed else statuses
        progress.update(task, total=poll.requests or None, completed=poll.completed + poll.failed, extra=extra)

    return track
