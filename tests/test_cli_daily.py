"""Daily use of the CLI: a grade that fits on a screen, the editor, help and completion, `grade config`,
`grade doctor`, `--verbose`, the pager, and nothing but text reaching the terminal."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
from fakeserver import chat_reply, error_reply, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, verdict
from rich.console import Console
from typer.testing import CliRunner

from grader.bank.loader import load_bank
from grader.cli import COMMANDS, app
from grader.cli.help import EXAMPLES
from grader.cli.terminal import clean, mask_secrets, page, safe_console
from grader.cli.views.grade import grade_view, question_view
from grader.pipeline import grade_answer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "examples" / "answers" / "cicd-3.md").read_text(encoding="utf-8")


def rendered(*renderables: object, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    for renderable in renderables:
        console.print(renderable)
    return console.file.getvalue().splitlines()


def example_grade():
    bank = load_bank(REPO)
    question = bank.question("cicd-3")
    return question, bank.rubric("cicd-3"), grade_answer(question, bank.rubric("cicd-3"), EXAMPLE)


@pytest.mark.parametrize(("width", "height"), [pytest.param(80, 24, id="80x24"), pytest.param(120, 40, id="120x40")])
def test_the_example_answer_fits_one_screen(width: int, height: int) -> None:
    question, _, grade = example_grade()
    lines = rendered(question_view(question, "Deployment & CI/CD"), grade_view(grade), width=width)
    assert len(lines) <= height - 1  # the shell prompt still shows
    assert lines[3].startswith(f"Score {grade.score:g} / 10") and all(len(line) <= width for line in lines)
    assert sum(line[:1] in "✔◐✘" for line in lines) == len(grade.concepts)  # one line per concept


def test_the_full_view_quotes_each_sentence_once_and_keeps_hanging_indents() -> None:
    *_, grade = example_grade()
    lines = rendered(grade_view(grade, full=True), width=80)
    text = "\n".join(lines)
    shared = "For the busier services on Kubernetes we prefer canaries"
    assert text.count(shared) == 1 and "same passage as above" in text
    study = lines.index(next(line for line in lines if line.startswith("What to study next")))
    bullets = lines[study + 1 :]
    assert bullets[0].startswith("  • ")
    assert all(line.startswith("    ") for line in bullets[1:] if line and not line.startswith("  • "))


def test_editor_runs_editor_and_grades_what_was_saved(runner: CliRunner, tmp_path: Path) -> None:
    editor = tmp_path / "fake-editor"
    editor.write_text(
        "#!/bin/sh\n"
        "grep -q 'Question: How do you handle blue-green' \"$1\" || exit 3\n"
        "printf 'We keep two identical environments and switch the load balancer.\\n# ignored\\n' > \"$1\"\n"
    )
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    result = runner.invoke(app, ["answer", "-q", "cicd-3", "--editor", "--json"], env={"EDITOR": str(editor)})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["score"] > 0


@pytest.mark.parametrize(
    ("script", "message"),
    [
        pytest.param("#!/bin/sh\nexit 0\n", "editor closed without saving", id="not-saved"),
        pytest.param("#!/bin/sh\nexit 1\n", "exited with code 1", id="editor-fails"),
        pytest.param(None, "cannot start the editor", id="no-such-editor"),
    ],
)
def test_editor_failures_are_one_line_errors(runner: CliRunner, tmp_path: Path, script: str | None,
                                            message: str) -> None:  # fmt: skip
    editor = tmp_path / "editor"
    if script is not None:
        editor.write_text(script)
        editor.chmod(0o755)
    result = runner.invoke(app, ["answer", "-q", "cicd-3", "--editor"], env={"EDITOR": str(editor)})
    assert result.exit_code == 3 and message in result.stderr and "Traceback" not in result.stderr


def _commands() -> list[list[str]]:
    paths = [[name] for name in COMMANDS]
    paths += [["questions", "list"], ["questions", "show"], ["questions", "import"], ["rubrics", "check"]]
    return [*paths, ["history", "show"]]


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p)) for p in _commands()])
def test_help_is_human(runner: CliRunner, path: list[str]) -> None:
    result = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "Usage: grade" in result.output
    assert not re.search(r"<(bool|str|int|float|path|list\[)", result.output)  # typer's type names
    assert not re.search(r"\{[A-Z]+\}|\[\[", result.output)
    if " ".join(path) in EXAMPLES:
        assert "Examples" in result.output and "$ grade " in result.output


def _options(command: object) -> dict[str, str]:
    """short flag -> long flag, for a click command and its subcommands."""
    seen: dict[str, str] = {}
    for param in getattr(command, "params", []):
        opts = getattr(param, "opts", [])
        longs = [o for o in opts if o.startswith("--")]
        for short in (o for o in opts if not o.startswith("--")):
            seen[short] = longs[0] if longs else short
    return seen


def test_a_short_flag_means_the_same_in_every_command() -> None:
    import typer.main

    root = typer.main.get_command(app)
    meanings: dict[str, set[str]] = {}
    stack = [root]
    while stack:
        command = stack.pop()
        for short, long in _options(command).items():
            meanings.setdefault(short, set()).add(long)
        stack.extend(getattr(command, "commands", {}).values())
    assert {s: m for s, m in meanings.items() if len(m) > 1} == {}
    assert meanings["-q"] == {"--question"} and meanings["-o"] == {"--out"} and meanings["-c"] == {"--category"}


@pytest.mark.parametrize("example", [pytest.param(e, id=e) for lines in EXAMPLES.values() for e in lines])
def test_every_example_uses_flags_that_exist(runner: CliRunner, example: str) -> None:
    words = example.split()[1:]
    command = [w for w in words[:2] if not w.startswith("-") and not w.endswith((".md", ".jsonl", "/"))]
    command = [w for w in command if w in COMMANDS or w in {"list", "show", "import", "check"}]
    result = runner.invoke(app, [*command, "-h"], env={"COLUMNS": "200"})
    for flag in (w for w in words if w.startswith("-")):
        assert flag in result.output, f"{example}: {flag} is not an option of grade {' '.join(command)}"


def test_completion_script_and_question_ids(runner: CliRunner) -> None:
    script = runner.invoke(app, ["--show-completion", "bash"])
    assert script.exit_code == 0 and "_GRADE_COMPLETE" in script.output and "complete" in script.output
    env = {"_GRADE_COMPLETE": "complete_bash", "COMP_WORDS": "grade answer -q cicd-", "COMP_CWORD": "3"}
    ids = runner.invoke(app, [], env=env, prog_name="grade")
    assert {"cicd-1", "cicd-3"} <= set(ids.output.split())
    assert not {w for w in ids.output.split() if not w.startswith("cicd-")}
    env = {"_GRADE_COMPLETE": "complete_bash", "COMP_WORDS": "grade practice -c sec", "COMP_CWORD": "3"}
    assert runner.invoke(app, [], env=env, prog_name="grade").output.split() == ["security"]


def test_config_says_where_each_setting_comes_from(runner: CliRunner, grader_home: Path) -> None:
    (grader_home / "config.toml").write_text('[llm]\ntimeout = 12\nmode = "hybrid"\n')
    result = runner.invoke(app, ["config", "--json"], env={"GRADER_MODEL": "openai/smollm2"})
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    settings = data["settings"]
    assert settings["model"] == {"value": "openai/smollm2", "source": "environment GRADER_MODEL"}
    assert settings["timeout"] == {"value": 12.0, "source": "config file"}
    assert settings["samples"] == {"value": 1, "source": "default"}
    assert data["paths"]["history"]["path"] == str(grader_home / "history.db")
    assert data["paths"]["config"]["exists"] is True
    table = runner.invoke(app, ["config"], env={"GRADER_MODEL": "openai/smollm2", "COLUMNS": "120"})
    assert "environment GRADER_MODEL" in table.stdout and "history" in table.stdout


def test_doctor_without_a_model_is_fine(runner: CliRunner) -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0 and "keyword" in result.stdout


def test_doctor_asks_the_model_once(runner: CliRunner) -> None:
    with serve([chat_reply('{"ok": true}')]) as server:
        result = runner.invoke(app, ["doctor", "-m", "openai/smollm2", "--api-base", server.api_base, "--json"])
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["status"] == "ok" and found["method"] == "llm" and len(server.seen) == 1
    assert found["seconds"] < 5


def test_doctor_reports_a_failing_model_with_exit_6(runner: CliRunner) -> None:
    with serve([error_reply(500, "boom")] * 3) as server:
        result = runner.invoke(app, ["doctor", "-m", "openai/smollm2", "--api-base", server.api_base])
    assert result.exit_code == 6 and "✘" in result.stdout and len(server.seen) == 1  # no retries


def test_verbose_shows_the_prompt_and_the_raw_reply_with_keys_masked(runner: CliRunner) -> None:
    key = "sk-test-0123456789abcdef"
    reply = verdict(feedback=f"Your key is {key}")
    with serve([chat_reply(reply)]) as server:
        args = ["--bank", str(BANK), "answer", "-q", QUESTION_ID, "-m", "openai/smollm2", "--api-base",
                server.api_base, "--no-cache", "--no-save", "--verbose", "--json"]  # fmt: skip
        result = runner.invoke(app, args, input=GOOD_ANSWER, env={"OPENAI_API_KEY": key})
    assert result.exit_code == 0, result.stderr
    assert "prompt sent to the model" in result.stderr and "[BEGIN DATA]" in result.stderr
    assert "raw reply from the model" in result.stderr and "traffic-switch" in result.stderr
    assert key not in result.stderr and "****" in result.stderr
    assert json.loads(result.stdout)["method"] == "llm"  # --json stays clean


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("plain", "plain", id="plain"),
        pytest.param("\x1b[31mred\x1b[0m", "red", id="csi"),
        pytest.param("\x1b]0;pwned\x07title", "title", id="osc-title"),
        pytest.param("\x1b]52;c;ZXZpbA==\x1b\\clip", "clip", id="osc-clipboard"),
        pytest.param("a\rb\x08c\x00d", "abcd", id="c0"),
        pytest.param("tab\tand\nnewline", "tab\tand\nnewline", id="kept"),
        pytest.param("\u202egnp.exe", "gnp.exe", id="bidi"),
        pytest.param("\x9b31mC1", "C1", id="c1-csi"),
    ],
)
def test_clean(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_probe16_control_characters_never_reach_the_terminal(runner: CliRunner, tmp_path: Path) -> None:
    name = "\x1b]0;owned\x1b\\eve\x1b[2J"
    results = tmp_path / "results.jsonl"
    record = {"candidate": name, "question_id": "cicd-3", "source": "x", "key": "k", "error": "bad \x1b[5m", "exit_kind": "answer"}  # noqa: E501
    results.write_text(json.dumps(record) + "\n")
    result = runner.invoke(app, ["coverage", str(results)])
    assert "eve" in result.stdout and "\x1b" not in result.stdout + result.stderr
    console = safe_console(file=io.StringIO(), force_terminal=True, color_system="standard")
    console.print(f"[red]{clean('x')}[/red]", name)  # our own colours stay, the name's sequences go
    output = console.file.getvalue()
    assert "\x1b[31m" in output and "\x1b]0;" not in output and "\x1b[2J" not in output


def test_mask_secrets() -> None:
    env = {"OPENAI_API_KEY": "abcdefgh12345678", "HOME": "/root"}
    masked = mask_secrets("key abcdefgh12345678, sk-proj-ABCDEFGH1234 and Bearer xyzxyzxyz123 at /root", env)
    assert masked == "key ****, **** and **** at /root"


def test_long_output_goes_through_the_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = tmp_path / "paged.txt"
    script = f"import sys; open({str(captured)!r}, 'w').write(sys.stdin.read())"
    monkeypatch.setenv("PAGER", f'{sys.executable} -c "{script}"')
    console = Console(file=io.StringIO(), force_terminal=True, width=80, height=10)
    page(console, "\n".join(f"line {i}" for i in range(30)))
    assert captured.read_text().count("line ") == 30 and console.file.getvalue() == ""
    page(console, "short")
    assert "short" in console.file.getvalue()
    console.highlighter = None
    page(console, "\n".join(f"row {i}" for i in range(30)), pager=False)
    assert "row 29" in console.file.getvalue()
    assert os.environ["PAGER"]
