"""Compare two installs of grader on the keyword path, interleaved on one machine. Run by hand:

    python benchmarks/versions.py OLD_PYTHON OLD_BANK NEW_PYTHON NEW_BANK [--rounds 7] [--startup-runs 10]
                                  [--answers 10000] [--words 150]

OLD_PYTHON / NEW_PYTHON: the interpreters of two installs (e.g. fresh non-editable venvs of two checkouts);
OLD_BANK / NEW_BANK: the bank each grades its batch against (each checkout's own). Each round measures both,
the one that goes first alternating from round to round, so that a machine shared with other work slows both
alike:

- start-up: `--startup-runs` runs of `grade answer --question cicd-3 --file examples/answers/cicd-3.md --json`
  with the start-up cache filled, outside the checkout, as benchmarks/startup.py times it (the bundled bank);
- the keyword batch: one run of benchmarks/batch_keyword.py's (the same `--answers` answers for both, a fresh
  GRADER_HOME each run, cold), with the naive counter just before it.

Prints each figure's median over all runs, its spread, and new / old of the medians. Grades differ between
versions when the rubrics or the grading changed; only speed is compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from batch_keyword import Measured, clean_env, generate, measure
from startup import ANSWER, time_command


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 4:
        return min(values), statistics.median(values), max(values)
    low, middle, high = statistics.quantiles(values, n=4)
    return low, middle, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old_python")
    parser.add_argument("old_bank", type=Path)
    parser.add_argument("new_python")
    parser.add_argument("new_bank", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--startup-runs", type=int, default=10)
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=150)
    args = parser.parse_args()
    versions = {"old": (args.old_python, args.old_bank.resolve()), "new": (args.new_python, args.new_bank.resolve())}
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"cores: {os.cpu_count()} (os.cpu_count()), affinity {affinity}; load average {os.getloadavg()}")
    startup: dict[str, list[float]] = {name: [] for name in versions}
    batch: dict[str, list[Measured]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory(prefix="grade-versions-") as tmp:
        work = Path(tmp)
        tree = work / "answers"
        tree.mkdir()
        made = generate(tree, args.answers, args.words, 5, 0.2, 0.01, versions["new"][1])
        print(f"batch: {made.answers:,} answers, {made.words_mean:.0f} words on average, cold GRADER_HOME each run")
        homes = {name: work / f"startup-{name}" for name in versions}
        commands = {
            name: [python, "-m", "grader", "answer", "--question", "cicd-3", "--file", str(ANSWER), "--json"]
            for name, (python, _) in versions.items()
        }
        envs = {name: clean_env(homes[name], versions[name][1]) for name in versions}
        for env in envs.values():
            del env["GRADER_BANK"]  # start-up: the bank bundled with each install
        for name in versions:
            time_command(commands[name], 3, envs[name], tmp)  # fill the start-up cache
        for number in range(args.rounds):
            order = list(versions) if number % 2 == 0 else list(reversed(versions))
            for name in order:
                startup[name] += time_command(commands[name], args.startup_runs, envs[name], tmp)
            for name in order:
                python, bank = versions[name]
                batch[name].append(measure(python, tree, bank, work, False, made.answers))
            print(
                f"round {number + 1}: "
                + "; ".join(
                    f"{name} start-up {statistics.median(startup[name][-args.startup_runs:]):.3f} s, batch "
                    f"{batch[name][-1].grader:,.0f}/wall-s {batch[name][-1].grader_cpu:,.0f}/CPU-s"
                    for name in versions
                ),
                flush=True,
            )
    print(f"\n{args.rounds} rounds; median (quartiles for start-up, min-max for the batch); new / old of medians")
    low_old, old, high_old = quartiles(startup["old"])
    low_new, new, high_new = quartiles(startup["new"])
    print(
        f"start-up  s          old {old:.3f} ({low_old:.3f}-{high_old:.3f})  new {new:.3f} ({low_new:.3f}-"
        f"{high_new:.3f})  new/old {new / old:.3f}  (n={len(startup['old'])} each)"
    )
    for field, label in (
        ("grader", "batch answers/wall-s"), ("grader_cpu", "batch answers/CPU-s"),
        ("grader_in_run", "batch answers/s in-run"), ("naive", "naive answers/wall-s"),
        ("naive_cpu", "naive answers/CPU-s"), ("ratio", "grader / naive"), ("cpu_ratio", "grader / naive, CPU"),
        ("peak_mb", "batch peak RSS MB"),
    ):  # fmt: skip
        values = {name: [getattr(run, field) for run in batch[name]] for name in versions}
        medians = {name: statistics.median(found) for name, found in values.items()}
        digits = 3 if "ratio" in field else 0
        shown = "  ".join(
            f"{name} {medians[name]:,.{digits}f} ({min(values[name]):,.{digits}f}-{max(values[name]):,.{digits}f})"
            for name in versions
        )
        print(f"{label:<22} {shown}  new/old {medians['new'] / medians['old']:.3f}")


if __name__ == "__main__":
    main()
