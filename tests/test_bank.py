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


# --- a rubric unfit to grade with is refused, not graded with (issue 14) --------------------------------

CONCEPT = (
    "  - id: {id}\n    name: {name}\n    description: d\n    weight: 1\n    keywords: [{keyword}]\n    follow_up: f?\n"
)


def rubric_text(*concepts: tuple[str, str, str], extra: str = "") -> str:
    body = "".join(CONCEPT.format(id=i, name=n, keyword=k) for i, n, k in concepts)
    return f"question_id: demo-1\nmodel_answer: We ship a canary first.\n{extra}concepts:\n{body}"


def test_probe15_a_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    """Probe 15: a key given twice (YAML keeps the last silently) passed into grading."""
    text = rubric_text(("a", "Canary", "canary")).replace("    weight: 1\n", "    weight: 1\n    weight: 3\n")
    bank = load_bank(write_bank(tmp_path, text))
    message = r"demo-1\.yaml: line 8: invalid YAML: duplicate key 'weight' \(first on line 7\)"
    with pytest.raises(BankError, match=message):
        bank.rubric("demo-1")
    from grader.bank.validation import check_bank

    (problem,) = check_bank(tmp_path).errors
    assert "duplicate key 'weight'" in str(problem)


def test_probe15_a_duplicate_question_file_key_is_an_error(tmp_path: Path) -> None:
    root = write_bank(tmp_path, rubric_text(("a", "Canary", "canary")))
    (root / "questions" / "01-demo.yaml").write_text("category: demo\ntitle: Demo\ntitle: Again\nquestions: []\n")
    with pytest.raises(BankError, match="duplicate key 'title'"):
        load_bank(root)


@pytest.mark.parametrize(
    ("concepts", "message"),
    [
        pytest.param([("a", "Canary", "canary"), ("a", "Rollback", "rollback")], "concepts.1.id: duplicate id 'a'",
                     id="duplicate-concept-id"),
        pytest.param([("a", "Canary", "'...'")], "has no words to match", id="keyword-without-words"),
    ],
)
def test_probe15_a_rubric_with_errors_is_refused_for_grading(
    tmp_path: Path, concepts: list[tuple[str, str, str]], message: str
) -> None:
    """Probe 15: duplicate concept ids passed silently into grading (`rubrics check` reported them, `grade answer`
    graded anyway)."""
    bank = load_bank(write_bank(tmp_path, rubric_text(*concepts)))
    with pytest.raises(BankError, match=message) as info:
        bank.rubric("demo-1")
    assert "grade rubrics check" in str(info.value)


def test_probe15_grade_answer_refuses_the_bank_with_exit_4(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from grader.cli import app
    from grader.cli.common import EXIT_BANK

    root = write_bank(tmp_path, rubric_text(("a", "Canary", "canary"), ("a", "Rollback", "rollback")))
    result = CliRunner().invoke(app, ["--bank", str(root), "answer", "-q", "demo-1", "--json"], input="A canary.")
    assert result.exit_code == EXIT_BANK and "duplicate id 'a'" in result.stderr and result.stdout == ""


def test_the_verdict_is_cached_with_the_rubric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rubric is checked when it is read from YAML, not when the start-up cache serves it (no cost then)."""
    import grader.bank.validation as validation

    root = write_bank(tmp_path, rubric_text(("a", "Canary", "canary")))
    assert load_bank(root).rubric("demo-1").concepts[0].id == "a"
    calls: list[str] = []
    real = validation.rubric_errors
    monkeypatch.setattr(validation, "rubric_errors", lambda rubric, path: calls.append(path) or real(rubric, path))
    assert load_bank(root).rubric("demo-1").concepts[0].id == "a"
    assert calls == []


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
def test_a_lone_surrogate_escape_is_refused_by_either_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str
) -> None:
    """A "\\ud800" escape would load into a string no JSON or UTF-8 can hold, and fail later, mid-grading."""
    import yaml

    from grader.bank import loader

    if parser == "pure-python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    loader._unique_key_loader.cache_clear()
    try:
        bank = load_bank(write_bank(tmp_path, rubric_text(("a", '"Canary \\ud800"', "canary"))))
        with pytest.raises(BankError, match=r"demo-1\.yaml: line 5: invalid YAML"):
            bank.rubric("demo-1")
    finally:
        monkeypatch.undo()
        loader._unique_key_loader.cache_clear()
