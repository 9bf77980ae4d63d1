"""The built-in bank: 28 questions in seed order, repaired text, lookups, suggestions, broken files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.bank.loader import load_bank, suggest_ids
from grader.errors import BankError, UnknownQuestionError

EXPECTED_IDS = (
    [f"infra-{i}" for i in range(1, 6)]
    + [f"cicd-{i}" for i in range(1, 6)]
    + [f"monitoring-{i}" for i in range(1, 5)]
    + [f"containers-{i}" for i in range(1, 6)]
    + [f"security-{i}" for i in range(1, 5)]
    + [f"behavioral-{i}" for i in range(1, 6)]
)


def test_bank_has_the_28_seed_questions_in_order() -> None:
    bank = load_bank()
    assert list(bank.questions) == EXPECTED_IDS
    assert bank.question("cicd-3").text == "How do you handle blue-green or canary deployments?"
    assert bank.question("infra-4").text.startswith("What's your approach to high availability (HA)")


def test_question_text_is_repaired() -> None:
    for question in load_bank().questions.values():
        for garbage in ("â€", "ğŸ", "Ã", "\ufffd"):
            assert garbage not in question.text, question.id


def test_lookup_is_case_insensitive() -> None:
    assert load_bank().question(" CICD-3 ").id == "cicd-3"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("cicd-9", ["cicd-3", "cicd-4", "cicd-5"], id="number-out-of-range"),
        pytest.param("cidc-3", ["cicd-3"], id="transposed-letters"),
        pytest.param("container-5", ["containers-5"], id="singular"),
        pytest.param("zzzz", [], id="nothing-close"),
    ],
)
def test_suggestions(query: str, expected: list[str]) -> None:
    suggestions = suggest_ids(query, list(load_bank().questions))
    assert suggestions[: len(expected)] == expected or set(expected) <= set(suggestions)
    if not expected:
        assert suggestions == []


def test_unknown_question_message() -> None:
    with pytest.raises(UnknownQuestionError) as info:
        load_bank().question("cicd-9")
    assert str(info.value) == "unknown question 'cicd-9'; did you mean: cicd-3, cicd-4, cicd-5?"


def write_bank(root: Path, rubric: str) -> Path:
    (root / "questions").mkdir(parents=True)
    (root / "rubrics").mkdir()
    (root / "questions" / "01-demo.yaml").write_text(
        "category: demo\ntitle: Demo\nquestions:\n  - id: demo-1\n    text: What is a canary?\n"
    )
    (root / "rubrics" / "demo-1.yaml").write_text(rubric)
    return root


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    bank = load_bank(write_bank(tmp_path, "question_id: demo-1\nconcepts: [\n  - broken: : :\n"))
    with pytest.raises(BankError, match=r"demo-1\.yaml: line \d+: invalid YAML"):
        bank.rubric("demo-1")


def test_invalid_rubric_names_file_and_field(tmp_path: Path) -> None:
    rubric = (
        "question_id: demo-1\nmodel_answer: x\nconcepts:\n  - id: a\n    name: A\n    description: d\n"
        "    weight: -1\n    keywords: [canary]\n    follow_up: f?\n"
    )
    bank = load_bank(write_bank(tmp_path, rubric))
    with pytest.raises(BankError, match=r"demo-1\.yaml: concepts\.0\.weight: Input should be greater than 0"):
        bank.rubric("demo-1")


def test_unknown_rubric_field_is_rejected(tmp_path: Path) -> None:
    rubric = (
        "question_id: demo-1\nmodel_answer: x\nmodel_anwser: typo\nconcepts:\n  - id: a\n    name: A\n"
        "    description: d\n    weight: 1\n    keywords: [canary]\n    follow_up: f?\n"
    )
    bank = load_bank(write_bank(tmp_path, rubric))
    with pytest.raises(BankError, match=r"model_anwser: Extra inputs are not permitted"):
        bank.rubric("demo-1")


def test_missing_bank_folder(tmp_path: Path) -> None:
    with pytest.raises(BankError, match="no questions folder"):
        load_bank(tmp_path / "nowhere")


def test_wheel_ships_the_bank_and_finds_it_outside_the_checkout(tmp_path: Path) -> None:
    """A plain (non-editable) install finds the built-in bank from any directory."""
    repo = Path(__file__).resolve().parent.parent
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(repo)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("devops_answer_grader-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "grader/_bank/questions/02-cicd.yaml" in names
        assert "grader/_bank/rubrics/cicd-3.yaml" in names
        archive.extractall(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run(
        [sys.executable, "-c", "from grader import load_bank; b = load_bank(); print(b.root, len(b.questions))"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    root, count = probe.stdout.split()
    assert root.endswith("grader/_bank") and str(tmp_path) in root
    assert count == "28"
