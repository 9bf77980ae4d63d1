"""Benchmark: the keyword grader alone, and its stages, in one process. Run by hand:

    .venv/bin/python benchmarks/keyword_grader.py [--repeat 7] [--mixed 600] [--profile]

Grades every kit answer (tests/kit/*.yaml: strong, strong_alt, partial, weak; ~140 words) against its own
rubric, then the 84 blind-written answers of benchmarks/generality/answers.yaml (text the rubrics were not
tuned on), and prints CPU microseconds per answer (time.process_time, median of `--repeat` runs, after a
warm-up pass, so that a machine loaded by other work skews it less): `grade_by_keywords` as a whole, then by
stage, each measured as the pipeline up to it (so the rubric changes from answer to answer, as in a batch):
`analyse`, `+ Matcher(...)` (typo correction, one-word keywords written as two), `+ find` (the keyword
matching), and the rest (negation, figures, templates, verdicts, evidence, flags, relevance, score, feedback,
the Grade model). `--mixed N` also grades N answers made like benchmarks/batch_keyword.py's (generality
sentences mixed, ~150 words, a few typos). It times `compile_rubric` per rubric too: cold in a fresh process
with an empty start-up cache (what a first `grade answer` pays) and in-process with the text caches emptied.
`--profile` prints a cProfile of one pass over the kit answers. GRADER_HOME is a temporary folder throughout.

Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from private_home import use_private_home

REPO = Path(__file__).resolve().parent.parent
KINDS = ("strong", "strong_alt", "partial", "weak")

COLD_COMPILE = """
import sys, time
from pathlib import Path
from grader.bank.loader import load_bank
rubric = load_bank(Path(sys.argv[1])).rubric(sys.argv[2])
started = time.process_time()
from grader.keyword.grader import compile_rubric
imported = time.process_time()
compile_rubric(rubric)
print(imported - started, time.process_time() - imported)
"""


def kit_answers() -> list[tuple[str, str]]:
    answers: list[tuple[str, str]] = []
    for path in sorted((REPO / "tests" / "kit").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if (REPO / "rubrics" / f"{data['question_id']}.yaml").is_file():
            answers += [(data["question_id"], data[kind]) for kind in KINDS if data.get(kind)]
    return answers


def generality_answers() -> list[tuple[str, str]]:
    """The blind-written answers of benchmarks/generality/answers.yaml (text the rubrics were not tuned on)."""
    entries = yaml.safe_load((REPO / "benchmarks" / "generality" / "answers.yaml").read_text(encoding="utf-8"))
    return [(e["question_id"], e[kind]) for e in entries for kind in ("complete", "brief", "informal") if e.get(kind)]


def mixed_answers(count: int) -> list[tuple[str, str]]:
    """Answers as benchmarks/batch_keyword.py makes them, the question changing from one to the next."""
    import batch_keyword  # this folder is on sys.path when this file runs as a script

    rng = random.Random(5)
    units = batch_keyword.source_units()
    questions = sorted(units)
    other = {q: [u for p in questions if p != q for u in units[p]] for q in questions}
    picked = [questions[index % len(questions)] for index in range(count)]
    return [(q, batch_keyword.make_answer(rng, units[q], other[q], 150, 0.2, 0.01)) for q in picked]


def per_answer(run: Callable[[], object], answers: int, repeat: int) -> float:
    """Median CPU microseconds per answer over `repeat` calls of `run` (each grading every answer once)."""
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        timings.append((time.process_time() - started) / answers * 1e6)
    return statistics.median(timings)


def report(title: str, answers: list[tuple[str, str]], repeat: int) -> None:
    from grader.bank.loader import load_bank
    from grader.keyword.grader import compile_rubric, grade_by_keywords
    from grader.keyword.matcher import Matcher
    from grader.keyword.text import analyse

    bank = load_bank(REPO)
    rubrics = {q: bank.rubric(q) for q, _ in answers}
    work = [(rubrics[q], compile_rubric(rubrics[q]), a) for q, a in answers]
    for rubric, _, answer in work:  # warm: compiled rubrics, stem memos, typo memos
        grade_by_keywords(rubric, answer)

    def analysed() -> None:
        for _, _, answer in work:
            analyse(answer)

    def matched() -> None:
        for _, compiled, answer in work:
            Matcher(analyse(answer), compiled.vocabulary)

    def found() -> None:
        for _, compiled, answer in work:
            Matcher(analyse(answer), compiled.vocabulary).find(compiled.index)

    def graded() -> None:
        for rubric, _, answer in work:
            grade_by_keywords(rubric, answer)

    n = len(work)
    words = statistics.mean(len(a.split()) for _, a in answers)
    stages = [per_answer(run, n, repeat) for run in (analysed, matched, found, graded)]
    print(f"{title}: {n} answers, {words:.0f} words on average, {len(rubrics)} rubrics; CPU us per answer, "
          f"median of {repeat}")
    print(f"  grade_by_keywords {stages[3]:6.0f}")
    print(f"    analyse         {stages[0]:6.0f}")
    print(f"    + Matcher()     {stages[1] - stages[0]:6.0f}")
    print(f"    + find          {stages[2] - stages[1]:6.0f}")
    print(f"    + the rest      {stages[3] - stages[2]:6.0f}")


def compile_times(repeat: int) -> None:
    from grader import disk_cache
    from grader.bank.loader import load_bank
    from grader.keyword import lexicon
    from grader.keyword.grader import _COMPILED, compile_rubric
    from grader.keyword.patterns import compile_phrase

    bank = load_bank(REPO)
    rubrics = [bank.rubric(q) for q in sorted(bank.questions) if bank.has_rubric(q)]

    def compile_all() -> None:
        for rubric in rubrics:
            lexicon.stem.cache_clear()
            lexicon._EXPANSIONS.clear()
            lexicon.SINGLE_STEM.clear()
            if hasattr(compile_phrase, "cache_clear"):
                compile_phrase.cache_clear()
            _COMPILED.clear()
            compile_rubric(rubric)

    load = disk_cache.load
    disk_cache.load = lambda key: None  # compile every time (storing still costs what it costs)
    try:
        warm = per_answer(compile_all, len(rubrics), repeat) / 1000
    finally:
        disk_cache.load = load
    cold_import, cold_compile = [], []
    for rubric in rubrics[:: max(1, len(rubrics) // 7)]:
        done = subprocess.run(
            [sys.executable, "-c", COLD_COMPILE, str(REPO), rubric.question_id],
            capture_output=True, text=True, check=True,
            env={**os.environ, "GRADER_HOME": tempfile.mkdtemp(dir=os.environ["GRADER_HOME"])},  # an empty cache
        )
        seconds = [float(x) for x in done.stdout.split()]
        cold_import.append(seconds[0] * 1000)
        cold_compile.append(seconds[1] * 1000)
    print(f"compile_rubric {statistics.median(cold_compile):.1f} ms cold in a fresh process (median of "
          f"{len(cold_compile)} rubrics; importing grader.keyword.grader took {statistics.median(cold_import):.0f} "
          f"ms), {warm:.1f} ms in-process with the text memos emptied")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--mixed", type=int, default=0, help="also grade this many batch-like answers")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one pass")
    args = parser.parse_args()
    use_private_home()
    answers = kit_answers()
    report("kit answers", answers, args.repeat)
    report("generality answers", generality_answers(), args.repeat)
    if args.mixed:
        report("mixed answers", mixed_answers(args.mixed), args.repeat)
    compile_times(args.repeat)
    if args.profile:
        import cProfile
        import pstats

        from grader.bank.loader import load_bank
        from grader.keyword.grader import grade_by_keywords

        bank = load_bank(REPO)
        rubrics = {q: bank.rubric(q) for q, _ in answers}
        for question_id, answer in answers:  # warm again: compile_times emptied the memos
            grade_by_keywords(rubrics[question_id], answer)
        profiler = cProfile.Profile()
        profiler.enable()
        for question_id, answer in answers:
            grade_by_keywords(rubrics[question_id], answer)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
