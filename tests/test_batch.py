"""Batch grading on the keyword path: results lines, error lines, resume, exit codes (`grade batch`)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from grader.bank.loader import Bank, load_bank
from grader.cli import app
from grader.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, EXIT_STORAGE, EXIT_USAGE
from grader.cohort.batch import BatchSummary, Outcome, run_batch
from grader.cohort.results import ResultsWriter, graded_keys, iter_records
from grader.errors import StorageError
from grader.models import Grade

REPO = Path(__file__).resolve().parent.parent
KIT = REPO / "tests" / "kit"


@cache
def kit(question_id: str) -> dict[str, str]:
    return yaml.safe_load((KIT / f"{question_id}.yaml").read_text(encoding="utf-8"))


@cache
def bank() -> Bank:
    return load_bank(REPO)


def tree(root: Path, answers: dict[str, dict[str, str]]) -> Path:
    """answers: candidate -> file name -> text."""
    for candidate, files in answers.items():
        for name, text in files.items():
            path = root / candidate / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def mixed_tree(root: Path) -> Path:
    return tree(
        root,
        {
            "alice": {"cicd-3.md": kit("cicd-3")["strong"], "security-3.md": kit("security-3")["partial"]},
            "bob": {"cicd-3.txt": kit("cicd-3")["weak"], "kubernetes-99.md": "An answer to no known question."},
            "carol": {"security-3.md": "", "notes.md": "question: cicd-3\n\n" + kit("cicd-3")["strong_alt"]},
        },
    )


def test_mixed_good_and_bad_items(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    seen: list[Outcome] = []
    summary = run_batch(bank(), [mixed_tree(tmp_path / "answers")], out, on_outcome=seen.append)
    assert (summary.found, summary.graded, summary.failed, summary.skipped) == (6, 4, 2, 0)
    assert summary.status == "partial"
    assert summary.by_kind == {"unknown_question": 1, "answer": 1}
    records = lines(out)
    assert len(records) == 6 == len(seen)
    graded = [r for r in records if "grade" in r]
    errors = {r["question_id"]: r for r in records if "error" in r}
    assert {(r["candidate"], r["question_id"]) for r in graded} == {
        ("alice", "cicd-3"), ("alice", "security-3"), ("bob", "cicd-3"), ("carol", "cicd-3"),
    }  # fmt: skip
    for record in graded:
        grade = Grade.model_validate(record["grade"])  # the full Grade contract, as `grade answer --json`
        assert grade.question_id == record["question_id"]
        assert Path(str(record["source"])).is_file()
        assert set(record) == {"candidate", "question_id", "source", "key", "grade"}
    strong = next(r for r in graded if r["candidate"] == "alice" and r["question_id"] == "cicd-3")
    weak = next(r for r in graded if r["candidate"] == "bob")
    assert strong["grade"]["score"] > weak["grade"]["score"]  # type: ignore[index]
    assert errors["kubernetes-99"]["exit_kind"] == "unknown_question"
    assert "unknown question 'kubernetes-99'" in str(errors["kubernetes-99"]["error"])
    assert errors["security-3"]["exit_kind"] == "answer" and "empty" in str(errors["security-3"]["error"])


def test_second_run_skips_graded_answers_and_retries_errors(tmp_path: Path) -> None:
    root = mixed_tree(tmp_path / "answers")
    out = tmp_path / "results.jsonl"
    run_batch(bank(), [root], out)
    first = out.read_text(encoding="utf-8")
    (root / "carol" / "security-3.md").write_text(kit("security-3")["strong"], encoding="utf-8")  # fixed
    summary = run_batch(bank(), [root], out)
    assert (summary.graded, summary.skipped, summary.failed) == (1, 4, 1)  # the fixed one; the unknown id again
    records = lines(out)
    assert out.read_text(encoding="utf-8").startswith(first)  # appended, never rewritten
    new = records[len(first.splitlines()) :]
    assert [(r["candidate"], r["question_id"], "grade" in r) for r in new] == [
        ("bob", "kubernetes-99", False),
        ("carol", "security-3", True),
    ]
    keys = [r["key"] for r in records if "grade" in r]
    assert len(keys) == len(set(keys)) == 5


def test_changed_answer_is_graded_again(tmp_path: Path) -> None:
    root = tree(tmp_path / "answers", {"alice": {"cicd-3.md": kit("cicd-3")["weak"]}})
    out = tmp_path / "results.jsonl"
    run_batch(bank(), [root], out)
    (root / "alice" / "cicd-3.md").write_text(kit("cicd-3")["strong"], encoding="utf-8")
    summary = run_batch(bank(), [root], out)
    assert (summary.graded, summary.skipped) == (1, 0)
    scores = [r["grade"]["score"] for r in lines(out)]  # type: ignore[index]
    assert scores[1] > scores[0]


def test_same_answer_twice_in_one_run_is_graded_once(tmp_path: Path) -> None:
    text = kit("cicd-3")["partial"]
    jsonl = tmp_path / "a.jsonl"
    row = {"candidate": "dan", "question": "cicd-3", "answer": text}
    jsonl.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    summary = run_batch(bank(), [jsonl], tmp_path / "r.jsonl")
    assert (summary.graded, summary.skipped) == (1, 1)


def test_key_depends_on_candidate_question_and_answer(tmp_path: Path) -> None:
    text = kit("cicd-3")["partial"]
    rows = [
        {"candidate": "a", "question": "cicd-3", "answer": text},
        {"candidate": "b", "question": "cicd-3", "answer": text},
        {"candidate": "a", "question": "cicd-3", "answer": text + " Also feature flags."},
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary = run_batch(bank(), [jsonl], tmp_path / "r.jsonl")
    assert summary.graded == 3
    assert len(graded_keys(tmp_path / "r.jsonl")) == 3


def test_torn_last_line_is_cut_and_regraded(tmp_path: Path) -> None:
    root = tree(tmp_path / "answers", {"a": {"cicd-3.md": kit("cicd-3")["strong"]}, "b": {"cicd-3.md": "Canary."}})
    out = tmp_path / "results.jsonl"
    run_batch(bank(), [root], out)
    whole = out.read_bytes()
    out.write_bytes(whole[: len(whole) - 40])  # a power cut in the middle of the last line
    assert len(graded_keys(out)) == 1  # the torn line does not count
    summary = run_batch(bank(), [root], out)
    assert (summary.graded, summary.skipped) == (1, 1)
    assert out.read_bytes() == whole  # exactly one copy of each line again


def test_results_file_that_is_not_ours_is_never_touched(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text('{"something": "else"}\n{"candidate": "x"}\n', encoding="utf-8")
    before = out.read_bytes()
    with pytest.raises(StorageError, match="line 1 is not a results line"):
        run_batch(bank(), [mixed_tree(tmp_path / "answers")], out)
    assert out.read_bytes() == before


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    with ResultsWriter(out), pytest.raises(StorageError, match="another 'grade batch'"):
        run_batch(bank(), [mixed_tree(tmp_path / "answers")], out)


def test_summary_status() -> None:
    assert BatchSummary(Path("x")).status == "empty"
    assert BatchSummary(Path("x"), found=3, graded=3).status == "ok"
    assert BatchSummary(Path("x"), found=3, skipped=2, failed=1).status == "partial"
    assert BatchSummary(Path("x"), found=2, failed=2).status == "failed"


# --- the command ---------------------------------------------------------------------------------


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--bank", str(REPO), "batch", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_exit_codes_ok_partial_failure(runner: CliRunner, tmp_path: Path) -> None:
    good = tree(tmp_path / "good", {"alice": {"cicd-3.md": kit("cicd-3")["strong"]}})
    bad = tree(tmp_path / "bad", {"bob": {"nope-1.md": "An answer."}})
    code, stdout, _ = invoke(runner, str(good), "--out", str(tmp_path / "1.jsonl"))
    assert code == EXIT_OK and "graded 1" in stdout
    code, stdout, _ = invoke(runner, str(good), str(bad), "--out", str(tmp_path / "2.jsonl"))
    assert code == EXIT_PARTIAL and "1 failed" in stdout and "nope-1" in stdout
    code, _, _ = invoke(runner, str(bad), "--out", str(tmp_path / "3.jsonl"))
    assert code == EXIT_FAILURE
    code, stdout, _ = invoke(runner, str(good), "--out", str(tmp_path / "1.jsonl"))
    assert code == EXIT_OK and "skipped 1 already graded" in stdout  # a finished batch, run again


def test_cli_nothing_to_grade_is_a_failure(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, stdout, _ = invoke(runner, str(tmp_path / "empty"), "--out", str(tmp_path / "r.jsonl"))
    assert code == EXIT_FAILURE and "no answers found" in stdout


def test_cli_json_summary_and_quiet(runner: CliRunner, tmp_path: Path) -> None:
    root = mixed_tree(tmp_path / "answers")
    code, stdout, stderr = invoke(runner, str(root), "--out", str(tmp_path / "r.jsonl"), "--json", "--quiet")
    assert code == EXIT_PARTIAL
    summary = json.loads(stdout)
    assert summary["graded"] == 4 and summary["failed"] == 2 and summary["status"] == "partial"
    assert summary["failed_by_kind"] == {"unknown_question": 1, "answer": 1}
    assert stderr == ""
    code, stdout, stderr = invoke(runner, str(root), "--out", str(tmp_path / "q.jsonl"), "--quiet")
    assert (stdout, stderr) == ("", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["{root}", "--report", "{tmp}/r.pdf"], "unknown report format", id="report-type"),
        pytest.param(["{tmp}/in.jsonl", "--out", "{tmp}/in.jsonl"], "--out is one of the inputs", id="out-is-input"),
        pytest.param(["{tmp}/notes.pdf"], "not a folder, .md, .txt, .jsonl or .csv", id="input-type"),
        pytest.param(["{tmp}/missing"], "does not exist", id="missing-input"),
    ],
)
def test_cli_usage_errors_before_grading(runner: CliRunner, tmp_path: Path, args: list[str], message: str) -> None:
    root = tree(tmp_path / "answers", {"a": {"cicd-3.md": "Canary."}})
    (tmp_path / "in.jsonl").write_text('{"candidate": "a", "question": "cicd-3", "answer": "x"}\n')
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    argv = [a.format(root=root, tmp=tmp_path) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "r.jsonl")]
    code, _, stderr = invoke(runner, *argv)
    assert code == EXIT_USAGE
    assert message in " ".join(stderr.replace("│", " ").split())
    assert not (tmp_path / "r.jsonl").exists()
    assert "Traceback" not in stderr


def test_cli_broken_results_file_exits_storage(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("not json at all\n", encoding="utf-8")
    root = tree(tmp_path / "answers", {"a": {"cicd-3.md": "Canary."}})
    code, _, stderr = invoke(runner, str(root), "--out", str(out))
    assert code == EXIT_STORAGE and "not a results line" in stderr
    assert out.read_text(encoding="utf-8") == "not json at all\n"


def test_no_progress_bar_when_stderr_is_not_a_terminal(runner: CliRunner, tmp_path: Path) -> None:
    root = mixed_tree(tmp_path / "answers")
    code, stdout, stderr = invoke(runner, str(root), "--out", str(tmp_path / "r.jsonl"))
    assert code == EXIT_PARTIAL
    assert stderr == ""  # no bar, no escape codes
    assert "graded 4" in stdout


def test_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counterpart of the test above: with a terminal the bar is drawn (answers done, fallbacks)."""
    import io

    from rich.console import Console

    from grader.cli import batch as batch_cli

    screen = io.StringIO()
    fake_err = Console(file=screen, force_terminal=True, width=120)
    monkeypatch.setattr(batch_cli, "err", fake_err)
    root = mixed_tree(tmp_path / "answers")
    result = CliRunner().invoke(app, ["--bank", str(REPO), "batch", str(root), "--out", str(tmp_path / "r.jsonl")])
    assert result.exit_code == EXIT_PARTIAL
    drawn = screen.getvalue()
    assert "grading" in drawn and "/6" in drawn and "fallbacks" in drawn
    quiet = io.StringIO()
    monkeypatch.setattr(batch_cli, "err", Console(file=quiet, force_terminal=True, width=120))
    CliRunner().invoke(app, ["--bank", str(REPO), "batch", str(root), "--out", str(tmp_path / "q.jsonl"), "--quiet"])
    assert quiet.getvalue() == ""


def test_cli_writes_every_report_format(runner: CliRunner, tmp_path: Path) -> None:
    root = mixed_tree(tmp_path / "answers")
    reports = [tmp_path / "report.html", tmp_path / "out" / "report.md", tmp_path / "report.csv"]
    args = [str(root), "--out", str(tmp_path / "r.jsonl")]
    for report in reports:
        args += ["--report", str(report)]
    code, _, _ = invoke(runner, *args)
    assert code == EXIT_PARTIAL
    assert all(r.is_file() and r.stat().st_size > 200 for r in reports)
    assert "heatmap" in reports[0].read_text(encoding="utf-8")


def test_every_line_is_a_valid_results_record(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_batch(bank(), [mixed_tree(tmp_path / "answers")], out)
    assert len(list(iter_records(out))) == 6


def test_keyword_path_grades_each_window_by_question_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items are graded in windows, each in order of question (rubric tables stay in the CPU caches); every item
    is still graded exactly once, whatever the window boundaries."""
    monkeypatch.setattr("grader.cohort.batch.WINDOW_ITEMS", 4)
    questions = ["security-3", "cicd-3", "cicd-1"]
    rows = [
        {"candidate": f"c{n:02d}", "question": questions[n % 3], "answer": kit(questions[n % 3])["partial"] + f" ({n})"}
        for n in range(10)
    ]
    jsonl = tmp_path / "answers.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "results.jsonl"
    summary = run_batch(bank(), [jsonl], out)
    assert (summary.graded, summary.failed) == (10, 0)
    records = lines(out)
    assert sorted(r["candidate"] for r in records) == [row["candidate"] for row in rows]
    windows = [records[start : start + 4] for start in range(0, 10, 4)]
    for window, expected in zip(windows, [rows[start : start + 4] for start in range(0, 10, 4)], strict=True):
        assert [r["candidate"] for r in window] == [
            row["candidate"] for row in sorted(expected, key=lambda row: row["question"])
        ]  # the input's window, sorted by question (stable: input order within a question)


@pytest.mark.parametrize(
    ("bad", "code"), [pytest.param(False, EXIT_OK, id="ok"), pytest.param(True, EXIT_PARTIAL, id="partial")]
)
def test_installed_command_exits_at_once_with_everything_written(tmp_path: Path, bad: bool, code: int) -> None:
    """`grade batch` ends its process without the interpreter's teardown (grader.cli.FAST_EXIT): the exit code,
    the JSON summary on stdout and every results line must still be there."""
    import os
    import subprocess
    import sys

    good = {"ann": {"cicd-3.md": kit("cicd-3")["strong"]}}
    root = mixed_tree(tmp_path / "answers") if bad else tree(tmp_path / "answers", good)
    out = tmp_path / "results.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "--bank", str(REPO), "batch", str(root), "--out", str(out), "--json"],
        capture_output=True, text=True, check=False, env={**os.environ, "GRADER_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == ("partial" if bad else "ok")
    records = lines(out)
    assert len(records) == summary["found"] == (6 if bad else 1)
    assert out.read_text(encoding="utf-8").endswith("\n")


# --- never modify a file we did not create; read only what we should (issue 14) ----------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"my notes\nthe last line has no newline", id="two-lines"),
        pytest.param(b"a single line without newline", id="one-line"),
        pytest.param(b"{}", id="json-but-not-ours"),
    ],
)
def test_probe2_a_foreign_out_file_without_final_newline_is_never_touched(tmp_path: Path, content: bytes) -> None:
    """Probe 2: the last line of a foreign --out file without a final newline was cut off (a one-line file
    wiped) before the file was recognised as foreign."""
    out = tmp_path / "notes.txt"
    out.write_bytes(content)
    with pytest.raises(StorageError, match="is not a results line; it was left untouched"):
        run_batch(bank(), [mixed_tree(tmp_path / "answers")], out)
    assert out.read_bytes() == content


def test_a_deeply_nested_line_is_not_a_results_line(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("[" * 100_000 + "\n")
    with pytest.raises(StorageError, match="line 1 is not a results line"):
        list(iter_records(out))


def test_a_whole_last_line_without_its_newline_gets_one(tmp_path: Path) -> None:
    root = tree(tmp_path / "answers", {"a": {"cicd-3.md": "Canary."}, "b": {"cicd-3.md": "Blue-green."}})
    out = tmp_path / "results.jsonl"
    run_batch(bank(), [root / "a"], out)
    out.write_bytes(out.read_bytes().rstrip(b"\n"))
    summary = run_batch(bank(), [root], out)
    assert (summary.graded, summary.skipped) == (1, 1)
    assert len(lines(out)) == 2


def test_probe3_report_that_is_an_input_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    """Probe 3: --report equal to an input overwrote that input with the report, exit 0."""
    answers = tmp_path / "answers.csv"
    answers.write_text("candidate,question,answer\nann,cicd-3,Canary.\n", encoding="utf-8")
    before = answers.read_bytes()
    code, _, stderr = invoke(runner, str(answers), "--out", str(tmp_path / "r.jsonl"), "--report", str(answers))
    assert code == EXIT_USAGE and "--report is one of the inputs" in stderr
    assert answers.read_bytes() == before and not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(
    ("report", "message"),
    [
        pytest.param("{tmp}/r.csv", "--report is also the results file", id="report-is-out"),
        pytest.param("{root}/ann/summary.md", "inside the input folder", id="report-read-as-an-answer-next-time"),
        pytest.param("{tmp}/link.md", "--report is a symbolic link", id="report-is-a-link"),
        pytest.param("{tmp}/pipe.md", "--report is a named pipe", id="report-is-a-pipe"),
    ],
)
def test_reports_that_would_replace_what_is_not_a_report_are_refused(
    runner: CliRunner, tmp_path: Path, report: str, message: str
) -> None:
    root = tree(tmp_path / "answers", {"ann": {"cicd-3.md": "Canary."}})
    (tmp_path / "target.md").write_text("keep me", encoding="utf-8")
    (tmp_path / "link.md").symlink_to(tmp_path / "target.md")
    os.mkfifo(tmp_path / "pipe.md")
    out = tmp_path / "r.csv"
    code, _, stderr = invoke(runner, str(root), "--out", str(out), "--report", report.format(tmp=tmp_path, root=root))
    assert code == EXIT_USAGE and message in stderr
    assert (tmp_path / "link.md").is_symlink() and (tmp_path / "target.md").read_text(encoding="utf-8") == "keep me"
    assert not out.exists()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        pytest.param("/dev/zero", "--out is a character device, not a regular file", id="device"),
        pytest.param("{tmp}/zero.jsonl", "--out is a symbolic link", id="link-to-a-device"),
        pytest.param("{tmp}/fifo.jsonl", "--out is a named pipe", id="fifo"),
    ],
)
def test_probe10_out_that_is_not_a_regular_file_is_refused_at_once(
    runner: CliRunner, tmp_path: Path, out: str, message: str
) -> None:
    """Probe 10: --out on /dev/zero (or a link to it) read without end (2.2 GB after 8 s)."""
    root = tree(tmp_path / "answers", {"ann": {"cicd-3.md": "Canary."}})
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.jsonl")
    code, _, stderr = invoke(runner, str(root), "--out", out.format(tmp=tmp_path))
    assert code == EXIT_USAGE and message in stderr


def test_the_results_writer_refuses_links_and_devices_itself(tmp_path: Path) -> None:
    """The library refuses them too (a caller that skipped the command's checks, or a path swapped meanwhile)."""
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "target.jsonl")
    for path, message in ((tmp_path / "link.jsonl", "symbolic link"), (Path("/dev/null"), "character device")):
        with pytest.raises(StorageError, match=message):
            ResultsWriter(path).open()
    assert not (tmp_path / "target.jsonl").exists()


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_probe10_coverage_of_a_device_or_pipe_is_refused(runner: CliRunner, tmp_path: Path, target: str) -> None:
    """Probe 10: `grade coverage /dev/zero` read without end."""
    if target == "fifo":
        target = str(tmp_path / "fifo.jsonl")
        os.mkfifo(target)
    result = runner.invoke(app, ["--bank", str(REPO), "coverage", target])
    assert result.exit_code == EXIT_STORAGE and "not a regular file" in result.stderr


def test_probe12_batch_never_quotes_a_file_linked_from_outside(runner: CliRunner, tmp_path: Path) -> None:
    """Probe 12: a 0600 file elsewhere, linked into the batch folder, was read and quoted as evidence."""
    secret = tmp_path / "private" / "cicd-3.md"
    secret.parent.mkdir()
    secret.write_text(kit("cicd-3")["strong"], encoding="utf-8")
    secret.chmod(0o600)
    root = tree(tmp_path / "answers", {"ann": {"security-3.md": kit("security-3")["partial"]}})
    (root / "ann" / "cicd-3.md").symlink_to(secret)
    out = tmp_path / "r.jsonl"
    code, _, _ = invoke(runner, str(root), "--out", str(out), "--quiet")
    assert code == EXIT_PARTIAL
    text = out.read_text(encoding="utf-8")
    assert "not followed" in text and kit("cicd-3")["strong"].split(".")[0] not in text
    code, _, _ = invoke(runner, str(root), "--out", str(out), "--quiet", "--follow-symlinks")
    assert code == EXIT_OK
    (linked,) = [r for r in lines(out) if "grade" in r and r["question_id"] == "cicd-3"]
    assert linked["candidate"] == "ann"


def test_batch_loses_nothing_when_every_kind_of_bad_input_is_mixed_in(tmp_path: Path) -> None:
    """graded + errors = items, over a folder, a JSONL and a CSV full of the probes' bad inputs."""
    root = tree(tmp_path / "answers", {"ann": {"cicd-3.md": "Canary.", "security-3.md": ""}})
    os.mkfifo(root / "ann" / "infra-1.md")
    (root / "ann" / "infra-2.md").symlink_to("/etc/hostname")
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(
        '{"candidate": "bo", "question": "cicd-3", "answer": "\\ud800"}\n' + "[" * 5000 + "\n"
        '{"candidate": "bo", "question": "cicd-3", "answer": "Blue-green."}\n',
        encoding="utf-8",
    )
    table = tmp_path / "a.csv"
    table.write_bytes(b'candidate,question,answer\ncy,cicd-3,"open\ncy,security-3,caf\xe9\ncy,infra-1,Terraform.\n')
    out = tmp_path / "r.jsonl"
    summary = run_batch(bank(), [root, jsonl, table], out)
    assert summary.found == 10 == summary.graded + summary.failed == len(lines(out))
    assert summary.graded == 3
