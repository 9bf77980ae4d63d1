"""Batch reports: self-contained HTML with the heatmap, Markdown, CSV (grader.cohort.report)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_coverage import error, graded

from grader.cohort.coverage import Cohort, cohort_of
from grader.cohort.report import render_csv, render_html, render_markdown, report_format, write_report


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


def test_html_parses_is_self_contained_and_has_the_heatmap() -> None:
    page = Page()
    page.feed(render_html(cohort(), title="Cohort A"))
    page.close()
    assert page.open == []
    tags = {tag for tag, _ in page.tags}
    assert {"html", "style", "table"} <= tags
    assert not tags & {"script", "link", "img", "iframe"}  # no scripts, no external assets
    assert all("src" not in attrs and "http" not in str(attrs.get("href", "")) for _, attrs in page.tags)
    assert any(attrs.get("class") == "heat" for tag, attrs in page.tags if tag == "table")
    marks = [text for cls, text in page.cells if cls in ("cov", "par", "mis", "non")]
    # cicd-3 (3 concepts) and cicd-4 (3 concepts) x 4 candidates (alice, bob, carol, dave)
    assert len(marks) == 6 * 4
    assert ("cov", "✔") in page.cells and ("mis", "✘") in page.cells and ("par", "◐") in page.cells
    assert ("non", "·") in page.cells  # carol did not answer cicd-3
    text = " ".join(page.text)
    assert "Cohort A" in text and "bob <script>alert(1)</script>" in text  # escaped, shown as text
    assert "the answer is empty" in text  # the not-graded table


def test_html_caps_heatmap_columns_for_large_cohorts() -> None:
    big = cohort_of([graded(f"c{i:03d}", "ccm") for i in range(75)])
    page = Page()
    page.feed(render_html(big))
    candidate_cells = [c for c in page.cells if c[0] in ("cov", "par", "mis", "non")]
    assert len(candidate_cells) == 3 * 60
    assert "showing 60 of 75 candidates" in " ".join(page.text)


def test_markdown_tables() -> None:
    text = render_markdown(cohort())
    assert text.startswith("# Batch grading report")
    assert "| alice | 1 | 9.1 / 10 | 9.1 | 91% |" in text
    assert "bob <script>" in text and "### cicd-4" in text
    assert "| Traffic switch | 50% | 1 | 0 | 1 |" in text  # cicd-3: alice covered, bob missed
    assert "## Not graded" in text


def test_csv_one_row_per_candidate_and_question() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(cohort()))))
    assert [(r["candidate"], r["question_id"]) for r in rows] == [
        ("alice", "cicd-3"), ("bob <script>alert(1)</script>", "cicd-3"), ("carol", "cicd-4"), ("dave", "cicd-3"),
    ]  # fmt: skip
    assert rows[0]["covered"] == "switch;canary" and rows[0]["partial"] == "flags" and rows[0]["score"] == "9.1"
    assert rows[3]["error"] == "the answer is empty" and rows[3]["score"] == ""


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("r.html", "html", id="html"),
        pytest.param("R.HTM", "html", id="htm"),
        pytest.param("r.md", "markdown", id="md"),
        pytest.param("r.csv", "csv", id="csv"),
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
