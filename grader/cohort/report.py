"""Batch reports from a cohort of results, chosen by the file's extension: `.html`, `.md` or `.csv`.

- HTML: one self-contained file (inline CSS, no scripts, no external assets): cohort totals, per-candidate
  totals, a per-question table, and a concept-coverage heatmap (a row per concept, the cohort's coverage,
  then a cell per candidate coloured by that candidate's verdict).
- Markdown: the same tables, heatmap cells as symbols.
- CSV: one row per (candidate, question): score, band, method, the concepts covered / partial / missing,
  or the error.

Reports never contain answer text or evidence, only verdicts, so they can be shared. Files are written
atomically (a temporary file renamed over the target). Answers a reviewer corrected (`grade review`) are marked:
a tile and outlined heatmap cells in HTML, a count in Markdown, a `reviewed` column in CSV.
"""

from __future__ import annotations

import csv
import html
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from grader.cohort.coverage import (
    AnswerRecord,
    CandidateSummary,
    Cohort,
    QuestionSummary,
    candidate_summaries,
    natural_key,
    question_summaries,
)
from grader.errors import StorageError

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".csv": "csv"}
HEATMAP_CANDIDATES = 60  # candidate columns shown in the heatmap; the cohort column always covers everyone
MARK = {"covered": "✔", "partial": "◐", "missing": "✘", None: "·"}
CELL_CLASS = {"covered": "cov", "partial": "par", "missing": "mis", None: "non"}


def report_format(path: Path) -> str | None:
    """'html', 'markdown' or 'csv' from the file's extension; None when it is none of them."""
    return FORMATS.get(path.suffix.lower())


def write_report(cohort: Cohort, path: Path, title: str = "Batch grading report") -> None:
    """Write the report `path`'s extension asks for (a ValueError for an unknown extension)."""
    kind = report_format(path)
    if kind is None:
        raise ValueError(f"{path}: unknown report format; use .html, .md or .csv")
    renderers: dict[str, Callable[[Cohort, str], str]] = {
        "html": render_html,
        "markdown": render_markdown,
        "csv": lambda c, _: render_csv(c),
    }
    _write_atomically(path, renderers[kind](cohort, title))


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write the report: {exc.strerror or exc}") from None


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d2330}
h1{font-size:1.5rem;margin:0 0 .3rem} h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.4rem 0 1rem}
th,td{padding:.25rem .55rem;border:1px solid #dde;text-align:left}
th{background:#f3f4f8;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#667} .tiles{display:flex;gap:1rem;flex-wrap:wrap}
.tile{border:1px solid #dde;border-radius:6px;padding:.5rem .9rem} .tile b{display:block;font-size:1.3rem}
table.heat td{text-align:center;min-width:1.6rem;padding:.15rem .3rem} table.heat td.concept{text-align:left}
table.heat th.cand{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:500;white-space:nowrap}
td.cov{background:#2e9d57;color:#fff} td.par{background:#f2c14e} td.mis{background:#d9534f;color:#fff}
td.non{background:#f3f4f8;color:#99a} tr.qhead td{background:#e9ecf5;font-weight:600;text-align:left}
.legend span{display:inline-block;padding:0 .5rem;margin-right:.4rem;border-radius:3px}
table.heat td.rev{outline:2px solid #3553c9;outline-offset:-3px}
"""


def render_html(cohort: Cohort, title: str = "Batch grading report") -> str:
    questions = question_summaries(cohort)
    candidates = candidate_summaries(cohort)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _html_tiles(cohort, questions),
        "<h2>Candidates</h2>",
        _html_candidates(candidates),
        "<h2>Questions</h2>",
        _html_questions(questions),
        '<h2 id="heatmap">Concept coverage</h2>',
        _html_heatmap(cohort, questions),
    ]
    if cohort.errors:
        parts += ["<h2>Not graded</h2>", _html_errors(cohort)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_tiles(cohort: Cohort, questions: list[QuestionSummary]) -> str:
    scores = [a.score for a in cohort.answers.values()]
    mean = sum(scores) / len(scores) if scores else 0.0
    tiles = [
        ("answers graded", f"{len(scores):,}"),
        ("candidates", f"{len(cohort.candidates):,}"),
        ("questions", f"{len(questions):,}"),
        ("mean score", f"{mean:.1f} / 10"),
        ("not graded", f"{len(cohort.errors):,}"),
    ]
    tiles += [("reviewed", f"{_reviewed(cohort):,}")] if _reviewed(cohort) else []  # grade review
    cells = "".join(f'<div class="tile"><b>{_e(v)}</b><span class="muted">{_e(k)}</span></div>' for k, v in tiles)
    return f'<div class="tiles">{cells}</div>'


def _html_candidates(candidates: list[CandidateSummary]) -> str:
    rows = [
        "<table><tr><th>candidate</th><th>answers</th><th>total</th><th>mean</th><th>%</th>"
        "<th>not graded</th><th>weakest concepts</th></tr>"
    ]
    for c in candidates:
        weakest = "; ".join(f"{w.concept.name} ({w.question_id}, {w.status})" for w in c.weakest) or "—"
        rows.append(
            f"<tr><td>{_e(c.candidate)}</td><td class=num>{c.answers}</td>"
            f"<td class=num>{c.total:.1f} / {c.possible:.0f}</td><td class=num>{c.mean:.1f}</td>"
            f"<td class=num>{c.percent:.0f}%</td><td class=num>{c.failed or ''}</td>"
            f"<td>{_e(weakest)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _html_questions(questions: list[QuestionSummary]) -> str:
    rows = [
        "<table><tr><th>question</th><th>answers</th><th>mean</th><th>min</th><th>max</th><th>bands</th>"
        "<th>not graded</th><th>most missed concept</th></tr>"
    ]
    for q in questions:
        missed = q.most_missed(1)
        worst = f"{missed[0].concept.name} ({missed[0].coverage:.0%} coverage)" if missed and q.answers else "—"
        rows.append(
            f"<tr><td>{_e(q.question_id)}</td><td class=num>{q.answers}</td><td class=num>{q.mean:.1f}</td>"
            f"<td class=num>{q.low:.1f}</td><td class=num>{q.high:.1f}</td><td>{_e(_bands(q.bands))}</td>"
            f"<td class=num>{q.failed or ''}</td><td>{_e(worst)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _html_heatmap(cohort: Cohort, questions: list[QuestionSummary]) -> str:
    names = cohort.candidates
    shown = names[:HEATMAP_CANDIDATES]
    legend = (
        '<p class="legend"><span class="cov">✔ covered</span><span class="par">◐ partial</span>'
        '<span class="mis">✘ missing</span><span class="non">· not answered</span>'
        + (
            f' <span class="muted">showing {len(shown)} of {len(names)} candidates; the cohort column covers all</span>'
            if len(shown) < len(names)
            else ""
        )
        + "</p>"
    )
    head = "".join(f'<th class="cand">{_e(name)}</th>' for name in shown)
    rows = [legend, '<table class="heat">', f"<tr><th>concept</th><th>cohort</th>{head}</tr>"]
    for q in questions:
        rows.append(f'<tr class="qhead"><td colspan="{len(shown) + 2}">{_e(q.question_id)}</td></tr>')
        for c in q.concepts:
            cohort_cell = (
                f'<td style="background:{_heat(c.coverage)};color:#fff" '
                f'title="{c.covered} covered, {c.partial} partial, {c.missing} missing">{c.coverage:.0%}</td>'
            )
            cells = []
            for name in shown:
                answer = cohort.answers.get((name, q.question_id))
                status = answer.statuses.get(c.concept.id) if answer else None
                cells.append(
                    f'<td class="{CELL_CLASS[status]}{_rev(answer)}" title="{_e(name)}: {status or "not answered"}">'
                    f"{MARK[status]}</td>"
                )
            rows.append(f'<tr><td class="concept">{_e(c.concept.name)}</td>{cohort_cell}{"".join(cells)}</tr>')
    rows.append("</table>")
    return "\n".join(rows)


def _html_errors(cohort: Cohort) -> str:
    rows = ["<table><tr><th>candidate</th><th>question</th><th>source</th><th>error</th></tr>"]
    for e in sorted(cohort.errors.values(), key=lambda e: (natural_key(e.candidate), natural_key(e.question_id))):
        rows.append(
            f"<tr><td>{_e(e.candidate)}</td><td>{_e(e.question_id)}</td><td>{_e(e.source)}</td><td>{_e(e.error)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _reviewed(cohort: Cohort) -> int:
    return sum(a.reviewed for a in cohort.answers.values())


def _rev(answer: AnswerRecord | None) -> str:
    """The extra class of a heatmap cell whose answer a reviewer corrected."""
    return " rev" if answer is not None and answer.reviewed else ""


def _heat(coverage: float) -> str:
    """Red (0%) through amber to green (100%)."""
    return f"hsl({round(120 * max(0.0, min(1.0, coverage)))}, 55%, 40%)"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# --- Markdown -----------------------------------------------------------------------------------


def render_markdown(cohort: Cohort, title: str = "Batch grading report") -> str:
    questions = question_summaries(cohort)
    candidates = candidate_summaries(cohort)
    graded = len(cohort.answers)
    mean = sum(a.score for a in cohort.answers.values()) / graded if graded else 0.0
    lines = [
        f"# {title}",
        "",
        f"{graded} answers graded from {len(cohort.candidates)} candidates over {len(questions)} questions; "
        f"mean score {mean:.1f} / 10; {len(cohort.errors)} not graded"
        + (f"; {_reviewed(cohort)} reviewed." if _reviewed(cohort) else "."),
        "",
        "## Candidates",
        "",
        "| candidate | answers | total | mean | % | not graded | weakest concepts |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in candidates:
        weakest = "; ".join(f"{w.concept.name} ({w.question_id}, {w.status})" for w in c.weakest) or "—"
        lines.append(
            f"| {_m(c.candidate)} | {c.answers} | {c.total:.1f} / {c.possible:.0f} | {c.mean:.1f} | "
            f"{c.percent:.0f}% | {c.failed or ''} | {_m(weakest)} |"
        )
    lines += ["", "## Questions", "", "| question | answers | mean | min | max | bands | not graded |"]
    lines.append("|---|---:|---:|---:|---:|---|---:|")
    for q in questions:
        lines.append(
            f"| {_m(q.question_id)} | {q.answers} | {q.mean:.1f} | {q.low:.1f} | {q.high:.1f} | "
            f"{_m(_bands(q.bands))} | {q.failed or ''} |"
        )
    lines += ["", "## Concept coverage", "", "✔ covered · ◐ partial · ✘ missing · `·` not answered", ""]
    shown = cohort.candidates[:HEATMAP_CANDIDATES]
    for q in questions:
        lines += [f"### {q.question_id}", ""]
        lines.append("| concept | coverage | covered | partial | missing | " + " | ".join(_m(n) for n in shown) + " |")
        lines.append("|---|---:|---:|---:|---:|" + "|".join(":-:" for _ in shown) + "|")
        for c in q.concepts:
            marks = []
            for name in shown:
                answer = cohort.answers.get((name, q.question_id))
                marks.append(MARK[answer.statuses.get(c.concept.id) if answer else None])
            lines.append(
                f"| {_m(c.concept.name)} | {c.coverage:.0%} | {c.covered} | {c.partial} | {c.missing} | "
                + " | ".join(marks)
                + " |"
            )
        lines.append("")
    if cohort.errors:
        lines += ["## Not graded", "", "| candidate | question | source | error |", "|---|---|---|---|"]
        for e in cohort.errors.values():
            lines.append(f"| {_m(e.candidate)} | {_m(e.question_id)} | {_m(e.source)} | {_m(e.error)} |")
        lines.append("")
    return "\n".join(lines)


def _m(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _bands(bands: dict[str, int]) -> str:
    order = ("excellent", "good", "fair", "weak", "poor")
    ranked = sorted(bands.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return ", ".join(f"{count} {band}" for band, count in ranked)


# --- CSV ----------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "candidate", "question_id", "score", "max_score", "band", "method", "fallback", "flags",
    "covered", "partial", "missing", "source", "error", "reviewed",
)  # fmt: skip


def render_csv(cohort: Cohort) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    pairs = sorted(set(cohort.answers) | set(cohort.errors), key=lambda p: (natural_key(p[0]), natural_key(p[1])))
    for pair in pairs:
        answer = cohort.answers.get(pair)
        if answer is None:
            e = cohort.errors[pair]
            writer.writerow([*pair, "", "", "", "", "", "", "", "", "", e.source, e.error, ""])
            continue
        by_status: dict[str, list[str]] = {"covered": [], "partial": [], "missing": []}
        for concept_id, status in answer.statuses.items():
            by_status[status].append(concept_id)
        writer.writerow(
            [
                *pair, f"{answer.score:.1f}", f"{answer.max_score:g}", answer.band, answer.method,
                "yes" if answer.fallback else "", ";".join(answer.flags),
                *(";".join(by_status[status]) for status in ("covered", "partial", "missing")),
                answer.source, "", "yes" if answer.reviewed else "",
            ]
        )  # fmt: skip
    return buffer.getvalue()
