"""Batch grading on the LLM path against a local fake OpenAI-compatible server (tests/fakeserver.py):
concurrency, no request at all on a second run, fallbacks, LLM error lines, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeServer, Reply, chat_reply, error_reply, serve
from typer.testing import CliRunner

from grader import pipeline
from grader.bank.loader import load_bank
from grader.cli import app
from grader.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from grader.llm.passages import labels, split_passages
from grader.llm.schema import Chunk, verdict_schema

REPO = Path(__file__).resolve().parent.parent
QUESTION = "cicd-3"


def minimal_instance(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """The least committal value a JSON schema accepts: required keys only, "missing" for a status."""
    root = root or schema
    if "$ref" in schema:
        return minimal_instance(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "enum" in schema:
        return "missing" if "missing" in schema["enum"] else schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: minimal_instance(schema["properties"][name], root) for name in schema.get("required", [])}
    return {"array": [], "boolean": False, "integer": 0, "number": 0, "string": ""}.get(kind)


def verdict_reply(hang: float = 0.0) -> Reply:
    """A valid verdict for cicd-3, built from the schema the grader sends: every concept missing."""
    rubric = load_bank(REPO).rubric(QUESTION)
    whole = Chunk(tuple(c.id for c in rubric.concepts), tuple(m.id for m in rubric.misconceptions))
    schema = verdict_schema(whole, labels(split_passages(write_answer(0))))
    reply = chat_reply(json.dumps(minimal_instance(schema)))
    reply.hang = hang
    return reply


def write_answer(index: int) -> str:
    return f"Answer {index}: we deploy to green, run smoke tests, then switch the load balancer."


def write_answers(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            answer = write_answer(index)
            handle.write(json.dumps({"candidate": f"c{index:03d}", "question": QUESTION, "answer": answer}) + "\n")
    return path


def llm_args(server: FakeServer, *extra: str) -> list[str]:
    return ["--mode", "llm", "--model", "openai/fake", "--api-base", server.api_base, "--no-cache", *extra]


def run(runner: CliRunner, inputs: Path, out: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(
        app, ["--bank", str(REPO), "batch", str(inputs), "--out", str(out), "--json", "--quiet", *args]
    )
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def test_concurrent_llm_batch_then_second_run_makes_no_request(runner: CliRunner, tmp_path: Path) -> None:
    inputs, out = write_answers(tmp_path / "in.jsonl", 8), tmp_path / "results.jsonl"
    with serve([verdict_reply(hang=0.3)]) as server:
        code, summary = run(runner, inputs, out, *llm_args(server, "--concurrency", "4"))
        assert code == EXIT_OK, summary
        assert summary["graded"] == 8 and summary["fallbacks"] == 0
        assert len(server.seen) == 8
        arrivals = sorted(s.at for s in server.seen)
        assert arrivals[3] - arrivals[0] < 0.25  # four requests in flight at once, not one after the other
        grades = [json.loads(line)["grade"] for line in out.read_text(encoding="utf-8").splitlines()]
        assert {g["method"] for g in grades} == {"llm"} and all(g["fallback_reason"] is None for g in grades)

        code, summary = run(runner, inputs, out, *llm_args(server, "--concurrency", "4"))
        assert code == EXIT_OK
        assert (summary["skipped"], summary["graded"]) == (8, 0)
        assert len(server.seen) == 8  # the second run asked the model nothing (and the cache was off)


def test_model_failures_fall_back_to_keywords_and_are_counted(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[llm]\nmax_retries = 0\n", encoding="utf-8")
    inputs, out = write_answers(tmp_path / "in.jsonl", 3), tmp_path / "results.jsonl"
    with serve([error_reply(500)]) as server:
        code, summary = run(runner, inputs, out, *llm_args(server, "--config", str(config)))
    assert code == EXIT_OK and summary["graded"] == 3 and summary["fallbacks"] == 3
    grades = [json.loads(line)["grade"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(g["method"] == "keyword" and g["fallback_reason"] for g in grades)


def test_without_fallback_model_failures_are_error_lines_and_retried(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[llm]\nmax_retries = 0\n", encoding="utf-8")
    inputs, out = write_answers(tmp_path / "in.jsonl", 3), tmp_path / "results.jsonl"
    with serve([error_reply(500)]) as server:
        code, summary = run(runner, inputs, out, *llm_args(server, "--config", str(config), "--no-fallback"))
    assert code == EXIT_FAILURE and summary["failed"] == 3 and summary["failed_by_kind"] == {"llm": 3}
    assert all(json.loads(line)["exit_kind"] == "llm" for line in out.read_text(encoding="utf-8").splitlines())
    with serve([verdict_reply()]) as server:
        code, summary = run(runner, inputs, out, *llm_args(server, "--config", str(config), "--no-fallback"))
        assert code == EXIT_OK and summary["graded"] == 3 and len(server.seen) == 3


def test_llm_mode_without_a_model_stops_before_grading(runner: CliRunner, tmp_path: Path) -> None:
    inputs, out = write_answers(tmp_path / "in.jsonl", 2), tmp_path / "results.jsonl"
    result = runner.invoke(app, ["--bank", str(REPO), "batch", str(inputs), "--out", str(out), "--mode", "llm"])
    assert result.exit_code == EXIT_CONFIG and "needs a model" in result.stderr
    assert not out.exists()


def settled_count(server: FakeServer, quiet: float = 0.3, limit: float = 5.0) -> int:
    """How many requests the server has seen, once no new one has come for `quiet` seconds."""
    deadline = time.monotonic() + limit
    count = len(server.seen)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if len(server.seen) == count:
            break
        count = len(server.seen)
    return count


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_llm_batch_never_pays_twice_for_a_recorded_grade(tmp_path: Path) -> None:
    inputs, out = write_answers(tmp_path / "in.jsonl", 24), tmp_path / "results.jsonl"
    env = {**os.environ, "GRADER_BANK": str(REPO), "GRADER_HOME": str(tmp_path)}
    with serve([verdict_reply(hang=0.2)]) as server:
        command = [sys.executable, "-m", "grader", "batch", str(inputs), "--out", str(out), "--quiet", "--json",
                   *llm_args(server, "--concurrency", "4")]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 6:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        recorded = out.read_text(encoding="utf-8").splitlines()
        assert 6 <= len(recorded) < 24
        asked = settled_count(server)  # a request the killed process sent may still be being read

        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["skipped"] == len(recorded)
        assert len(server.seen) - asked == 24 - len(recorded)  # only what was not on disk is asked again
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 24 == len({line["key"] for line in lines})


def test_requests_in_flight_and_connections_never_exceed_the_concurrency(runner: CliRunner, tmp_path: Path) -> None:
    """More answers are prepared and finished than are with the model; the server never sees more than N."""
    inputs, out = write_answers(tmp_path / "in.jsonl", 20), tmp_path / "results.jsonl"
    with serve([verdict_reply(hang=0.15)]) as server:
        code, summary = run(runner, inputs, out, *llm_args(server, "--concurrency", "3"))
    assert code == EXIT_OK and summary["graded"] == 20
    assert len(server.seen) == 20
    assert server.peak_in_flight == 3
    assert len({seen.connection for seen in server.seen}) == 3  # kept alive and reused, one per slot


def test_the_model_client_is_made_ready_once_and_only_with_work_to_do(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str | None] = []
    real = pipeline.prepare_async

    async def spy(options: pipeline.GradeOptions) -> None:
        prepared.append(options.model)
        await real(options)

    monkeypatch.setattr(pipeline, "prepare_async", spy)
    inputs, out = write_answers(tmp_path / "in.jsonl", 5), tmp_path / "results.jsonl"
    with serve([verdict_reply()]) as server:
        assert run(runner, inputs, out, *llm_args(server, "--concurrency", "2"))[0] == EXIT_OK
        assert prepared == ["openai/fake"]
        code, summary = run(runner, inputs, out, *llm_args(server, "--concurrency", "2"))
    assert code == EXIT_OK and summary["skipped"] == 5
    assert prepared == ["openai/fake"]  # everything skipped: no client made, no library imported for it
