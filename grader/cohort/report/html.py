"""The HTML report: one self-contained file (inline CSS and a few lines of inline JavaScript to sort tables; no
external assets), built to stay readable for a whole cohort.

In order: the context (date, source, grading method) and totals; the cohort's weakest concepts; a table of
questions (with their text); the candidates, a column per question (sticky header, sortable, scrolls inside
its box); and per question a heatmap of that question's concepts (rows) by the candidates who answered it
(columns), the concept column sticky when it scrolls sideways. Every section folds (<details>).
"""

from __future__ import annotations

import os

from grader.cohort.coverage import Cohort, QuestionSummary, reviewed_count
from grader.cohort.report.gradebook import Cell, Gradebook, ReportContext, gradebook
from grader.cohort.report.safety import html_text as _e

MARK = {"covered": "✔", "partial": "◐", "missing": "✘"}
CELL_CLASS = {"covered": "cov", "partial": "par", "missing": "mis"}
TEXT_CHARS = 90  # characters of a question's text shown beside its id

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1rem 1rem;color:#1d2330}
h1{font-size:1.4rem;margin:0 0 .2rem} .meta{color:#556;margin:0 0 .5rem}
details{margin:.5rem 0} summary{cursor:pointer;font-weight:600;font-size:1.05rem;padding:.15rem 0}
summary .muted{font-weight:400;font-size:.88rem}
table{border-collapse:collapse;margin:.3rem 0 .5rem}
th,td{padding:.12rem .45rem;border:1px solid #dde;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f3f4f8;font-weight:600} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none} table.sortable th[data-dir=asc]::after{content:" ▲"}
table.sortable th[data-dir=desc]::after{content:" ▼"}
.muted{color:#667} .tiles{display:flex;gap:.8rem;flex-wrap:wrap;margin:.3rem 0}
.tile{border:1px solid #dde;border-radius:6px;padding:.25rem .8rem} .tile b{display:block;font-size:1.15rem}
.box{overflow:auto;border:1px solid #dde;max-width:100%;width:max-content}
.box.rows{max-height:300px} .box.people{max-height:360px}
.box table{margin:0} .box thead th{position:sticky;top:0;z-index:2;box-shadow:0 1px 0 #dde}
.box tbody td:first-child{position:sticky;left:0;background:#fff;z-index:1}
.box thead th:first-child{left:0;z-index:3}
td.failed{background:#fbe3e2;color:#a12} td.absent{color:#aab;background:#f7f7fa}
.bar{display:inline-block;height:.65rem;background:#d9534f;vertical-align:middle;margin-right:.3rem}
.qtext{color:#445}
.heats{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:flex-start}
.heats details{margin:.2rem 0;width:min-content;min-width:20rem;max-width:100%}
.heats summary{font-size:.88rem;font-weight:400} .heats summary b{font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
table.heat{margin:.1rem 0} table.heat td,table.heat th{padding:0 .1rem;text-align:center;min-width:.8rem;
  height:14px;line-height:14px;font-size:11px}
table.heat th.cand{vertical-align:bottom;padding:.15rem 0;font-weight:500}
table.heat th.cand div{writing-mode:vertical-rl;transform:rotate(180deg);max-height:3.6rem;overflow:hidden;
  text-overflow:ellipsis;white-space:nowrap;margin:0 auto}
table.heat .concept{text-align:left;position:sticky;left:0;background:#fff;z-index:1;max-width:10rem;
  overflow:hidden;text-overflow:ellipsis;padding:0 .35rem}
table.heat th.concept{background:#f3f4f8;vertical-align:bottom}
td.cov{background:#2e9d57;color:#fff} td.par{background:#f2c14e} td.mis{background:#d9534f;color:#fff}
table.heat td.rev{outline:2px solid #3553c9;outline-offset:-3px}
td.err{background:#fff;color:#a12;outline:1px dashed #a12;outline-offset:-2px}
.legend{margin:.2rem 0} .legend span{display:inline-block;padding:0 .45rem;margin-right:.35rem;border-radius:3px}
"""

# Click a header of a sortable table to sort by that column (numbers by data-sort), again to reverse.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, index) {
    th.addEventListener("click", function () {
      var dir = th.dataset.dir === "asc" ? "desc" : "asc";
      table.querySelectorAll("thead th").forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = dir;
      var key = function (row) {
        var cell = row.children[index], value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
        var number = parseFloat(value);
        return isNaN(number) || cell.dataset.sort === undefined ? value.trim().toLowerCase() : number;
      };
      var body = table.tBodies[0];
      Array.prototype.slice.call(body.rows)
        .sort(function (a, b) {
          var x = key(a), y = key(b);
          return (x < y ? -1 : x > y ? 1 : 0) * (dir === "asc" ? 1 : -1);
        })
        .forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def render_html(cohort: Cohort, context: ReportContext | None = None) -> str:
    context = context or ReportContext()
    book = gradebook(cohort)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(context.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(context.title)}</h1>",
        _meta(context, book),
        _tiles(cohort, book),
        _section("weakest", "Weakest concepts", "the concepts the cohort covered least", _weakest(book, context)),
        _section("questions", "Questions", f"{len(book.questions)}", _questions(book, context)),
        _section("candidates", "Candidates", f"each scored out of {book.expected} questions; an answer not graded "
                 "or missing counts 0; click a header to sort", _candidates(book)),
        _section("heatmap", "Concept coverage by question", "concepts × the candidates who answered",
                 _heatmaps(cohort, book, context)),
    ]  # fmt: skip
    if cohort.errors:
        parts.append(_section("errors", "Not graded", f"{len(cohort.errors)}", _errors(cohort), open_=False))
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _section(anchor: str, title: str, note: str, body: str, *, open_: bool = True) -> str:
    return (
        f'<details id="{anchor}"{" open" if open_ else ""}><summary>{_e(title)} '
        f'<span class="muted">— {_e(note)}</span></summary>\n{body}\n</details>'
    )


def _meta(context: ReportContext, book: Gradebook) -> str:
    bits = []
    if context.generated is not None:
        bits.append(f"generated {context.generated:%Y-%m-%d %H:%M}")
    if context.source:
        bits.append(f"from {context.source}")
    bits.append(f"graded by {book.method}")
    return f'<p class="meta">{_e(" · ".join(bits))}</p>'


def _tiles(cohort: Cohort, book: Gradebook) -> str:
    scores = [a.score for a in cohort.answers.values()]
    mean = sum(scores) / len(scores) if scores else 0.0
    tiles = [
        ("answers graded", f"{len(scores):,}"),
        ("candidates", f"{len(book.rows):,}"),
        ("questions", f"{len(book.questions):,}"),
        ("mean score", f"{mean:.1f} / 10"),
        ("not graded", f"{len(cohort.errors):,}"),
    ]
    reviewed = reviewed_count(cohort)
    tiles += [("reviewed", f"{reviewed:,}")] if reviewed else []  # answers a reviewer corrected (grade review)
    cells = "".join(f'<div class="tile"><b>{_e(v)}</b><span class="muted">{_e(k)}</span></div>' for k, v in tiles)
    return f'<div class="tiles">{cells}</div>'


def _question_label(question_id: str, context: ReportContext, limit: int = TEXT_CHARS) -> str:
    text = " ".join(context.questions.get(question_id, "").split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"<b>{_e(question_id)}</b>" + (f' <span class="qtext">{_e(text)}</span>' if text else "")


def _weakest(book: Gradebook, context: ReportContext) -> str:
    rows = [
        '<table class="sortable"><thead><tr><th>concept</th><th>question</th><th class="num">coverage</th>'
        '<th class="num">covered</th><th class="num">partial</th><th class="num">missing</th></tr></thead><tbody>'
    ]
    for c in book.weakest:
        width = round(60 * (1 - c.coverage))
        rows.append(
            f"<tr><td>{_e(c.concept.name)}</td><td>{_question_label(c.question_id, context, 60)}</td>"
            f'<td class="num" data-sort="{c.coverage:.4f}"><span class="bar" style="width:{width}px"></span>'
            f"{c.coverage:.0%}</td><td class=num>{c.covered}</td><td class=num>{c.partial}</td>"
            f"<td class=num>{c.missing}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _questions(book: Gradebook, context: ReportContext) -> str:
    rows = [
        '<div class="box rows"><table class="sortable"><thead><tr><th>question</th><th class="num">answers</th>'
        '<th class="num">not graded</th><th class="num">mean</th><th class="num">min</th><th class="num">max</th>'
        "<th>bands</th><th>most missed concept</th></tr></thead><tbody>"
    ]
    for q in book.summaries:
        missed = q.most_missed(1)
        worst = f"{missed[0].concept.name} ({missed[0].coverage:.0%})" if missed and q.answers else "—"
        rows.append(
            f'<tr><td data-sort="{_e(q.question_id)}">{_question_label(q.question_id, context)}</td>'
            f'<td class=num data-sort="{q.answers}">{q.answers}</td>'
            f'<td class=num data-sort="{q.failed}">{q.failed or ""}</td>'
            f'<td class=num data-sort="{q.mean:.3f}">{q.mean:.1f}</td>'
            f'<td class=num data-sort="{q.low:.3f}">{q.low:.1f}</td>'
            f'<td class=num data-sort="{q.high:.3f}">{q.high:.1f}</td>'
            f"<td>{_e(_bands(q.bands))}</td><td>{_e(worst)}</td></tr>"
        )
    rows.append("</tbody></table></div>")
    return "\n".join(rows)


def _candidates(book: Gradebook) -> str:
    head = "".join(f'<th class="num" title="{_e(q)}">{_e(q)}</th>' for q in book.questions)
    rows = [
        '<div class="box people"><table class="sortable" id="candidates-table"><thead><tr><th>candidate</th>'
        f'{head}<th class="num">total</th><th class="num">%</th><th class="num">0 (not graded or missing)</th>'
        "<th>weakest concept</th></tr></thead><tbody>"
    ]
    for row in book.rows:
        cells = "".join(_score_cell(row.cells[q]) for q in book.questions)
        failed = row.count("failed") + row.unanswered
        rows.append(
            f"<tr><td>{_e(row.candidate)}</td>{cells}"
            f'<td class="num total" data-sort="{row.total:.3f}">{row.total:.1f} / {row.possible:g}</td>'
            f'<td class="num" data-sort="{row.percent:.3f}">{row.percent:.0f}%</td>'
            f'<td class="num" data-sort="{failed}">{failed or ""}</td><td>{_e(row.weakest or "—")}</td></tr>'
        )
    rows.append("</tbody></table></div>")
    return "\n".join(rows)


def _score_cell(cell: Cell) -> str:
    if cell.kind == "graded":
        return f'<td class="num" data-sort="{cell.score:.3f}" title="{_e(cell.note)}">{cell.score:.1f}</td>'
    if cell.kind == "failed":
        return f'<td class="num failed" data-sort="0" title="{_e("not graded, counts 0: " + cell.note)}">0 ✘</td>'
    return '<td class="num absent" data-sort="-1" title="no answer">—</td>'


def _heatmaps(cohort: Cohort, book: Gradebook, context: ReportContext) -> str:
    legend = (
        '<p class="legend"><span class="cov">✔ covered</span><span class="par">◐ partial</span>'
        '<span class="mis">✘ missing</span><span class="err">! not graded (counts 0)</span></p>'
    )
    return legend + '<div class="heats">' + "".join(_heatmap(cohort, q, context) for q in book.summaries) + "</div>"


def _heatmap(cohort: Cohort, q: QuestionSummary, context: ReportContext) -> str:
    pairs = cohort.answers.keys() | cohort.errors.keys()
    names = [n for n in cohort.candidates if (n, q.question_id) in pairs]
    note = f"{q.answers} answers, mean {q.mean:.1f}" + (f", {q.failed} not graded" if q.failed else "")
    cut = _shared_prefix(cohort.candidates)
    head = "".join(f'<th class="cand" title="{_e(n)}"><div>{_e(n[cut:])}</div></th>' for n in names)
    rows = [
        f'<details open class="heat-q"><summary>{_question_label(q.question_id, context, 70)} '
        f'<span class="muted">— {_e(note)}</span></summary><div class="scroll">',
        f'<table class="heat"><thead><tr><th class="concept">concept</th><th>cohort</th>{head}</tr></thead><tbody>',
    ]
    for c in q.concepts:
        cohort_cell = (
            f'<td style="background:{_heat(c.coverage)};color:#fff" '
            f'title="{c.covered} covered, {c.partial} partial, {c.missing} missing">{c.coverage:.0%}</td>'
        )
        cells = []
        for name in names:
            answer = cohort.answers.get((name, q.question_id))
            status = answer.statuses.get(c.concept.id) if answer else None
            if answer is None:
                cells.append(f'<td class="err" title="{_e(name)}: not graded">!</td>')
            elif status is None:
                cells.append(f'<td title="{_e(name)}: not assessed">·</td>')
            else:
                mark = " rev" if answer.reviewed else ""  # a reviewer corrected this answer
                cells.append(f'<td class="{CELL_CLASS[status]}{mark}" title="{_e(name)}: {status}">{MARK[status]}</td>')
        rows.append(
            f'<tr><td class="concept" title="{_e(c.concept.name)}">{_e(c.concept.name)}</td>{cohort_cell}'
            f"{''.join(cells)}</tr>"
        )
    rows.append("</tbody></table></div></details>")
    return "\n".join(rows)


def _shared_prefix(names: list[str]) -> int:
    """Length of the prefix every name shares up to a separator (`candidate-` of `candidate-07`), which heatmap
    headers leave out (the full name is in the tooltip); 0 when there is none or only one name."""
    if len(names) < 2:
        return 0
    prefix = os.path.commonprefix(names)  # noqa: RUF071 - characters are what is shared here
    cut = max(prefix.rfind(sep) for sep in "-_. /") + 1
    return cut if all(len(n) > cut for n in names) else 0


def _errors(cohort: Cohort) -> str:
    from grader.cohort.coverage import natural_key

    rows = ['<table class="sortable"><thead><tr><th>candidate</th><th>question</th><th>source</th><th>error</th>'
            "</tr></thead><tbody>"]  # fmt: skip
    for e in sorted(cohort.errors.values(), key=lambda e: (natural_key(e.candidate), natural_key(e.question_id))):
        rows.append(
            f"<tr><td>{_e(e.candidate)}</td><td>{_e(e.question_id)}</td><td>{_e(e.source)}</td>"
            f"<td>{_e(e.error)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _heat(coverage: float) -> str:
    """Red (0%) through amber to green (100%)."""
    return f"hsl({round(120 * max(0.0, min(1.0, coverage)))}, 55%, 40%)"


def _bands(bands: dict[str, int]) -> str:
    order = ("excellent", "good", "fair", "weak", "poor")
    ranked = sorted(bands.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return ", ".join(f"{count} {band}" for band, count in ranked)
