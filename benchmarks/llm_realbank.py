"""Benchmark: the LLM grader on every real-bank question with a real local model (SmolLM2-135M via xllamacpp).

    .venv/bin/python benchmarks/llm_realbank.py [--kinds strong,weak | --kinds alternate] [--questions cicd-3,...]

Starts the model server of tests/localmodel.py (one thread, as in CI) on a free port, then for each question
grades its kit answers (tests/kit/<id>.yaml; `alternate`: the strong one, then the weak one of the next question,
and so on) with `grade_answer(..., mode="llm")` in this process, in a fresh
GRADER_HOME (no cache, nothing learnt beforehand). Reports the share graded by the model with no fallback, the
time per answer, the tokens, and whether any request had to be split. Then grades two gaming answers ("pass",
"I honestly have no idea...") on three questions, in llm and hybrid mode.

Baseline, measured in the same run: for each answer, the time the same server takes to read the same prompt and
write one token (`max_tokens: 1`, no schema, the prompt cache off), i.e. what asking anything at all costs; the
ratio says how much writing every verdict adds. The 135M model's verdicts are not judged here: only the protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import yaml  # noqa: E402
from localmodel import local_model_server  # noqa: E402

GAMING = ("pass", "I honestly have no idea what this is about, sorry.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_prompt_seconds(api_base: str, messages: list[dict[str, str]]) -> float:
    body = {"model": "smollm2", "messages": messages, "max_tokens": 1, "temperature": 0, "cache_prompt": False}
    request = urllib.request.Request(
        f"{api_base}/chat/completions", json.dumps(body).encode(), {"content-type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        response.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", default="strong,weak")
    parser.add_argument("--questions", default="")
    args = parser.parse_args()
    os.environ["GRADER_HOME"] = tempfile.mkdtemp(prefix="grader-bench-")
    from grader.bank.loader import load_bank
    from grader.llm.capabilities import ModelNotes
    from grader.llm.passages import split_passages
    from grader.llm.prompt import build_messages
    from grader.pipeline import GradeOptions, grade_answer

    bank = load_bank()
    wanted = [q for q in args.questions.split(",") if q] or sorted(bank.questions)
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; model SmolLM2-135M Q4_1, 1 thread")
    rows: list[dict[str, object]] = []
    with local_model_server(free_port()) as api_base:
        options = GradeOptions(mode="llm", model="openai/smollm2", api_base=api_base, timeout=600, use_cache=False)
        for qid in wanted:
            question, rubric = bank.question(qid), bank.rubric(qid)
            kit = yaml.safe_load((REPO / "tests" / "kit" / f"{qid}.yaml").read_text(encoding="utf-8"))
            kinds = args.kinds.split(",")
            if args.kinds == "alternate":
                kinds = ["strong" if wanted.index(qid) % 2 == 0 else "weak"]
            for kind in kinds:
                answer = kit[kind]
                started = time.perf_counter()
                grade = grade_answer(question, rubric, answer, options)
                seconds = time.perf_counter() - started
                baseline = read_prompt_seconds(api_base, build_messages(question, rubric, split_passages(answer)))
                usage = grade.usage
                tokens = f"{usage.prompt_tokens}+{usage.completion_tokens}" if usage else "-"
                downgraded = sum(c.claimed is not None for c in grade.concepts)
                rows.append(
                    {"question": qid, "seconds": seconds, "baseline": baseline, "method": grade.method,
                     "fallback": grade.fallback_reason}
                )  # fmt: skip
                print(
                    f"{qid:14} {kind:7} {seconds:6.1f} s (read prompt {baseline:4.1f} s) {grade.method:7} "
                    f"score {grade.score:4.1f} tokens {tokens} downgraded {downgraded}/{len(grade.concepts)}"
                    + (f" FALLBACK {grade.fallback_reason}" if grade.fallback_reason else ""),
                    flush=True,
                )
        chunk = ModelNotes("openai/smollm2", api_base).get()
        gaming: list[str] = []
        for qid in wanted[:3]:
            question, rubric = bank.question(qid), bank.rubric(qid)
            for text in GAMING:
                for mode in ("llm", "hybrid"):
                    grade = grade_answer(question, rubric, text, GradeOptions(**{**options.__dict__, "mode": mode}))
                    gaming.append(f"{qid} {mode:6} {text[:24]!r:28} score {grade.score} method {grade.method}")
    graded = [r for r in rows if r["method"] == "llm" and r["fallback"] is None]
    times = [float(r["seconds"]) for r in rows]  # type: ignore[arg-type]
    ratios = [float(r["seconds"]) / float(r["baseline"]) for r in rows]  # type: ignore[arg-type]
    print(f"\ngraded by the model, no fallback: {len(graded)} of {len(rows)} answers "
          f"({len({r['question'] for r in graded})} of {len({r['question'] for r in rows})} questions)")  # fmt: skip
    median, mean = statistics.median(times), statistics.mean(times)
    print(f"seconds an answer: median {median:.1f}, mean {mean:.1f}, max {max(times):.1f}")
    print(f"ratio to reading the prompt: median {statistics.median(ratios):.1f} x")
    print(f"what the model was found to need: {chunk}")
    print("gaming answers:")
    for line in gaming:
        print("  " + line)


if __name__ == "__main__":
    main()
