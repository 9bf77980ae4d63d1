"""Rich views of questions and grades. Builds renderables; the caller decides where they are printed."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.models import Grade, Question

STATUS_STYLE = {"covered": "green", "partial": "yellow", "missing": "red"}
STATUS_MARK = {"covered": "✔ covered", "partial": "◐ partial", "missing": "✘ missing"}
BAND_STYLE = {"excellent": "bold green", "good": "green", "fair": "yellow", "weak": "red", "poor": "bold red"}


def question_view(question: Question, title: str | None = None) -> RenderableType:
    heading = f"[bold]{question.id}[/bold]" + (f" · {escape(title)}" if title else "")
    return Panel(Text(question.text), title=heading, title_align="left", border_style="cyan")


def questions_table(questions: Iterable[Question], titles: dict[str, str]) -> RenderableType:
    table = Table(show_edge=False, header_style="bold")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("category")
    table.add_column("question")
    for q in questions:
        table.add_row(q.id, titles.get(q.category, q.category), q.text)
    return table


def grade_view(grade: Grade, model_answer: str | None = None) -> RenderableType:
    """The full feedback: score, concepts with evidence, misconceptions, flags, study plan."""
    parts: list[RenderableType] = [_headline(grade)]
    parts.append(_concept_table(grade))
    if grade.misconceptions:
        parts.append(Text("Misconceptions", style="bold red"))
        for m in grade.misconceptions:
            line = Text(f"  ✘ {m.description} (-{m.penalty:g})", style="red")
            if m.evidence:
                line.append(f'\n    you wrote: "{m.evidence}"', style="italic")
            if m.correction:
                line.append(f"\n    in fact: {m.correction}", style="default")
            parts.append(line)
    if grade.disagreements:
        parts.append(Text("Graders disagree", style="bold magenta"))
        for d in grade.disagreements:
            parts.append(Text(f"  {d.concept_id}: LLM {d.llm_status}, keywords {d.keyword_status} - {d.note}"))
    if grade.flags:
        parts.append(Text("Flags: " + ", ".join(grade.flags), style="bold magenta"))
    if grade.fallback_reason:
        parts.append(Text(f"Graded by keywords instead: {grade.fallback_reason}", style="bold yellow"))
    parts.append(Text(grade.feedback))
    if grade.study_next:
        parts.append(Text("What to study next", style="bold"))
        for item in grade.study_next:
            entry = Text("  • ", style="bold")
            entry.append(item.name, style="bold")
            entry.append(f" - {item.description}\n    Follow-up: ", style="default")
            entry.append(item.follow_up, style="italic")
            parts.append(entry)
    if model_answer:
        parts.append(Panel(Text(model_answer.strip()), title="Model answer", title_align="left", border_style="blue"))
    return Group(*parts)


def _headline(grade: Grade) -> Text:
    text = Text("Score ", style="bold")
    text.append(f"{grade.score:g} / {grade.max_score:g}", style=BAND_STYLE.get(grade.band, "bold"))
    text.append(f"  ({grade.band})", style=BAND_STYLE.get(grade.band, ""))
    if grade.calibrated_score is not None:
        calibrated = f"  ≈ {grade.calibrated_score:g} / {grade.calibrated_max or 0:g} on the calibrated scale"
        text.append(calibrated, style="bold")
    method = grade.method + (f" · {grade.model}" if grade.model else "")
    text.append(f"   graded by {method}", style="dim")
    if grade.confidence is not None:
        text.append(f" · agreement {grade.confidence:.0%}", style="dim")
    if grade.usage is not None:
        usage = grade.usage
        cost = "cached" if usage.cached else f"${usage.cost_usd:.4f}"
        text.append(f" · {usage.prompt_tokens}+{usage.completion_tokens} tokens, {cost}", style="dim")
    return text


def _concept_table(grade: Grade) -> Table:
    table = Table(show_edge=False, header_style="bold", expand=False)
    table.add_column("concept")
    table.add_column("weight", justify="right")
    table.add_column("status", no_wrap=True)
    table.add_column("evidence (your words)")
    for c in grade.concepts:
        style = STATUS_STYLE[c.status]
        evidence = Text(f'"{" ".join(c.evidence.split())}"', style="italic") if c.evidence else Text("-", style="dim")
        if c.reason:
            evidence.append(f"\n{c.reason}", style="dim")
        status = Text(STATUS_MARK[c.status], style=style)
        if c.confidence is not None:  # several LLM samples: how many agreed
            status.append(f"\n{c.confidence:.0%} agree", style="dim")
        table.add_row(c.name, f"{c.weight:g}", status, evidence)
    return table
