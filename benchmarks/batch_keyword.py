"""Benchmark: `grade batch` on the keyword path, end to end from answer files to results.jsonl.

    .venv/bin/python benchmarks/batch_keyword.py [--answers 10000] [--words 150] [--profile]

Generates a tree of answer files (candidate folders, one `<question-id>.md` a file) whose answers mix
sentences of the hand-written kit answers (tests/kit/*.yaml) of every question that has a rubric, then
runs `grade batch DIR --out results.jsonl --quiet` in a subprocess and reports answers/s and peak RSS.
A second run over the same tree measures resume (everything skipped). `--profile` also runs the batch
in-process under cProfile and prints where the time goes.

Targets (issue 5): >= 2,000 answers/s on one core, peak RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
KIT = REPO / "tests" / "kit"
KINDS = ("strong", "strong_alt", "partial", "weak")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def kit_sentences() -> dict[str, list[str]]:
    """Sentences of the kit answers, per question that has a rubric in the bank."""
    sentences: dict[str, list[str]] = {}
    for path in sorted(KIT.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        question_id = data["question_id"]
        if not (REPO / "rubrics" / f"{question_id}.yaml").is_file():
            continue
        found = [
            " ".join(s.split()) for kind in KINDS for s in _SENTENCE.split(data.get(kind) or "") if len(s.split()) >= 4
        ]
        if found:
            sentences[question_id] = found
    return sentences


def make_answer(rng: random.Random, own: list[str], other: list[str], words: int) -> str:
    """About `words` words (whole sentences, so on average `words`): mostly sentences of the question's own kit
    answers, some off-topic ones."""
    parts: list[str] = []
    count = 0
    while count < words:
        sentence = rng.choice(other if rng.random() < 0.15 else own)
        size = len(sentence.split())
        if count and count + size - words > words - count:  # it would overshoot more than stopping falls short
            break
        parts.append(sentence)
        count += size
        if rng.random() < 0.25:
            parts.append("\n\n")
    return " ".join(parts).replace(" \n\n ", "\n\n").strip() + "\n"


def generate(root: Path, answers: int, words: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    sentences = kit_sentences()
    questions = sorted(sentences)
    pool = [s for q in questions for s in sentences[q]]
    per_candidate = len(questions)
    for index in range(answers):
        candidate = f"candidate-{index // per_candidate:05d}"
        question_id = questions[index % per_candidate]
        folder = root / candidate
        folder.mkdir(exist_ok=True)
        (folder / f"{question_id}.md").write_text(
            make_answer(rng, sentences[question_id], pool, words), encoding="utf-8"
        )
    return questions


def run_cli(tree: Path, out: Path) -> tuple[float, float, dict[str, object]]:
    """(seconds, peak RSS MB, summary) of one `grade batch` subprocess; summary["cpu"] is its CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(tree), "--out", str(out), "--quiet", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GRADER_BANK": str(REPO)},
    )
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"grade batch failed ({done.returncode}): {done.stderr}")
    summary = json.loads(done.stdout)
    summary["cpu"] = usage.ru_utime + usage.ru_stime - cpu
    return seconds, max(usage.ru_maxrss, before) / 1024, summary


def profile(tree: Path, out: Path) -> None:
    import cProfile
    import pstats

    from grader.bank.loader import load_bank
    from grader.cohort.batch import run_batch

    bank = load_bank(REPO)
    profiler = cProfile.Profile()
    profiler.enable()
    run_batch(bank, [tree], out)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def overhead(tree: Path, out: Path) -> None:
    """The batch machinery alone: the same run with the grader replaced by a lookup of a ready grade."""
    from grader import pipeline
    from grader.bank.loader import load_bank
    from grader.cohort.batch import run_batch

    bank = load_bank(REPO)
    ready: dict[str, object] = {}
    real = pipeline.grade_answer

    def lookup(question, rubric, answer, options=None):
        if question.id not in ready:
            ready[question.id] = real(question, rubric, answer, options)
        return ready[question.id]

    pipeline.grade_answer = lookup  # type: ignore[assignment]
    try:
        summary = run_batch(bank, [tree], out)
    finally:
        pipeline.grade_answer = real
    print(
        f"overhead  : {summary.graded:,} answers through the batch machinery with a no-op grader in "
        f"{summary.seconds:.2f} s = {summary.graded / summary.seconds:,.0f} answers/s "
        f"({1e6 * summary.seconds / summary.graded:.0f} us per answer: discover, read, key, serialise, write)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=150)
    parser.add_argument("--profile", action="store_true", help="also profile an in-process run")
    parser.add_argument("--overhead", action="store_true", help="also time the batch without the grader")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        tree = Path(tmp, "answers")
        tree.mkdir()
        started = time.perf_counter()
        questions = generate(tree, args.answers, args.words)
        sizes = [len(path.read_text(encoding="utf-8").split()) for path in tree.rglob("*.md")]
        print(
            f"generated {args.answers:,} answers over {len(questions)} questions ({', '.join(questions)}) "
            f"in {time.perf_counter() - started:.1f} s; words per answer: mean {sum(sizes) / len(sizes):.0f}, "
            f"min {min(sizes)}, max {max(sizes)}"
        )
        out = Path(tmp, "results.jsonl")
        seconds, peak, summary = run_cli(tree, out)
        graded = summary["graded"]
        print(
            f"first run : {graded:,} graded in {seconds:.2f} s wall (incl. start-up) = "
            f"{graded / seconds:,.0f} answers/s; in-run {summary['seconds']} s = "
            f"{graded / summary['seconds']:,.0f} answers/s; peak RSS {peak:.0f} MB"
        )  # type: ignore[operator]
        print(
            f"CPU time  : {summary['cpu']:.2f} s (user + sys, one process) = "
            f"{graded / summary['cpu']:,.0f} answers per CPU-second"
        )  # type: ignore[operator]
        print(f"results   : {out.stat().st_size / 1e6:.1f} MB, {sum(1 for _ in out.open()):,} lines")
        seconds, peak, summary = run_cli(tree, out)
        print(f"resume run: {summary['skipped']:,} skipped, {summary['graded']} graded in {seconds:.2f} s wall")
        if args.overhead:
            overhead(tree, Path(tmp, "overhead.jsonl"))
        if args.profile:
            profile(tree, Path(tmp, "profiled.jsonl"))


if __name__ == "__main__":
    main()
