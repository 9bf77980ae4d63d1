"""Rich views of the history, progress and practice picks. Builds renderables; never prints."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.cli.views.grade import BAND_STYLE, grade_view
from grader.practice.history import Attempt
from grader.practice.picks import Pick
from grader.practice.progress import Progress

SPARKS = "▁▂▃▄▅▆▇█"


def local_time(attempt: Attempt) -> str:
    return attempt.created_at.astimezone().strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def sparkline(series: Sequence[float], width: int = 12) -> str:
    """The last `width` values (0-1) as block characters."""
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v * (len(SPARKS) - 1) + 0.5))] for v in series[-width:])


def trend_text(trend: float | None) -> Text:
    if trend is None:
        return Text("–", style="dim")
    if trend > 0:
        return Text(f"▲ +{trend:.0%}", style="green")
    if trend < 0:
        return Text(f"▼ -{-trend:.0%}", style="red")
    return Text("= 0%", style="dim")


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _source(attempt: Attempt) -> str:
    if attempt.source == "follow-up" and attempt.grade.concepts:
        return f"follow-up: {attempt.grade.concepts[0].name}"
    return attempt.source


def attempts_table(attempts: Sequence[Attempt], total: int) -> RenderableType:
    if not attempts:
        return Text("No attempts saved yet. Grade one with 'grade answer' or 'grade practice'.", style="dim")
    table = Table(show_edge=False, header_style="bold")
    table.add_column("#", justify="right", style="cyan", no_wrap=True)
    table.add_column("when", no_wrap=True)
    table.add_column("question", no_wrap=True)
    table.add_column("source")
    table.add_column("graded by")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("band")
    for a in attempts:
        method = a.method + (f" · {a.model}" if a.model else "")
        table.add_row(
            str(a.id),
            local_time(a),
            a.question_id,
            _source(a),
            method,
            f"{a.score:g} / {a.max_score:g}",
            Text(a.band, style=BAND_STYLE.get(a.band, "")),
        )
    if total > len(attempts):
        table.caption = f"the last {len(attempts)} of {total} attempts; see more with --last N"
    return table


def attempt_view(attempt: Attempt, prompt: str | None, model_answer: str | None = None) -> RenderableType:
    """One attempt again: when, what was asked, what was answered, the full feedback."""
    head = Text(f"Attempt #{attempt.id}", style="bold")
    head.append(f" · {attempt.question_id} · {local_time(attempt)} · {_source(attempt)}", style="default")
    if attempt.elapsed_seconds is not None:
        head.append(f" · written in {duration(attempt.elapsed_seconds)}", style="dim")
    parts: list[RenderableType] = [head]
    if prompt:
        parts.append(Panel(Text(prompt), title="Question", title_align="left", border_style="cyan"))
    parts.append(Panel(Text(attempt.answer.strip()), title="Your answer", title_align="left", border_style="white"))
    parts.append(grade_view(attempt.grade, model_answer))
    return Group(*parts)


def progress_view(progress: Progress, category: str | None = None, elsewhere: int = 0) -> RenderableType:
    """Progress; `elsewhere`: attempts outside `category`, to say why a category has none."""
    if not progress.attempts:
        if category and elsewhere:
            return Text(
                f"No attempts in category '{category}' yet ({_count(elsewhere, 'attempt')} in other categories): "
                f"practise it with 'grade practice -c {category}'.",
                style="dim",
            )
        return Text("No attempts saved yet: answer a few questions with 'grade practice' first.", style="dim")
    parts: list[RenderableType] = [
        Text(
            f"{_count(progress.attempts, 'attempt')} on {_count(progress.questions_answered, 'question')}",
            style="bold",
        )
    ]
    parts.append(_categories(progress))
    parts.append(_concepts(progress))
    if progress.most_missed:
        parts.append(Text("Missed most often", style="bold red"))
        for c in progress.most_missed:
            line = Text(f"  ✘ {c.name}", style="default")
            line.append(f" ({c.question_id}): missed {c.misses} of {c.attempts}", style="dim")
            parts.append(line)
    if progress.plan:
        parts.append(Text("Study plan", style="bold"))
        for n, item in enumerate(progress.plan, 1):
            entry = Text(f"  {n}. ", style="bold")
            entry.append(item.name, style="bold")
            entry.append(f" ({item.question_id}, now {item.latest:.0%})", style="dim")
            entry.append(f"\n     {item.description}\n     Try: ", style="default")
            entry.append(item.follow_up, style="italic")
            parts.append(entry)
    return Group(*parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _categories(progress: Progress) -> Table:
    table = Table(title="By category", title_justify="left", show_edge=False, header_style="bold")
    table.add_column("category")
    table.add_column("answered", justify="right")
    table.add_column("latest", justify="right")
    table.add_column("best", justify="right")
    table.add_column("trend", no_wrap=True)
    table.add_column("history")
    for c in progress.categories:
        style = "" if c.answered else "dim"
        table.add_row(
            Text(c.title, style=style),
            f"{c.answered}/{c.questions}",
            share(c.latest),
            share(c.best),
            trend_text(c.trend),
            sparkline(c.series),
            style=style,
        )
    return table


def _concepts(progress: Progress) -> Table:
    table = Table(title="By concept", title_justify="left", show_edge=False, header_style="bold")
    table.add_column("question", style="cyan", no_wrap=True)
    table.add_column("concept")
    table.add_column("tries", justify="right")
    table.add_column("latest", justify="right")
    table.add_column("best", justify="right")
    table.add_column("trend", no_wrap=True)
    table.add_column("history")
    previous = None
    for c in progress.concepts:
        style = {"covered": "green", "partial": "yellow", "missing": "red"}[c.last_status]
        table.add_row(
            c.question_id if c.question_id != previous else "",
            c.name,
            str(c.attempts),
            Text(share(c.latest), style=style),
            share(c.best),
            trend_text(c.trend),
            sparkline(c.series),
        )
        previous = c.question_id
    return table


def pick_view(pick: Pick, title: str | None, limit_minutes: float | None) -> RenderableType:
    """The question practice mode chose, and why."""
    if pick.reason == "new":
        why = "never answered"
    else:
        why = f"weakest so far: {pick.mastery or 0:.0%} mastered"
        if pick.weak_concepts:
            why += " · not covered last time: " + ", ".join(pick.weak_concepts[:3])
            if len(pick.weak_concepts) > 3:
                why += f" and {len(pick.weak_concepts) - 3} more"
    heading = f"[bold]{pick.question.id}[/bold]" + (f" · {escape(title)}" if title else "")
    subtitle = why + (f" · time limit {limit_minutes:g} min" if limit_minutes else "")
    return Panel(
        Text(pick.question.text),
        title=heading,
        title_align="left",
        subtitle=Text(subtitle, style="dim"),
        subtitle_align="left",
        border_style="cyan",
    )


def follow_up_view(question_id: str, concept_name: str, prompt: str) -> RenderableType:
    return Panel(
        Text(prompt),
        title=f"[bold]Follow-up[/bold] · {escape(question_id)} · {escape(concept_name)}",
        title_align="left",
        border_style="magenta",
    )
