"""An answer's text read back from its source for the review (grader.review.sources), and evidence spans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.review.highlight import find_span, segments
from grader.review.sources import Sources

REPO = Path(__file__).resolve().parent.parent
TEXT = "We switch traffic with the load balancer.\nRollback means switching back."


def graded(tmp_path: Path, name: str, content: str) -> tuple[Path, dict]:
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    results = tmp_path / "results.jsonl"
    outcome = CliRunner().invoke(app, ["--bank", str(REPO), "batch", str(source), "--out", str(results), "--quiet"])
    assert outcome.exit_code == 0, outcome.output
    return source, json.loads(results.read_text().splitlines()[-1])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("a.jsonl", '{"candidate": "x", "question": "cicd-3", "answer": "other"}\n'
                     + json.dumps({"candidate": "ann", "question": "cicd-3", "answer": TEXT}) + "\n", id="jsonl-line"),
        pytest.param("a.csv", 'candidate,question,answer\nann,cicd-3,"' + TEXT + '"\n', id="csv-row"),
        pytest.param("cicd-3.md", "candidate: ann\n" + TEXT, id="answer-file"),
    ],
)
def test_the_graded_text_is_read_back_and_checked_against_its_key(tmp_path: Path, name: str, content: str) -> None:
    source, record = graded(tmp_path, name, content)
    found = Sources(tmp_path / "results.jsonl").answer("ann", "cicd-3", record["source"], record["key"])
    assert (found.text, found.matches, found.note) == (TEXT, True, "")
    source.write_text(content.replace("load balancer", "DNS"), encoding="utf-8")
    changed = Sources(tmp_path / "results.jsonl").answer("ann", "cicd-3", record["source"], record["key"])
    assert not changed.matches and "changed since it was graded" in changed.note and "DNS" in (changed.text or "")
    source.unlink()
    gone = Sources(tmp_path / "results.jsonl").answer("ann", "cicd-3", record["source"], record["key"])
    assert gone.text is None and "cannot be found" in gone.note


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        pytest.param("load balancer.", (TEXT.index("load"), TEXT.index("\n")), id="exact"),
        pytest.param("LOAD   balancer.\nRollback", (TEXT.index("load"), TEXT.index(" means")), id="any-space-any-case"),
        pytest.param("not there", None, id="absent"),
        pytest.param("  ", None, id="blank"),
    ],
)
def test_find_span(quote: str, expected: tuple[int, int] | None) -> None:
    assert find_span(TEXT, quote) == expected


def test_segments_carry_every_concept_whose_evidence_covers_them() -> None:
    parts, found = segments(TEXT, {"a": "We switch traffic", "b": "switch traffic with the load", "c": "nowhere"})
    assert "".join(p.text for p in parts) == TEXT
    assert [(p.text, p.concepts) for p in parts[:3]] == [
        ("We ", ("a",)), ("switch traffic", ("a", "b")), (" with the load", ("b",))]
    assert found == {"a", "b"}
