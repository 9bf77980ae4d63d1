"""A real `grade batch --provider-batch` process killed with SIGKILL at the worst moments, against the fake batch
server (tests/fakebatch.py): after the provider took the upload or created the batch but before the state file
knew, and in the middle of collecting. The run after it must neither pay twice nor lose or repeat a line."""

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
from fakebatch import Answer, FakeBatchServer, serve_batches
from llm_support import BANK, GOOD_ANSWER, llm_options, verdict

from grader.bank.loader import load_bank
from grader.cohort.provider_batch import BatchPlan, ProviderSummary, run_provider_batch
from grader.cohort.provider_collect import PARALLEL_FROM
from grader.cohort.provider_state import load_state
from grader.cohort.results import ResultsWriter

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"), pytest.mark.slow]
GOOD = verdict()


def good(custom_id: str, body: dict[str, Any]) -> Answer:
    return Answer(content=GOOD)


def write_inputs(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            answer = f"{GOOD_ANSWER} Answer number {index}."
            handle.write(json.dumps({"candidate": f"c{index:05d}", "question": "deploy-1", "answer": answer}) + "\n")
    return path


def start(server: FakeBatchServer, inputs: Path, out: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "GRADER_BANK": str(BANK), "GRADER_HOME": str(home)}
    command = [
        sys.executable, "-m", "grader", "batch", str(inputs), "--out", str(out), "--quiet", "--json",
        "--mode", "llm", "--model", "openai/smollm2", "--api-base", server.api_base, "--no-cache", "--provider-batch",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def in_process(server: FakeBatchServer, inputs: Path, out: Path, **plan: Any) -> ProviderSummary:
    return run_provider_batch(
        load_bank(BANK), [inputs], out, llm_options(server.api_base), BatchPlan(poll_every=0.01, **plan)
    )


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (none where there is no /proc)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else []
        except OSError:
            continue
        if fields and fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pids: list[int], grace: float = 5.0) -> list[int]:
    """Those of `pids` still running after `grace` seconds (a zombie is not running)."""
    deadline = time.monotonic() + grace
    while True:
        running = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                running.append(pid)
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


def kill_when(process: subprocess.Popen[str], ready: Any, timeout: float = 60) -> list[int]:
    """SIGKILL `process` once `ready()`; the processes it had started by then."""
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    children = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"the run ended before it could be killed: {stderr}"
    return children


@pytest.mark.parametrize("moment", ["upload", "create"])
def test_killed_after_the_provider_took_it_but_before_the_state_knew(moment: str, tmp_path: Path) -> None:
    inputs, out = write_inputs(tmp_path / "in.jsonl", 20), tmp_path / "results.jsonl"
    with serve_batches(tmp_path / "provider", good) as server:
        server.hang[moment] = 60.0  # the provider did it; its answer never reaches the killed client
        process = start(server, inputs, out, tmp_path / "home")
        kill_when(process, lambda: (server.uploads if moment == "upload" else server.batches))
        state = load_state(out)
        assert state is not None and [b.status for b in state.batches] == ["planned"]
        assert state.batches[0].batch_id is None and len(state.items) == 20

        server.hang.clear()
        summary = in_process(server, inputs, out, wait=True)
        assert len(server.uploads) == 1 and len(server.batches) == 1  # found again, not sent again
        assert summary.batch.graded == 20 and summary.pending == 0


def test_killed_while_collecting_loses_and_repeats_nothing(tmp_path: Path) -> None:
    count = PARALLEL_FROM + 200  # enough for the worker processes, which the kill must not leave behind
    inputs, out = write_inputs(tmp_path / "in.jsonl", count), tmp_path / "results.jsonl"
    with serve_batches(tmp_path / "provider", good) as server:
        assert in_process(server, inputs, out).submitted == count
        server.finish()
        process = start(server, inputs, out, tmp_path / "home")

        def lines() -> int:
            try:
                return out.read_bytes().count(b"\n")
            except FileNotFoundError:
                return 0

        workers = kill_when(process, lambda: lines() >= 50)
        with ResultsWriter(out):  # the workers did not keep the results file locked
            pass
        if sys.platform.startswith("linux"):  # where collecting forks workers (and /proc shows them)
            assert workers and not alive(workers)  # they end with the killed run
        raw = out.read_bytes()
        before = [json.loads(line) for line in raw.splitlines()]  # every line whole
        assert 50 <= len(before) < count and raw.endswith(b"\n")

        summary = in_process(server, inputs, out)
        after = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert after[: len(before)] == before
        assert len(after) == count and len({r["key"] for r in after}) == count
        assert {r["grade"]["method"] for r in after} == {"llm"}
        assert summary.batch.skipped == len(before) and summary.batch.graded == count - len(before)
        assert len(server.batches) == 1 and summary.pending == 0  # nothing sent again
