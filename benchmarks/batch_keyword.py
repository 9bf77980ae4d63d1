"""Benchmark: `grade batch` on the keyword path, end to end from answer files to results.jsonl. Run by hand:

    .venv/bin/python benchmarks/batch_keyword.py [--answers 10000] [--words 150] [--seed 5] [--runs 3] [--warm]
                                                 [--python PATH] [--bank DIR] [--profile] [--overhead] [--json]

Answers. A tree of answer files (candidate folders, one `<question-id>.md` a file) is generated from text the
rubrics were not tuned on: the sentences and list items of the blind-written generality set
(benchmarks/generality/answers.yaml, 84 answers written without seeing the rubrics or the kits; never the kit
answers of tests/kit/). Each answer is about `--words` words (printed) of its question's own sentences, with
`--off-topic` of them (default 20%) taken from other questions' answers, and `--typos` of the longer words
(default 1%) with two letters swapped, so the vocabulary is wider than the 84 answers'. A fixed `--seed` makes
the same tree every time, whichever grader is measured.

Runs. Each run grades the tree in a fresh subprocess with its OWN temporary GRADER_HOME (an empty start-up
cache, never the real home): cold memos, as a first `grade batch` after installing. `--warm` first grades a
small batch (one answer a question) under the same GRADER_HOME, filling the start-up cache, then measures.
The naive keyword counter (benchmarks/naive_matcher.py: read, lower-case, count substrings, write JSON lines)
does the same job over the same tree in the same run, just before. A last run over the same tree and results
file measures resume (everything skipped).

Figures. Answers per WALL-second, start-up included, on the machine's cores as printed (`os.cpu_count()` and
this process's CPU affinity; the keyword batch uses one core), with answers per CPU-second and the peak RSS of
the subprocess; the naive counter's answers per wall-second; and the ratio grader / naive, which is the figure
that survives a change of machine (also given in CPU-seconds, which other work on a shared machine moves
less). With `--runs N`: each run, then the median and the spread (min-max).

Comparing two versions. `--python` runs `-m grader` (and the naive counter) with another interpreter, e.g. the
venv of an older checkout, and `--bank` grades against that checkout's bank (default: this one), with the same
answers: interleave the two, several runs each (docs/benchmarks.md). `--profile` also grades the tree in this
process under cProfile (this interpreter's grader, a temporary GRADER_HOME) and prints where the time goes;
`--overhead` times the batch machinery with the grader replaced by a lookup. `--json` prints the figures as
one JSON object at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "benchmarks" / "generality" / "answers.yaml"
NAIVE = REPO / "benchmarks" / "naive_matcher.py"
KINDS = ("complete", "brief", "informal")
ITEM = "- "  # a unit that is a list item starts with this (and is written on a line of its own)
_BLOCK = re.compile(r"\n[ \t]*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_LONG_WORD = re.compile(r"[A-Za-z]{5,}")


def units_of(text: str) -> list[str]:
    """The sentences of an answer's paragraphs and its list items (as `- item`), of 3 words or more."""
    units: list[str] = []
    for block in _BLOCK.split(text.strip()):
        prose: list[str] = []
        for line in block.splitlines():
            if _BULLET.match(line):
                units.extend(_sentences(" ".join(prose)))
                prose = []
                units.append(ITEM + " ".join(_BULLET.sub("", line).split()))
            else:
                prose.append(line)
        units.extend(_sentences(" ".join(prose)))
    return [unit for unit in units if len(unit.removeprefix(ITEM).split()) >= 3]


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE.split(" ".join(paragraph.split())) if s]


def source_units(path: Path = SOURCE) -> dict[str, list[str]]:
    """Question id -> the units of its three generality answers."""
    found: dict[str, list[str]] = {}
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
        found.setdefault(entry["question_id"], []).extend(
            unit for kind in KINDS for unit in units_of(entry.get(kind) or "")
        )
    return found


def _swap_letters(rng: random.Random, word: str) -> str:
    at = rng.randrange(1, len(word) - 2)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def make_answer(
    rng: random.Random, own: list[str], other: list[str], words: int, off_topic: float, typos: float
) -> str:
    """About `words` words (whole units, so on average `words`): sentences and list items of the question's own
    answers, a share `off_topic` of them from other questions' answers, a share `typos` of the longer words
    misspelt; paragraphs of prose and runs of list items as people write them."""
    chosen: list[str] = []
    count = 0
    while count < words:
        unit = rng.choice(other if rng.random() < off_topic else own)
        size = len(unit.split()) - unit.startswith(ITEM)
        if count and count + size - words > words - count:  # it would overshoot more than stopping falls short
            break
        if typos:
            unit = _LONG_WORD.sub(lambda m: _swap_letters(rng, m.group()) if rng.random() < typos else m.group(), unit)
        chosen.append(unit)
        count += size
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    for unit in chosen:
        if unit.startswith(ITEM):
            if paragraph:
                blocks.append(" ".join(paragraph))
                paragraph = []
            items.append(unit)
            continue
        if items:
            blocks.append("\n".join(items))
            items = []
        paragraph.append(unit)
        if rng.random() < 0.25:
            blocks.append(" ".join(paragraph))
            paragraph = []
    blocks += [" ".join(paragraph)] if paragraph else []
    blocks += ["\n".join(items)] if items else []
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class Answers:
    answers: int
    questions: list[str]
    units: int
    words_mean: float
    words_min: int
    words_max: int


def generate(
    root: Path, answers: int, words: int, seed: int, off_topic: float, typos: float, bank: Path
) -> Answers:
    """Write `answers` answer files under `root`, the question changing from one to the next."""
    rng = random.Random(seed)
    units = {q: found for q, found in source_units().items() if (bank / "rubrics" / f"{q}.yaml").is_file()}
    questions = sorted(units)
    sizes = []
    for index in range(answers):
        question_id = questions[index % len(questions)]
        other = [unit for q in questions if q != question_id for unit in units[q]]
        text = make_answer(rng, units[question_id], other, words, off_topic, typos)
        folder = root / f"candidate-{index // len(questions):05d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{question_id}.md").write_text(text, encoding="utf-8")
        sizes.append(len(text.split()) - text.count("\n- ") - text.startswith(ITEM))
    total_units = sum(len(found) for found in units.values())
    return Answers(answers, questions, total_units, statistics.mean(sizes), min(sizes), max(sizes))


@dataclass(frozen=True)
class Timed:
    seconds: float  # wall
    cpu: float  # user + system of the subprocess
    peak_mb: float  # its peak resident set
    summary: dict[str, Any]  # what it printed as JSON


def timed(command: list[str], env: dict[str, str], cwd: Path) -> Timed:
    """Run `command` and measure it: wall time, CPU time and peak RSS of that one process (os.wait4)."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            sys.exit(f"{' '.join(command[:4])} ... failed ({process.returncode}): {stderr.read().decode()[-2000:]}")
        stdout.seek(0)
        summary = json.loads(stdout.read().decode())
    return Timed(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, summary)


def clean_env(home: Path, bank: Path) -> dict[str, str]:
    """This environment without any GRADER_* setting, then GRADER_HOME=`home` and GRADER_BANK=`bank`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    return {**env, "GRADER_HOME": str(home), "GRADER_BANK": str(bank)}


def grade_batch(python: str, tree: Path, out: Path, env: dict[str, str], cwd: Path) -> Timed:
    command = [python, "-m", "grader", "batch", str(tree), "--out", str(out), "--quiet", "--json"]
    return timed(command, env, cwd)


@dataclass(frozen=True)
class Measured:
    grader: float  # answers per wall-second
    grader_cpu: float  # answers per CPU-second
    grader_in_run: float  # answers per second as `grade batch` times itself (start-up left out)
    naive: float
    naive_cpu: float
    ratio: float  # grader / naive, answers per wall-second
    cpu_ratio: float  # grader / naive, answers per CPU-second (less moved by other work on the machine)
    peak_mb: float
    naive_peak_mb: float


def measure(python: str, tree: Path, bank: Path, work: Path, warm: bool, expected: int) -> Measured:
    """One run: the naive counter, then `grade batch` in a fresh GRADER_HOME (warmed first with `warm`)."""
    home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
    env = clean_env(home, bank)
    if warm:
        grade_batch(python, work / "warm-up", home / "warm-up.jsonl", env, work)
    naive = timed([python, str(NAIVE), str(tree), "--bank", str(bank), "--out", str(home / "naive.jsonl")], env, work)
    grader = grade_batch(python, tree, home / "results.jsonl", env, work)
    graded = grader.summary["graded"]
    if graded != expected or naive.summary["graded"] != expected:
        sys.exit(f"expected {expected} answers graded, got {graded} (grader) and {naive.summary['graded']} (naive)")
    return Measured(
        grader=graded / grader.seconds,
        grader_cpu=graded / grader.cpu,
        grader_in_run=graded / grader.summary["seconds"],
        naive=expected / naive.seconds,
        naive_cpu=expected / naive.cpu,
        ratio=naive.seconds / grader.seconds,
        cpu_ratio=naive.cpu / grader.cpu,
        peak_mb=grader.peak_mb,
        naive_peak_mb=naive.peak_mb,
    )


def spread(values: list[float], digits: int = 0) -> str:
    """`median (min-max)` of `values`, or the one value."""
    def show(value: float) -> str:
        return f"{value:,.{digits}f}"

    if len(values) == 1:
        return show(values[0])
    return f"{show(statistics.median(values))} ({show(min(values))}-{show(max(values))})"


def in_process(tree: Path, work: Path, bank: Path, run: Callable[[Path, Path], None]) -> None:
    """Run `run(tree, out)` in this process with a temporary GRADER_HOME and the given bank."""
    os.environ.update({"GRADER_HOME": tempfile.mkdtemp(prefix="home-", dir=work), "GRADER_BANK": str(bank)})
    run(tree, work / "in-process.jsonl")


def profile(tree: Path, out: Path) -> None:
    import cProfile
    import pstats

    from grader.bank.loader import load_bank
    from grader.cohort.batch import run_batch

    profiler = cProfile.Profile()
    profiler.enable()
    run_batch(load_bank(), [tree], out)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def overhead(tree: Path, out: Path) -> None:
    """The batch machinery alone: the same run with the grader replaced by a lookup of a ready grade."""
    from grader import pipeline
    from grader.bank.loader import load_bank
    from grader.cohort.batch import run_batch

    ready: dict[str, object] = {}
    real = pipeline.grade_answer

    def lookup(question, rubric, answer, options=None):  # type: ignore[no-untyped-def]
        if question.id not in ready:
            ready[question.id] = real(question, rubric, answer, options)
        return ready[question.id]

    pipeline.grade_answer = lookup  # type: ignore[assignment]
    try:
        summary = run_batch(load_bank(), [tree], out)
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
    parser.add_argument("--words", type=int, default=150, help="words per answer, on average")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--off-topic", type=float, default=0.2, help="share of sentences from other questions")
    parser.add_argument("--typos", type=float, default=0.01, help="share of words of 5+ letters misspelt")
    parser.add_argument("--runs", type=int, default=1, help="measured runs (each in a fresh GRADER_HOME)")
    parser.add_argument("--warm", action="store_true", help="fill the start-up cache before each measured run")
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose grader is measured")
    parser.add_argument("--bank", type=Path, default=REPO, help="the bank graded against (default: this checkout)")
    parser.add_argument("--profile", action="store_true", help="also profile an in-process run")
    parser.add_argument("--overhead", action="store_true", help="also time the batch without the grader")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    bank = args.bank.resolve()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(
        f"machine   : {os.cpu_count()} CPUs (os.cpu_count()), this process may run on {len(affinity)} "
        f"({affinity}); load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {platform.processor() or '?'}"
        f" {platform.machine()}; the keyword batch grades on one core"
    )
    print(f"grader    : {args.python} -m grader, bank {bank}")
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        work = Path(tmp)
        tree = work / "answers"
        tree.mkdir()
        started = time.perf_counter()
        made = generate(tree, args.answers, args.words, args.seed, args.off_topic, args.typos, bank)
        print(
            f"answers   : {made.answers:,} over {len(made.questions)} questions, from the {made.units} sentences and "
            f"list items of {SOURCE.relative_to(REPO)}, {args.off_topic:.0%} off-topic, {args.typos:.0%} of longer "
            f"words misspelt, seed {args.seed}; words per answer: mean {made.words_mean:.0f}, min {made.words_min}, "
            f"max {made.words_max} (made in {time.perf_counter() - started:.1f} s)"
        )
        if args.warm:
            (work / "warm-up").mkdir()
            generate(work / "warm-up", len(made.questions), args.words, args.seed + 1, args.off_topic, 0.0, bank)
        memos = "warm start-up cache (--warm)" if args.warm else "cold: a fresh GRADER_HOME, empty start-up cache"
        runs: list[Measured] = []
        for number in range(args.runs):
            run = measure(args.python, tree, bank, work, args.warm, made.answers)
            runs.append(run)
            print(
                f"run {number + 1:<5} : grader {run.grader:,.0f} answers/wall-s ({run.grader_cpu:,.0f}/CPU-s, "
                f"{run.grader_in_run:,.0f}/s in-run), peak RSS {run.peak_mb:.0f} MB; naive {run.naive:,.0f} "
                f"answers/wall-s ({run.naive_cpu:,.0f}/CPU-s), peak RSS {run.naive_peak_mb:.0f} MB; "
                f"ratio {run.ratio:.3f} (CPU {run.cpu_ratio:.3f})"
            )
        column: Callable[[str], list[float]] = lambda name: [getattr(run, name) for run in runs]  # noqa: E731
        print(f"memos     : {memos}; {len(runs)} run(s), median (min-max)")
        print(f"grader    : {spread(column('grader'))} answers per wall-second (start-up included)")
        print(f"            {spread(column('grader_cpu'))} answers per CPU-second; "
              f"{spread(column('grader_in_run'))} answers/s in-run; peak RSS {spread(column('peak_mb'))} MB")
        print(f"naive     : {spread(column('naive'))} answers per wall-second; {spread(column('naive_cpu'))} per "
              f"CPU-second; peak RSS {spread(column('naive_peak_mb'))} MB")
        print(f"ratio     : grader / naive = {spread(column('ratio'), 3)} in answers per wall-second, "
              f"{spread(column('cpu_ratio'), 3)} per CPU-second")
        last_home = sorted(work.glob("home-*"))[-1]
        resume = grade_batch(args.python, tree, last_home / "results.jsonl", clean_env(last_home, bank), work)
        print(
            f"resume    : {resume.summary['skipped']:,} skipped, {resume.summary['graded']} graded in "
            f"{resume.seconds:.2f} s wall, peak RSS {resume.peak_mb:.0f} MB"
        )
        if args.overhead:
            in_process(tree, work, bank, overhead)
        if args.profile:
            in_process(tree, work, bank, profile)
        if args.json:
            figures = {name: statistics.median(column(name)) for name in asdict(runs[0])}
            print(json.dumps({
                "python": args.python, "bank": str(bank), "answers": made.answers, "words_mean": made.words_mean,
                "warm": args.warm, "cpus": os.cpu_count(), "affinity": affinity, "median": figures,
                "runs": [asdict(run) for run in runs], "resume_seconds": resume.seconds,
            }))


if __name__ == "__main__":
    main()
