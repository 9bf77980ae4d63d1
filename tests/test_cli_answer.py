"""`grade answer`, `grade questions` and `grade rubrics check` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app

GOOD = (
    "We keep two identical environments and switch traffic at the load balancer once the new one passes "
    "smoke tests; rolling back is just switching back. For canaries we send 5% of traffic to the new version "
    "and watch error rate and latency before increasing gradually."
)


def run(runner: CliRunner, *args: str, input: str | bytes | None = None):
    return runner.invoke(app, list(args), input=input)


def test_answer_from_file_json_contract(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(GOOD)
    result = run(runner, "answer", "--question", "cicd-3", "--file", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    grade = json.loads(result.stdout)
    for key in ("question_id", "score", "max_score", "method", "concepts", "misconceptions", "flags", "feedback"):
        assert key in grade
    assert grade["question_id"] == "cicd-3" and grade["method"] == "keyword" and grade["max_score"] == 10
    assert grade["fallback_reason"] is None
    assert 0 < grade["score"] <= 10
    for concept in grade["concepts"]:
        assert set(concept) >= {"id", "name", "weight", "status", "evidence"}
        assert concept["status"] in {"covered", "partial", "missing"}
        assert concept["evidence"] is None or concept["evidence"] in GOOD
    assert any(c["status"] == "covered" for c in grade["concepts"])


def test_answer_from_stdin(runner: CliRunner) -> None:
    result = run(runner, "answer", "-q", "cicd-3", "--json", input=GOOD)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["score"] > 0


def test_answer_rich_view(runner: CliRunner) -> None:
    result = run(runner, "answer", "-q", "cicd-3", "--full", "--show-model-answer", input=GOOD)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "How do you handle blue-green or canary deployments?" in out
    assert "Score" in out and "covered" in out and "What to study next" in out and "Model answer" in out


def test_answer_compact_view_by_default(runner: CliRunner) -> None:
    result = run(runner, "answer", "-q", "cicd-3", input=GOOD)
    assert result.exit_code == 0, result.stderr
    assert "Score" in result.stdout and "Study next:" in result.stdout and "--full" in result.stdout
    assert "What to study next" not in result.stdout and "Follow-up:" not in result.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        pytest.param(
            ["-q", "cicd-9"],
            GOOD,
            2,
            "unknown question 'cicd-9'; did you mean: cicd-3, cicd-4, cicd-5?",
            id="unknown-id",
        ),
        pytest.param(["-q", "cicd-3"], "   \n  ", 3, "the answer is empty", id="empty-stdin"),
        pytest.param(["-q", "cicd-3", "--file", "MISSING"], None, 3, "no such file", id="missing-file"),
        pytest.param(["-q", "cicd-3", "--file", "DIR"], None, 3, "is a directory", id="directory"),
        pytest.param(["-q", "cicd-3", "--file", "BINARY"], None, 3, "binary", id="binary"),
        pytest.param(["-q", "cicd-3", "--file", "LATIN1"], None, 3, "not UTF-8", id="non-utf8"),
        pytest.param(["-q", "cicd-3", "--file", "HUGE"], None, 3, "the limit is 65,536 bytes", id="huge"),
        pytest.param(["-q", "cicd-3", "--mode", "telepathy"], GOOD, 2, "telepathy", id="bad-mode"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code(
    runner: CliRunner, tmp_path: Path, args: list[str], stdin: str | None, code: int, message: str
) -> None:
    files = {
        "MISSING": tmp_path / "missing.md",
        "DIR": tmp_path,
        "BINARY": tmp_path / "b.bin",
        "LATIN1": tmp_path / "l.txt",
        "HUGE": tmp_path / "h.txt",
    }
    files["BINARY"].write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20)
    files["LATIN1"].write_bytes("r\u00e9ponse tr\u00e8s bien".encode("latin-1"))
    files["HUGE"].write_bytes(b"word " * 20000)
    args = [str(files.get(a, a)) for a in args]
    result = run(runner, "answer", *args, "--json", input=stdin)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    if code != 2 or "unknown" in message:
        assert len(result.stderr.strip().splitlines()) == 1


def test_questions_list_and_filter(runner: CliRunner) -> None:
    result = run(runner, "questions", "list", "--category", "cicd", "--json")
    assert result.exit_code == 0
    assert [q["id"] for q in json.loads(result.stdout)] == [f"cicd-{i}" for i in range(1, 6)]
    everything = run(runner, "questions", "list", "--json")
    assert len(json.loads(everything.stdout)) == 28


def test_questions_list_unknown_category(runner: CliRunner) -> None:
    result = run(runner, "questions", "list", "--category", "cooking")
    assert result.exit_code == 2 and "unknown category 'cooking'" in result.stderr


def test_questions_show(runner: CliRunner) -> None:
    result = run(runner, "questions", "show", "cicd-3")
    assert result.exit_code == 0
    assert "blue-green or canary" in result.stdout and "Concepts a strong answer covers" in result.stdout


def test_rubrics_check_on_a_broken_bank(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "questions").mkdir()
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "questions" / "a.yaml").write_text(
        "category: demo\ntitle: Demo\nquestions:\n  - {id: demo-1, text: Q1?}\n  - {id: demo-2, text: Q2?}\n"
        "  - {id: demo-3, text: Q3?}\n"
    )
    (tmp_path / "rubrics" / "demo-1.yaml").write_text("question_id: demo-1\nconcepts: [oops\n")
    (tmp_path / "rubrics" / "demo-2.yaml").write_text(
        "question_id: demo-2\nmodel_answer: A canary and a canary.\nconcepts:\n"
        "  - {id: a, name: A, description: d, weight: 1, keywords: [], follow_up: f?}\n"
        "  - {id: a, name: B, description: d, weight: 1, keywords: [canary], follow_up: f?}\n"
    )
    result = run(runner, "rubrics", "check", str(tmp_path))
    assert result.exit_code == 1
    err = result.stderr
    assert "demo-1.yaml: (file): line 3: invalid YAML" in err
    assert "demo-2.yaml: concepts.0.keywords: List should have at least 1 item" in err
    assert "demo-3.yaml: (file): question 'demo-3' has no rubric" in err
    assert "Traceback" not in err


def test_bank_option_and_env(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["questions", "list"], env={"GRADER_BANK": str(tmp_path / "none")})
    assert result.exit_code == 4 and "no questions folder" in result.stderr


def test_version(runner: CliRunner) -> None:
    result = run(runner, "--version")
    assert result.exit_code == 0 and result.stdout.startswith("grade ")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["answer", "-q", "cicd-3"], "answer", id="command"),
        pytest.param(["--bank", "answer", "questions", "list"], "questions", id="bank-value-is-not-a-command"),
        pytest.param(["--version"], None, id="no-command"),
        pytest.param(["--help"], None, id="help"),
        pytest.param(["nonsense"], None, id="unknown-falls-back-to-full-app"),
    ],
)
def test_invoked_command(argv: list[str], expected: str | None) -> None:
    from grader.cli import invoked_command

    assert invoked_command(argv) == expected


def test_main_builds_only_the_invoked_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import grader.cli as cli

    monkeypatch.setattr("sys.argv", ["grade", "questions", "list", "--category", "cicd", "--json"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 0
    assert [q["id"] for q in json.loads(capsys.readouterr().out)] == [f"cicd-{i}" for i in range(1, 6)]
