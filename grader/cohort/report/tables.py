"""The CSV reports: one row per answer (`.csv`), or a gradebook (`gradebook.csv`): one row per candidate, one
column per question, then the total, for spreadsheets and LMS import. Every cell that a spreadsheet would run
as a formula is written as text (see `safety.csv_cell`)."""

from __future__ import annotations

import csv
import io

from grader.cohort.coverage import Cohort, natural_key
from grader.cohort.report.gradebook import gradebook
from grader.cohort.report.safety import csv_cell

CSV_COLUMNS = (
    "candidate", "question_id", "score", "max_score", "band", "method", "fallback", "flags",
    "covered", "partial", "missing", "source", "error", "reviewed",
)  # fmt: skip


def render_csv(cohort: Cohort) -> str:
    """One row per (candidate, question): score, band, method, the concepts by status, or the error."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    pairs = sorted(set(cohort.answers) | set(cohort.errors), key=lambda p: (natural_key(p[0]), natural_key(p[1])))
    for pair in pairs:
        answer = cohort.answers.get(pair)
        if answer is None:
            e = cohort.errors[pair]
            row = [*pair, "", "", "", "", "", "", "", "", "", e.source, e.error, ""]
        else:
            by_status: dict[str, list[str]] = {"covered": [], "partial": [], "missing": []}
            for concept_id, status in answer.statuses.items():
                by_status[status].append(concept_id)
            row = [
                *pair, f"{answer.score:.1f}", f"{answer.max_score:g}", answer.band, answer.method,
                "yes" if answer.fallback else "", ";".join(answer.flags),
                *(";".join(by_status[status]) for status in ("covered", "partial", "missing")),
                answer.source, "", "yes" if answer.reviewed else "",
            ]  # fmt: skip
        writer.writerow([csv_cell(cell) for cell in row])
    return buffer.getvalue()


def render_gradebook(cohort: Cohort) -> str:
    """A row per candidate: the score of each question (0 for an answer that could not be graded, empty for a
    question the candidate has no answer for), then total, possible and percent (see `gradebook`: both count 0)."""
    book = gradebook(cohort)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(cell) for cell in ("candidate", *book.questions, "total", "possible", "percent")])
    for row in book.rows:
        scores = []
        for question_id in book.questions:
            cell = row.cells[question_id]
            scores.append("" if cell.kind == "absent" else f"{cell.score:.1f}")
        writer.writerow(
            [csv_cell(row.candidate), *scores, f"{row.total:.1f}", f"{row.possible:g}", f"{row.percent:.1f}"]
        )
    return buffer.getvalue()
