"""Benchmark: `grade batch --provider-batch` for a large cohort against the fake batch server (tests/fakebatch.py).

    .venv/bin/python benchmarks/provider_batch.py [--answers 100000] [--words 150] [--collect-cores N]

Writes a JSONL of `--answers` answers (sentences of the blind-written generality set, for each question with a
rubric, like benchmarks/batch_llm.py), starts the fake OpenAI batch server in this process, and times two
`grade batch` runs in subprocesses, each with a fresh GRADER_HOME and `--no-cache`:

1. submit: building every request (the online conversation replayed with no replies: passages, prompt, schema),
   writing the request files (split at 50,000 requests / 190 MiB), uploading them and creating the batches.
   Pinned to one core (the server runs on the others); wall time and the process's peak RSS.
2. collect, after the server has answered every request with a reply built from its schema (`reply_for`; the
   server's time is not counted): downloading the output files, replaying every answer's conversation with its
   reply (parse, evidence checks, keyword witness, score), writing the results lines. On `--collect-cores` cores
   (default: all).

Baselines, measured in the same run: `json.dumps` of one plain request dict per answer (the answer as the only
message) written as JSONL to a file, on the submit core; and, on 2,000 answers in this process (the median of
three interleaved rounds), the CPU the online path itself spends on an answer: building its first request (what
submitting cannot go below) and its whole work with the reply handed over in memory, network aside (the work
collecting repeats; online, the keyword grade is made in full before the model is asked, while the replay makes it
only when the grade needs more than its flags).

Targets (issue 16): submit under 60 s and 300 MB on one core; collect under 60 s. Figures: docs/provider-batch.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests"))

from batch_keyword import make_answer, source_units  # noqa: E402
from fakebatch import FakeBatchServer  # noqa: E402

ROUNDS = 3  # of the in-process baselines


def write_answers(path: Path, count: int, words: int, seed: int = 7) -> None:
    """`count` answers of about `words` words, as benchmarks/batch_llm.py makes them: the generality set's sentences
    (never the kit answers), a fifth from other questions, 1% of the longer words misspelt."""
    rng = random.Random(seed)
    units = {q: found for q, found in source_units().items() if (REPO / "rubrics" / f"{q}.yaml").is_file()}
    questions = sorted(units)
    others = {q: [unit for other in questions if other != q for unit in units[other]] for q in questions}
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            question_id = questions[index % len(questions)]
            answer = make_answer(rng, units[question_id], others[question_id], words, 0.2, 0.01)
            handle.write(json.dumps({"candidate": f"c{index:06d}", "question": question_id, "answer": answer}) + "\n")


def baseline(inputs: Path, target: Path) -> float:
    """Seconds to json.dumps a plain request dict per answer into a JSONL file."""
    started = time.perf_counter()
    with inputs.open(encoding="utf-8") as source, target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(source):
            record = json.loads(line)
            request = {
                "custom_id": f"{number}", "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "bench", "messages": [{"role": "user", "content": record["answer"]}]},
            }
            out.write(json.dumps(request) + "\n")
    return time.perf_counter() - started


def online_work(inputs: Path, sample: int) -> dict[str, float]:
    """CPU milliseconds an answer, in this process, rubrics compiled beforehand, on `sample` answers (the median of
    ROUNDS interleaved rounds):
    - `build`: the online path building an answer's first request (passages, prompt, schema, token budget, the
      SDK body), what submitting cannot go below;
    - `online`: the online path's whole work on an answer with the reply handed over in memory (`grade_answer`
      without the network: keyword grade, the conversation, checks, score, witness);
    - `settle`: the seam's replay of the same (`llm_requests.settle`), which needs only the keyword flags unless it
      falls back, is hybrid or witnesses a near-empty answer."""
    from fakebatch import reply_for

    from grader.bank.loader import load_bank
    from grader.cohort import llm_requests
    from grader.llm.client import Reply, _sdk_request
    from grader.llm.grader import agrade_with_llm, run_sync
    from grader.llm.passages import labels, split_passages
    from grader.llm.prompt import build_messages
    from grader.llm.schema import Chunk, response_format, token_budget, verdict_schema
    from grader.pipeline import GradeOptions, _finish, answer_flags, grade_by_keywords, rubric_for

    bank = load_bank(REPO)
    options = GradeOptions(mode="llm", model="openai/bench", api_base="http://127.0.0.1:9/v1", use_cache=False)
    settings = llm_requests.settings_for(options)
    cases = []
    with inputs.open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(sample), strict=False):
            record = json.loads(line)
            question = bank.question(record["question"])
            rubric = rubric_for(bank, question)
            (request,) = llm_requests.first_requests(question, rubric, record["answer"], settings, 1).requests
            reply = Reply(reply_for(request.body), 1000, 200)
            cases.append((question, rubric, record["answer"], request.id, reply))
    for question, rubric, *_ in cases:
        llm_requests.warm(question, rubric)

    def build() -> None:
        for question, rubric, answer, _, _ in cases:
            passages = split_passages(answer)
            whole = Chunk(tuple(c.id for c in rubric.concepts), tuple(m.id for m in rubric.misconceptions))
            budget = token_budget(whole, labels(passages), "json_schema")
            form = response_format(verdict_schema(whole, labels(passages)), "json_schema")
            _sdk_request(replace(settings, max_tokens=budget), build_messages(question, rubric, passages), form)

    def online() -> None:
        for question, rubric, answer, _, reply in cases:

            async def send(*_: Any, reply: Reply = reply) -> Reply:
                return reply

            keyword = grade_by_keywords(rubric, answer)
            llm = run_sync(agrade_with_llm(question, rubric, answer, settings, 1, answer_flags(keyword), send=send))
            _finish(llm, keyword, answer, options)

    def settle() -> None:
        for question, rubric, answer, request_id, reply in cases:
            llm_requests.settle(question, rubric, answer, options, {request_id: reply})

    timings: dict[str, list[float]] = {"build": [], "online": [], "settle": []}
    for _ in range(ROUNDS):  # interleaved, the median of each: other work on a shared machine moves single runs
        for name, run in (("build", build), ("online", online), ("settle", settle)):
            started = time.process_time()
            run()
            timings[name].append((time.process_time() - started) / len(cases) * 1000)
    return {name: statistics.median(values) for name, values in timings.items()}


def grade(server: FakeBatchServer, inputs: Path, out: Path, cores: set[int] | None) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, summary) of one `grade batch --provider-batch` run."""
    env = {**os.environ, "GRADER_BANK": str(REPO), "GRADER_HOME": str(out.parent / "home")}
    command = [
        sys.executable, "-m", "grader", "batch", str(inputs), "--out", str(out), "--quiet", "--json",
        "--mode", "llm", "--model", "openai/bench", "--api-base", server.api_base, "--no-cache", "--provider-batch",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env=env,
        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"grade batch exited {done.returncode}: {done.stderr or done.stdout}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=150)
    parser.add_argument("--collect-cores", type=int, default=0, help="0: every core")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    grading_core = {cores[0]}
    server_cores = set(cores[1:]) or grading_core
    with tempfile.TemporaryDirectory(prefix="grade-pbatch-") as folder:
        root = Path(folder)
        inputs, out = root / "answers.jsonl", root / "results.jsonl"
        write_answers(inputs, args.answers, args.words)
        os.sched_setaffinity(0, grading_core)
        base = baseline(inputs, root / "baseline.jsonl")
        work = online_work(inputs, min(args.answers, 2000))
        os.sched_setaffinity(0, server_cores)  # the server's threads, away from the graded core
        server = FakeBatchServer(root / "provider").start()
        try:
            submit_s, submit_cpu, submitted = grade(server, inputs, out, grading_core)
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            request_bytes = sum(f["bytes"] for f in server.uploads)
            started = time.perf_counter()
            server.finish()
            answered_s = time.perf_counter() - started
            os.sched_setaffinity(0, set(cores))
            collect_cores = set(cores[: args.collect_cores]) if args.collect_cores else set(cores)
            collect_s, collect_cpu, collected = grade(server, inputs, out, collect_cores)
        finally:
            server.stop()
        methods: dict[str, int] = {}
        with out.open(encoding="utf-8") as handle:
            for line in handle:
                method = json.loads(line)["grade"]["method"]
                methods[method] = methods.get(method, 0) + 1
    report: dict[str, Any] = {
        "answers": args.answers,
        "words": args.words,
        "cores_available": len(cores),
        "baseline_json_dumps_s": round(base, 2),
        "submit": {
            "cores": 1,
            "seconds": round(submit_s, 2),
            "cpu_seconds": round(submit_cpu, 2),
            "cpu_ms_per_answer": round(submit_cpu / args.answers * 1000, 2),
            "peak_rss_mb": round(peak_mb, 1),
            "x_baseline": round(submit_s / base, 1),
            "x_online_build_cpu": round(submit_cpu / args.answers * 1000 / work["build"], 2),
            "requests": submitted["submitted"],
            "batches": submitted["batches_created"],
            "request_mb": round(request_bytes / 1e6, 1),
        },
        "server_answering_s": round(answered_s, 1),
        "online_cpu_ms_per_answer": {name: round(ms, 3) for name, ms in work.items()},
        "collect": {
            "cores": len(collect_cores),
            "seconds": round(collect_s, 2),
            "cpu_seconds": round(collect_cpu, 2),
            "cpu_ms_per_answer": round(collect_cpu / args.answers * 1000, 2),
            "x_online_cpu": round(collect_cpu / args.answers * 1000 / work["online"], 2),
            "x_baseline": round(collect_s / base, 1),
            "graded": collected["graded"],
            "fallbacks": collected["fallbacks"],
            "methods": methods,
        },
        "targets": {"submit_s": 60, "submit_mb": 300, "collect_s": 60},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
