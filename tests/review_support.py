"""A small graded cohort for the review tests: answer files graded by the real `grade batch` (keyword path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from grader.cli import app

REPO = Path(__file__).resolve().parent.parent
HOSTILE = (
    "We use blue-green deployments behind the load balancer and switch traffic to green.\n"
    '<script>alert("pwned")</script><img src=x onerror="alert(1)"> </textarea></pre>{{ 7*7 }}\n'
    "Rollback is switching back to blue in seconds."
)
ANSWERS = {
    ("alice", "cicd-3"): (REPO / "examples" / "answers" / "cicd-3.md").read_text(encoding="utf-8"),
    ("bob", "cicd-3"): "Blue green: two copies of prod, switch the DNS when the new one is ready. Canary: a few users.",
    ("carol", "cicd-3"): HOSTILE,
    ("alice", "security-3"): "We scan images with Trivy in CI and fail the build on critical CVEs; Dependabot "
    "opens pull requests for dependencies, and we rebuild from a patched base image every week.",
    ("bob", "security-3"): "We patch when we have time.",
}


def write_answers(root: Path, answers: dict[tuple[str, str], str] = ANSWERS) -> Path:
    for (candidate, question), text in answers.items():
        folder = root / candidate
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{question}.md").write_text(text, encoding="utf-8")
    return root


def graded_results(tmp_path: Path, answers: dict[tuple[str, str], str] = ANSWERS) -> Path:
    """Grade `answers` (candidate/question.md files under tmp_path/answers) into tmp_path/results.jsonl."""
    results = tmp_path / "results.jsonl"
    folder = write_answers(tmp_path / "answers", answers)
    outcome = CliRunner().invoke(app, ["--bank", str(REPO), "batch", str(folder), "--out", str(results), "--quiet"])
    assert outcome.exit_code == 0, outcome.output
    return results


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def record_of(results: Path, candidate: str, question: str) -> dict[str, Any]:
    return next(r for r in records(results) if r["candidate"] == candidate and r["question_id"] == question)
