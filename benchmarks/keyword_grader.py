"""Benchmark: the keyword grader alone, and its parts, on the kit answers. Run by hand:

    .venv/bin/python benchmarks/keyword_grader.py [--repeat 5] [--profile]

Grades every kit answer (tests/kit/*.yaml: strong, strong_alt, partial, weak) against its own rubric and
prints CPU microseconds per answer (time.process_time, median of `--repeat` runs, so a loaded machine skews
it less): the whole `grade_by_keywords`, then `analyse`, `Matcher(...)` and `find_all` on their own.
It also times `compile_rubric` per rubric: cold in a fresh process (what `grade answer` pays once) and
in-process with the text caches cleared. `--profile` prints a cProfile of one pass.

Target (issue 5): `grade_by_keywords` <= ~350 us per kit answer (~140 words), so that `grade batch` reaches
>= 2,000 answers per CPU-second end to end (benchmarks/batch_keyword.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
KINDS = ("strong", "strong_alt", "partial", "weak")

COLD_COMPILE = """
import sys, time
from pathlib import Path
from grader.bank import load_bank
bank = load_bank(Path(sys.argv[1]))
rubric = bank.rubric(sys.argv[2])
started = time.process_time()
from grader.keyword_grader import compile_rubric
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


def per_item(run: Callable[[], object], items: int, repeat: int, loops: int = 3) -> float:
    """Median CPU microseconds per item over `repeat` timings of `loops` calls of `run`."""
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(loops):
            run()
        timings.append((time.process_time() - started) / (loops * items) * 1e6)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one pass")
    args = parser.parse_args()

    from grader import text
    from grader.bank import load_bank
    from grader.keyword_grader import _COMPILED, compile_rubric, grade_by_keywords
    from grader.matching import Matcher

    bank = load_bank(REPO)
    answers = kit_answers()
    rubrics = {q: bank.rubric(q) for q, _ in answers}
    words = statistics.mean(len(a.split()) for _, a in answers)
    for question_id, answer in answers:  # warm: compiled rubrics, stem caches, typo memos
        grade_by_keywords(rubrics[question_id], answer)
    compiled = {q: compile_rubric(r) for q, r in rubrics.items()}
    docs = [text.analyse(a) for _, a in answers]
    matchers = [Matcher(d, compiled[q].vocabulary) for (q, _), d in zip(answers, docs, strict=True)]
    n = len(answers)
    print(f"{n} kit answers, {words:.0f} words on average, {len(rubrics)} rubrics; CPU us per answer, "
          f"median of {args.repeat}")
    print(f"grade_by_keywords {per_item(lambda: [grade_by_keywords(rubrics[q], a) for q, a in answers], n, args.repeat):7.0f}")
    print(f"  analyse         {per_item(lambda: [text.analyse(a) for _, a in answers], n, args.repeat):7.0f}")
    print(f"  Matcher()       {per_item(lambda: [Matcher(d, compiled[q].vocabulary) for (q, _), d in zip(answers, docs, strict=True)], n, args.repeat):7.0f}")  # noqa: E501
    print(f"  find_all        {per_item(lambda: [m.find_all(compiled[q].index) for (q, _), m in zip(answers, matchers, strict=True)], n, args.repeat):7.0f}")  # noqa: E501

    def compile_all() -> None:
        text.stem.cache_clear()
        for cache in (getattr(text, name) for name in ("_expand",)):
            if hasattr(cache, "cache_clear"):
                cache.cache_clear()
        for expansions in (getattr(text, name, None) for name in ("_EXPANSIONS",)):
            if isinstance(expansions, dict):
                expansions.clear()
        for rubric in rubrics.values():
            _COMPILED.clear()
            compile_rubric(rubric)

    warm = per_item(compile_all, len(rubrics), args.repeat, loops=1) / 1000
    cold_import, cold_compile = [], []
    for question_id in sorted(rubrics)[:: max(1, len(rubrics) // 6)]:
        done = subprocess.run(
            [sys.executable, "-c", COLD_COMPILE, str(REPO), question_id], capture_output=True, text=True, check=True
        )
        seconds = [float(x) for x in done.stdout.split()]
        cold_import.append(seconds[0] * 1000)
        cold_compile.append(seconds[1] * 1000)
    print(f"compile_rubric    {statistics.median(cold_compile):7.1f} ms cold in a fresh process (median of "
          f"{len(cold_compile)} rubrics; importing grader.keyword_grader {statistics.median(cold_import):.0f} ms), "
          f"{warm:.1f} ms in-process with text caches cleared")

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for question_id, answer in answers:
            grade_by_keywords(rubrics[question_id], answer)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
