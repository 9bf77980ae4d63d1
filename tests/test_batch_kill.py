"""Resume after a real `grade batch` process is killed with SIGKILL in the middle of a run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
KIT = REPO / "tests" / "kit"
ANSWERS = 1500
KILL_AFTER = 25  # results lines on disk before the kill

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def sentences(question_id: str) -> list[str]:
    data = yaml.safe_load((KIT / f"{question_id}.yaml").read_text(encoding="utf-8"))
    kinds = ("strong", "strong_alt", "partial", "weak")
    return [s.strip() for kind in kinds for s in data[kind].split(". ") if s.strip()]


def write_inputs(path: Path, count: int) -> None:
    rng = random.Random(11)
    pools = {q: sentences(q) for q in ("cicd-3", "security-3")}
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            question_id = ("cicd-3", "security-3")[index % 2]
            answer = ". ".join(rng.sample(pools[question_id], 6)) + "."
            handle.write(json.dumps({"candidate": f"c{index:05d}", "question": question_id, "answer": answer}) + "\n")


def batch(inputs: Path, out: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "GRADER_BANK": str(REPO), "GRADER_HOME": str(home)}
    command = [sys.executable, "-m", "grader", "batch", str(inputs), "--out", str(out), "--quiet", "--json"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


def test_resume_after_sigkill_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    inputs, out = tmp_path / "answers.jsonl", tmp_path / "results.jsonl"
    write_inputs(inputs, ANSWERS)
    process = batch(inputs, out, tmp_path)
    deadline = time.monotonic() + 120
    # One line more than needed: the last line counted may be one the process is still writing.
    while count_lines(out) <= KILL_AFTER and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert time.monotonic() < deadline, f"only {count_lines(out)} lines after 120 s"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the batch finished before it could be killed"

    raw = out.read_bytes()
    lines = raw.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline; else a line cut by the kill in mid-write
    before = [json.loads(line) for line in lines]  # every other line whole
    assert torn == b"" or torn.startswith(b'{"candidate": ')
    assert KILL_AFTER <= len(before) < ANSWERS
    assert len({r["key"] for r in before}) == len(before)

    process = batch(inputs, out, tmp_path)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["skipped"] == len(before)  # nothing graded twice
    assert summary["graded"] == ANSWERS - len(before)

    after = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert after[: len(before)] == before  # the first run's whole lines are untouched, a torn one cut off
    assert len(after) == ANSWERS  # nothing lost, nothing duplicated
    assert {r["candidate"] for r in after} == {f"c{i:05d}" for i in range(ANSWERS)}
    assert all("grade" in r for r in after)
