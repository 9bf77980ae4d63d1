"""Rich views of questions and grades. Builds renderables; the caller decides where they are printed."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.models import ConceptResult, Grade, Question

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


def grade_view(grade: Grade, model_answer: str | None = None, *, full: bool = False) -> RenderableType:
    """The feedback on one grade: compact by default (fits one screen), everything with `full`."""
    return full_view(grade, model_answer) if full else compact_view(grade, model_answer)


def compact_view(grade: Grade, model_answer: str | None = None) -> RenderableType:
    """Score and band, then one line per concept (status, name, a short excerpt of the answer with the matched
    words highlighted, each sentence quoted once), misconceptions and flags one line each, what to study."""
    parts: list[RenderableType] = [_headline(grade)]
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=1, no_wrap=True)
    table.add_column(width=min(NAME_WIDTH, max((len(c.name) for c in grade.concepts), default=1)), no_wrap=True)
    table.add_column(no_wrap=True, ratio=1)
    quoted: set[str] = set()
    for c in grade.concepts:
        name = Text(c.name, no_wrap=True, overflow="ellipsis")
        table.add_row(Text(STATUS_MARK[c.status][0], style=STATUS_STYLE[c.status]), name, _excerpt(c, quoted))
    parts.append(table)
    for m in grade.misconceptions:
        line = Text(f"✘ {m.description} (-{m.penalty:g})", style="red", no_wrap=True, overflow="ellipsis")
        parts.append(line)
    parts.extend(_notes(grade))
    if grade.study_next:
        study = Text("Study next: ", style="bold", no_wrap=True, overflow="ellipsis")
        study.append("; ".join(item.name for item in grade.study_next), style="default")
        parts.append(study)
    if model_answer:
        parts.append(Panel(Text(model_answer.strip()), title="Model answer", title_align="left", border_style="blue"))
    parts.append(Text("--full shows the evidence, feedback and follow-up questions", style="dim"))
    return Group(*parts)


def full_view(grade: Grade, model_answer: str | None = None) -> RenderableType:
    """Everything: score, concepts with the sentence quoted and the grader's reason, misconceptions with
    corrections, disagreements, flags, feedback, and what to study next with follow-up questions."""
    parts: list[RenderableType] = [_headline(grade), _concept_list(grade)]
    if grade.misconceptions:
        parts.append(Text("Misconceptions", style="bold red"))
        items = []
        for m in grade.misconceptions:
            line = Text(f"{m.description} (-{m.penalty:g})", style="red")
            if m.evidence:
                line.append(f'\nyou wrote: "{_squash(m.evidence)}"', style="italic")
            if m.correction:
                line.append(f"\nin fact: {m.correction}", style="default")
            items.append((Text("✘", style="red"), line))
        parts.append(_bullets(items))
    if grade.disagreements:
        parts.append(Text("Graders disagree", style="bold magenta"))
        parts.append(
            _bullets(
                (Text("•"), Text(f"{d.concept_id}: LLM {d.llm_status}, keywords {d.keyword_status} - {d.note}"))
                for d in grade.disagreements
            )
        )
    parts.extend(_notes(grade))
    parts.append(Text(grade.feedback))
    if grade.study_next:
        parts.append(Text("What to study next", style="bold"))
        items = []
        for item in grade.study_next:
            entry = Text(item.name, style="bold")
            entry.append(f" - {item.description}\nFollow-up: ", style="default")
            entry.append(item.follow_up, style="italic")
            items.append((Text("•", style="bold"), entry))
        parts.append(_bullets(items))
    if model_answer:
        parts.append(Panel(Text(model_answer.strip()), title="Model answer", title_align="left", border_style="blue"))
    return Group(*parts)


NAME_WIDTH = 34  # characters of a concept's name in the compact view
_WORD = re.compile(r"[\w'’-]+")


def _bullets(items: Iterable[tuple[Text, Text]]) -> Table:
    """Bulleted entries whose wrapped lines keep a hanging indent under the text, not the bullet."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_column()
    for mark, text in items:
        grid.add_row(" ", mark, text)
    return grid


def _notes(grade: Grade) -> list[Text]:
    notes = []
    if grade.flags:
        notes.append(Text("Flags: " + ", ".join(grade.flags), style="bold magenta"))
    if grade.fallback_reason:
        notes.append(Text(f"Graded by keywords instead: {grade.fallback_reason}", style="bold yellow"))
    return notes


def _squash(text: str) -> str:
    return " ".join(text.split())


def _key_stems(matched: Iterable[str]) -> set[str]:
    """Stems of the words of matched keywords (`switch ... load balancer` -> swit, load, bala), for highlighting."""
    stems = set()
    for keyword in matched:
        for word in _WORD.findall(keyword.lower()):
            if len(word) >= 4:
                stems.add(word[:5] if len(word) > 5 else word)
    return stems


def _excerpt(concept: ConceptResult, quoted: set[str], width: int = 60) -> Text:
    """A short excerpt of the concept's evidence around the matched words, highlighted; a sentence already
    quoted for an earlier concept is not quoted again."""
    if not concept.evidence:
        return Text("-", style="dim")
    sentence = _squash(concept.evidence)
    if sentence in quoted:
        return Text("↑ same passage as above", style="dim")
    quoted.add(sentence)
    stems = _key_stems(concept.matched)
    hits = [m for m in _WORD.finditer(sentence) if any(m.group().lower().startswith(s) for s in stems)]
    start = 0
    if hits and len(sentence) > width:  # start shortly before the run of matched words that fits best
        best = max(hits, key=lambda h: sum(h.start() <= o.start() < h.start() + width - 12 for o in hits))
        start = max(0, best.start() - 12)
        if start:
            start = sentence.rfind(" ", 0, start) + 1
    window = sentence[start:]
    text = Text(("…" if start else "") + window, style="italic", no_wrap=True, overflow="ellipsis")
    offset = (1 if start else 0) - start
    for m in hits:
        if m.start() >= start:
            text.stylize("bold not italic", m.start() + offset, m.end() + offset)
    return text


def _concept_list(grade: Grade) -> Table:
    """Each concept: status, name and weight, then the sentence of the answer that shows it (quoted once)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    quoted: set[str] = set()
    for c in grade.concepts:
        status = Text(STATUS_MARK[c.status], style=STATUS_STYLE[c.status])
        if c.confidence is not None:  # several LLM samples: how many agreed
            status.append(f"\n{c.confidence:.0%} agree", style="dim")
        body = Text(c.name, style="bold")
        body.append(f"  weight {c.weight:g}", style="dim")
        if c.evidence:
            sentence = _squash(c.evidence)
            if sentence in quoted:
                body.append("\n↑ same passage as above", style="dim")
            else:
                quoted.add(sentence)
                body.append(f'\n"{sentence}"', style="italic")
        if c.reason:
            body.append(f"\n{c.reason}", style="dim")
        grid.add_row(status, body)
    return grid


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
