"""Batch reports: self-contained HTML with the heatmap, Markdown, CSV (grader.cohort.report)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_coverage import error, graded

from grader.cohort.coverage import Cohort, cohort_of
from grader.cohort.report import (
    ReportContext,
    gradebook,
    render_csv,
    render_gradebook,
    render_html,
    render_markdown,
    report_format,
    write_report,
)


def cohort() -> Cohort:
    return cohort_of(
        [
            graded("alice", "ccp", score=9.1),
            graded("bob <script>alert(1)</script>", "mmm", score=0.5),
            graded("carol", "cmm", question="cicd-4", score=3.0),
            error("dave"),
        ]
    )


class Page(HTMLParser):
    """Collects tags, attributes and table cells, and fails on unbalanced table markup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.cells: list[tuple[str | None, str]] = []  # (class, text) of heatmap cells
        self._cell: list[str] | None = None
        self._cell_class: str | None = None
        self.in_heat = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in ("table", "tr", "td", "th"):
            self.open.append(tag)
        if tag == "table" and attributes.get("class") == "heat":
            self.in_heat = True
        if tag == "td" and self.in_heat:
            self._cell, self._cell_class = [], attributes.get("class")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("table", "tr", "td", "th"):
            assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
            self.open.pop()
        if tag == "td" and self._cell is not None:
            self.cells.append((self._cell_class, "".join(self._cell).strip()))
            self._cell = None
        if tag == "table":
            self.in_heat = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def test_html_parses_is_self_contained_and_has_per_question_heatmaps() -> None:
    page = Page()
    context = ReportContext(title="Cohort A", source="results.jsonl", questions={"cicd-3": "Blue-green or canary?"})
    page.feed(render_html(cohort(), context))
    page.close()
    assert page.open == []
    tags = {tag for tag, _ in page.tags}
    assert {"html", "style", "table", "details", "script"} <= tags
    assert not tags & {"link", "img", "iframe"}  # one self-contained file: its only script is inline
    assert all("src" not in attrs and "http" not in str(attrs.get("href", "")) for _, attrs in page.tags)
    heat_tables = [attrs for tag, attrs in page.tags if tag == "table" and attrs.get("class") == "heat"]
    assert len(heat_tables) == 2  # one per question
    marks = [text for cls, text in page.cells if cls in ("cov", "par", "mis")]
    # cicd-3: alice and bob (3 concepts each); cicd-4: carol; dave's cicd-3 failed: 3 "not graded" cells
    assert len(marks) == 3 * 3 and [c for c in page.cells if c[0] == "err"] == [("err", "!")] * 3
    text = " ".join(page.text)
    assert "Cohort A" in text and "bob <script>alert(1)</script>" in text  # escaped, shown as text
    assert "Blue-green or canary?" in text and "from results.jsonl" in text and "graded by keyword" in text
    assert "the answer is empty" in text  # the not-graded table


def test_a_failed_answer_counts_zero_in_the_candidate_total() -> None:
    results = [graded("ann", "ccc", score=8.0), graded("ann", "ccc", question="cicd-4", score=6.0)]
    results += [graded("ben", "ccc", score=9.0), error("ben", "cicd-4")]
    book = gradebook(cohort_of(results))
    rows = {row.candidate: row for row in book.rows}
    assert (rows["ann"].total, rows["ann"].possible) == (14.0, 20.0)
    assert (rows["ben"].total, rows["ben"].possible, rows["ben"].percent) == (9.0, 20.0, 45.0)
    assert rows["ben"].cells["cicd-4"].kind == "failed"


def test_a_missing_answer_counts_zero_up_to_the_questions_others_answered() -> None:
    results = [graded("ann", "ccc", score=8.0), graded("ann", "ccc", question="cicd-4", score=6.0)]
    results.append(graded("cid", "ccc", score=10.0))  # no cicd-4 at all
    rows = {row.candidate: row for row in gradebook(cohort_of(results)).rows}
    assert rows["cid"].cells["cicd-4"].kind == "absent"
    assert (rows["cid"].total, rows["cid"].possible, rows["cid"].unanswered) == (10.0, 20.0, 1)


def test_markdown_per_question_tables_and_short_lines() -> None:
    big = cohort_of([graded(f"candidate-{i:03d}", "cpm", question=f"q-{i % 30}") for i in range(300)])
    text = render_markdown(big)
    assert text.startswith("# Batch grading report")
    assert max(len(line) for line in text.splitlines()) <= 200
    small = render_markdown(cohort(), ReportContext(questions={"cicd-3": "Blue-green or canary?"}))
    assert "### cicd-3: Blue-green or canary?" in small
    assert "| alice | 9.1 | ✔ | ✔ | ◐ |" in small and "| dave | 0 (not graded) | ! | ! | ! |" in small
    assert "## Not graded" in small


def test_csv_one_row_per_candidate_and_question() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(cohort()))))
    assert [(r["candidate"], r["question_id"]) for r in rows] == [
        ("alice", "cicd-3"), ("bob <script>alert(1)</script>", "cicd-3"), ("carol", "cicd-4"), ("dave", "cicd-3"),
    ]  # fmt: skip
    assert rows[0]["covered"] == "switch;canary" and rows[0]["partial"] == "flags" and rows[0]["score"] == "9.1"
    assert rows[3]["error"] == "the answer is empty" and rows[3]["score"] == ""


def test_gradebook_csv_a_row_per_candidate_a_column_per_question() -> None:
    rows = list(csv.reader(io.StringIO(render_gradebook(cohort()))))
    assert rows[0] == ["candidate", "cicd-3", "cicd-4", "total", "possible", "percent"]
    by_name = {row[0]: row[1:] for row in rows[1:]}
    assert by_name["alice"] == ["9.1", "", "9.1", "10", "91.0"]
    assert by_name["carol"] == ["", "3.0", "3.0", "10", "30.0"]
    assert by_name["dave"] == ["0.0", "", "0.0", "10", "0.0"]  # the empty answer counts 0


# --- issue 14, probe 16: reports are safe to open ------------------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("name", [pytest.param(n, id=f"starts-{n[0]!r}") for n in HOSTILE])
def test_probe16_csv_cells_starting_a_formula_are_text(name: str) -> None:
    hostile = cohort_of([graded(name, "ccc"), error(name, "cicd-4")])
    for rendered in (render_csv(hostile), render_gradebook(hostile)):
        cells = [cell for row in csv.reader(io.StringIO(rendered)) for cell in row]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
        expected = "CR" if name == "\rCR" else "'" + name  # a carriage return is a control character: dropped
        assert cells.count(expected) == (2 if rendered.startswith("candidate,question_id") else 1)


def test_probe16_markdown_is_escaped() -> None:
    hostile = cohort_of([graded("<script>alert(1)</script> | [x](javascript:alert(1)) **b**", "ccc")])
    text = render_markdown(hostile)
    assert "<script>" not in text and "&lt;script&gt;" in text
    import re

    assert not re.search(r"(?<!\\)\]\(", text) and "**b**" not in text  # no link, no emphasis
    table_rows = [line for line in text.splitlines() if line.startswith("| &lt;script")]
    assert table_rows and all(line.replace("\\|", "").count("|") == 7 for line in table_rows[:1])  # 6 columns


def test_probe16_report_files_are_created_0644_respecting_the_umask(tmp_path: Path) -> None:
    import os

    previous = os.umask(0o022)
    try:
        write_report(cohort(), tmp_path / "report.html")
        os.umask(0o077)
        write_report(cohort(), tmp_path / "private.md")
    finally:
        os.umask(previous)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.md").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("r.html", "html", id="html"),
        pytest.param("R.HTM", "html", id="htm"),
        pytest.param("r.md", "markdown", id="md"),
        pytest.param("r.csv", "csv", id="csv"),
        pytest.param("gradebook.csv", "gradebook", id="gradebook"),
        pytest.param("cohort-A.gradebook.CSV", "gradebook", id="named-gradebook"),
        pytest.param("r.pdf", None, id="unknown"),
    ],
)
def test_report_format(name: str, kind: str | None) -> None:
    assert report_format(Path(name)) == kind


def test_write_report_is_atomic_and_rejects_unknown_types(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "report.html"
    write_report(cohort(), target)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary file left behind
    with pytest.raises(ValueError, match="unknown report format"):
        write_report(cohort(), tmp_path / "report.pdf")
