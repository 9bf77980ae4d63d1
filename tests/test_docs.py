"""The README and docs/ say what the program does (issue 11): the README stays a newcomer's page, every `grade`
command shown in them parses (the command exists, every option is known), and the README's offline examples run
as written and exit as documented."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer
from typer._click.exceptions import UsageError  # typer 0.29 carries its own click
from typer.testing import CliRunner

from grader.cli import app, build_app

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
README_LIMIT = 12_500
_BLOCK = re.compile(r"```(?:console|bash|sh|shell)?\n(.*?)```", re.S)


def shown_commands(path: Path) -> list[list[str]]:
    """Every `grade ...` command of the page's code blocks: console lines (`$ grade ...`) and the bare commands
    of bash blocks, continuation lines joined, comments and shell glue (`&&`, `|`, `>`) cut off; synopses with
    `[optional]` parts are not commands."""
    commands = []
    for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
        lines = block.replace("\\\n", " ").splitlines()
        for line in lines:
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            for part in re.split(r"&&|\|", line):
                part = part.split(" #", 1)[0].strip()
                if not re.match(r"(\w+=\S+\s+)*grade\s", part):
                    continue
                words = shlex.split(part, posix=True)
                while words and "=" in words[0]:  # VAR=value before the command
                    words.pop(0)
                if any("[" in w or "]" in w for w in words):
                    continue  # a synopsis ("[--fit FILE]"), not a command
                if words[:1] == ["grade"] and len(words) > 1:
                    commands.append([w for w in words[1:] if w not in {">", "<"}][: _redirect(words[1:])])
    return commands


def _redirect(words: list[str]) -> int:
    return next((i for i, w in enumerate(words) if w.startswith((">", "<"))), len(words))


def parse(args: list[str]) -> None:
    """Parse `grade ARGS` down to the command, without running it (UsageError when wrong)."""
    command = typer.main.get_command(build_app())
    ctx = command.make_context("grade", list(args), resilient_parsing=False)
    left = _unparsed(ctx)
    while hasattr(command, "resolve_command") and left:  # a group: on to its command
        name, sub, rest = command.resolve_command(ctx, left)
        assert sub is not None and name is not None, f"no command in: grade {' '.join(args)}"
        command, ctx = sub, sub.make_context(name, rest, parent=ctx, resilient_parsing=False)
        left = _unparsed(ctx) if hasattr(command, "resolve_command") else []


def _unparsed(ctx: object) -> list[str]:
    protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
    return [*protected, *getattr(ctx, "args", [])]


def test_the_readme_is_a_newcomers_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text) <= README_LIMIT, len(text)
    for link in re.findall(r"\]\((docs/[\w.-]+\.md)", text):
        assert (REPO / link).is_file(), f"README links to a missing page: {link}"
    assert "pip install 'grader" not in text  # that name is another project on the package index


PAGES = [README, *DOCS]
SHOWN = [(page, args) for page in PAGES for args in shown_commands(page)]


@pytest.mark.parametrize(("page", "args"), [pytest.param(p, a, id=f"{p.name}:{' '.join(a)[:60]}") for p, a in SHOWN])
def test_every_command_shown_parses(
    page: Path, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eager = {"--help", "-h", "--version", "--install-completion", "--show-completion"}
    if eager.intersection(a.split("=")[0] for a in args):
        return  # eager options exit while parsing
    monkeypatch.chdir(tmp_path)  # the files a command names exist here (empty): only its syntax is checked
    for arg in args:
        if not arg.startswith("-") and ("/" in arg or re.search(r"\.\w+$", arg)):
            path = tmp_path / arg
            if arg.endswith("/"):
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
    try:
        parse(args)
    except UsageError as exc:
        pytest.fail(f"{page.name}: grade {' '.join(args)}: {exc.format_message()}")


def test_there_are_commands_to_check() -> None:
    assert len(shown_commands(README)) >= 15 and len(SHOWN) >= 35


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param("answer --question cicd-3 --file examples/answers/cicd-3.md", 0, id="the-first-command"),
        pytest.param("answer -q cicd-3 -f examples/answers/cicd-3.md --full", 0, id="full"),
        pytest.param("answer -q cicd-3 -f examples/answers/cicd-3.md --json", 0, id="json"),
        pytest.param("questions list", 0, id="questions"),
        pytest.param(
            "batch examples/batch/answers examples/batch/answers.jsonl examples/batch/answers.csv "
            "-o results.jsonl -r report.html -r gradebook.csv", 8, id="batch-with-its-three-deliberate-errors",
        ),
    ],
)
def test_the_readmes_offline_examples_run_as_written(
    command: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = {" ".join(args) for args in shown_commands(README)}
    assert command in shown, "the README no longer shows this command"
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--bank", str(REPO), *shlex.split(command)])
    assert result.exit_code == code, result.output
    if command.startswith("batch"):
        for written in ("results.jsonl", "report.html", "gradebook.csv"):
            assert (tmp_path / written).stat().st_size > 0
        coverage = CliRunner().invoke(app, ["--bank", str(REPO), "coverage", "results.jsonl"])
        assert coverage.exit_code == 0 and "cicd-3" in coverage.output
        report = CliRunner().invoke(app, ["--bank", str(REPO), "report", "results.jsonl", "-o", "again.html"])
        assert report.exit_code == 0 and (tmp_path / "again.html").is_file()
