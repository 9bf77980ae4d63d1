"""The Markdown report: the same sections as the HTML one, as tables that stay narrow (no line over about 200
characters for any cohort size): per question, a row per candidate and a column per concept (C1, C2, ...,
named in a list above the table). Every piece of text from the results is escaped (no markup, no raw HTML)."""

from __future__ import annotations

from grader.cohort.coverage import Cohort, QuestionSummary, reviewed_count
from grader.cohort.report.gradebook import Gradebook, ReportContext, gradebook
from grader.cohort.report.safety import markdown_text as _m

MARK = {"covered": "✔", "partial": "◐", "missing": "✘"}
TEXT_CHARS = 100  # characters of a question's text in tables
NAME_CHARS = 60  # characters of a name or error in a table cell


def render_markdown(cohort: Cohort, context: ReportContext | None = None) -> str:
    context = context or ReportContext()
    book = gradebook(cohort)
    graded = len(cohort.answers)
    mean = sum(a.score for a in cohort.answers.values()) / graded if graded else 0.0
    about = []
    if context.generated is not None:
        about.append(f"Generated {context.generated:%Y-%m-%d %H:%M}")
    if context.source:
        about.append(f"from {_m(context.source)}")
    about.append(f"graded by {_m(book.method)}.")
    lines = [
        f"# {_m(context.title)}",
        "",
        " · ".join(about),
        "",
        f"{graded} answers graded from {len(book.rows)} candidates over {len(book.questions)} questions; "
        f"mean score {mean:.1f} / 10; {len(cohort.errors)} not graded"
        + (f"; {reviewed_count(cohort)} reviewed" if reviewed_count(cohort) else "")
        + ". Each candidate is scored out of "
        f"{book.expected} questions: an answer not graded, or missing, counts 0.",
        "",
        "## Weakest concepts",
        "",
        "| concept | question | coverage | covered | partial | missing |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for c in book.weakest:
        lines.append(
            f"| {_short(c.concept.name)} | {_m(c.question_id)} | {c.coverage:.0%} | {c.covered} | {c.partial} | "
            f"{c.missing} |"
        )
    lines += ["", "## Questions", "", "| question | text | answers | not graded | mean | min | max |",
              "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for q in book.summaries:
        lines.append(
            f"| {_m(q.question_id)} | {_short(context.questions.get(q.question_id, ''), TEXT_CHARS)} | {q.answers} | "
            f"{q.failed} | {q.mean:.1f} | {q.low:.1f} | {q.high:.1f} |"
        )
    lines += _candidates(book)
    lines += ["## Concept coverage by question", "", "✔ covered · ◐ partial · ✘ missing · ! not graded", ""]
    for q in book.summaries:
        lines += _question(cohort, q, context)
    if cohort.errors:
        lines += ["## Not graded", "", "| candidate | question | source | error |", "|---|---|---|---|"]
        for e in cohort.errors.values():
            lines.append(f"| {_short(e.candidate)} | {_m(e.question_id)} | {_short(e.source)} | {_short(e.error)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _candidates(book: Gradebook) -> list[str]:
    header = "| candidate | graded | 0 (not graded or missing) | total | % | weakest concept |"
    lines = ["", "## Candidates", "", header, "|---|---:|---:|---:|---:|---|"]
    for row in book.rows:
        missing = row.count("failed") + row.unanswered
        lines.append(
            f"| {_short(row.candidate)} | {row.count('graded')} | {missing} | {row.total:.1f} / {row.possible:g} | "
            f"{row.percent:.0f}% | {_short(row.weakest or '—')} |"
        )
    lines.append("")
    return lines


def _question(cohort: Cohort, q: QuestionSummary, context: ReportContext) -> list[str]:
    text = context.questions.get(q.question_id, "")
    lines = [f"### {_m(q.question_id)}" + (f": {_short(text, TEXT_CHARS)}" if text else ""), ""]
    for index, c in enumerate(q.concepts, 1):
        lines.append(f"- C{index}: {_short(c.concept.name)} ({c.coverage:.0%} coverage)")
    lines.append("")
    labels = " | ".join(f"C{index}" for index in range(1, len(q.concepts) + 1))
    lines += [f"| candidate | score | {labels} |", "|---|---:|" + ":-:|" * len(q.concepts)]
    for name in cohort.candidates:
        answer = cohort.answers.get((name, q.question_id))
        if answer is None:
            if (name, q.question_id) in cohort.errors:
                lines.append(f"| {_short(name)} | 0 (not graded) | " + " | ".join("!" for _ in q.concepts) + " |")
            continue
        marks = " | ".join(MARK.get(answer.statuses.get(c.concept.id, ""), "·") for c in q.concepts)
        lines.append(f"| {_short(name)} | {answer.score:.1f} | {marks} |")
    lines.append("")
    return lines


def _short(text: str, limit: int = NAME_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return _m(text)
