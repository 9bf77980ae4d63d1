"""Benchmark: machine instructions the provider-batch replay (`llm_requests.settle`) spends on an answer, counted by
valgrind, for one or more copies of the code. On a shared machine wall-clock and CPU figures of the same code move by
a third from run to run; an instruction count moves by well under 1%, so it tells a change of a few per cent apart.

    .venv/bin/python benchmarks/replay_instructions.py [--answers 200] [--code PATH ...]

Each `--code` is a checkout (default: this one), e.g. `git worktree add /tmp/base HEAD~3` for the code before a
change. For each, three runs of this file under `valgrind --tool=callgrind` in a child process (PYTHONPATH pointing
at the checkout, PYTHONHASHSEED fixed, one GRADER_HOME for all): one to fill the disk caches, one that builds
`--answers` answers' first requests and replies (benchmarks/provider_batch.py's answers with their own seed, replies
from the fake batch server's `reply_for`) and stops, and one that also settles every answer. The difference of the
last two, divided by the answers, is the replay's cost an answer. Needs valgrind (`apt-get install valgrind`); the
three runs take about a minute and a half for 200 answers. Reports JSON: instructions an answer by checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 2026  # not the seeds the replay was profiled on
_COLLECTED = re.compile(r"Collected : (\d+)")


def child(answers: int, settle: bool) -> None:
    """Build the answers' first requests and replies; settle them when `settle`."""
    sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "tests")]
    from fakebatch import reply_for
    from provider_batch import write_answers

    from grader.bank.loader import load_bank
    from grader.cohort import llm_requests
    from grader.llm.client import Reply
    from grader.pipeline import GradeOptions, rubric_for

    bank = load_bank(REPO)
    options = GradeOptions(mode="llm", model="openai/bench", api_base="http://127.0.0.1:9/v1", use_cache=False)
    settings = llm_requests.settings_for(options)
    for question in bank.questions.values():
        llm_requests.warm(question, rubric_for(bank, question))
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "answers.jsonl"
        write_answers(inputs, answers, 150, seed=SEED)
        records = [json.loads(line) for line in inputs.open(encoding="utf-8")]
    cases = []
    for record in records:
        question = bank.question(record["question"])
        rubric = rubric_for(bank, question)
        (request,) = llm_requests.first_requests(question, rubric, record["answer"], settings, 1).requests
        cases.append((question, rubric, record["answer"], request.id, Reply(reply_for(request.body), 1000, 200)))
    if settle:
        for question, rubric, answer, request_id, reply in cases:
            llm_requests.settle(question, rubric, answer, options, {request_id: reply})


def count(code: Path, answers: int, settle: bool, home: Path) -> int:
    """Instructions of one child run under callgrind."""
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONHASHSEED": "0", "GRADER_HOME": str(home)}
    env["GRADER_BANK"] = str(REPO)
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={home / 'callgrind.out'}",
        sys.executable, __file__, "--child", str(answers), *(["--settle"] if settle else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the run under valgrind failed ({done.returncode}): {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--code", type=Path, action="append", help="a checkout of the code (default: this one)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--settle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.settle)
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="replay-instructions-") as folder:
        home = Path(folder)
        for code in args.code or [REPO]:
            count(code, args.answers, False, home)  # fills the disk caches (compiled rubrics) for this code
            without = count(code, args.answers, False, home)
            with_settle = count(code, args.answers, True, home)
            results[str(code)] = round((with_settle - without) / args.answers)
    print(json.dumps({"answers": args.answers, "instructions_per_answer": results}, indent=2))


if __name__ == "__main__":
    main()
