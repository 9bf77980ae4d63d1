"""Start-up benchmark: wall time of `grade answer --question cicd-3 --file A --json` on the keyword path.

Run by hand with the interpreter of the install to measure (a fresh non-editable install gives the figure users
see: `python -m venv /tmp/v && /tmp/v/bin/pip install '.[llm]'`):

    /tmp/v/bin/python benchmarks/startup.py [--runs 30] [--cold 5]

Every command runs outside the checkout (so `-m grader` imports the installed package, printed) with a
temporary GRADER_HOME, never the real one. Prints the median and spread of `python -c pass`, of importing the
CLI's libraries, of `grade answer --json` with the start-up cache filled (the usual case: every run after the
first), and of `--cold` runs each in a fresh GRADER_HOME (the first run after installing, or after a rubric
changed). Then checks that none of litellm, openai, httpx, aiohttp, rich is imported on this path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANSWER = REPO / "examples" / "answers" / "cicd-3.md"
HEAVY = ("litellm", "openai", "httpx", "aiohttp", "rich")


def time_command(command: list[str], runs: int, env: dict[str, str], cwd: str) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
        times.append(time.perf_counter() - start)
    return times


def report(name: str, times: list[float]) -> None:
    times = sorted(times)
    print(
        f"{name:<40} median {statistics.median(times):.3f} s   min {times[0]:.3f}   "
        f"p90 {times[max(0, int(len(times) * 0.9) - 1)]:.3f}   max {times[-1]:.3f}   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cold", type=int, default=5, help="runs each in a fresh GRADER_HOME (empty cache)")
    args = parser.parse_args()
    grade = [sys.executable, "-m", "grader", "answer", "--question", "cicd-3", "--file", str(ANSWER), "--json"]
    with tempfile.TemporaryDirectory(prefix="grade-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env["GRADER_HOME"] = str(Path(tmp, "home"))
        where = subprocess.run(
            [sys.executable, "-c", "import grader; print(grader.__file__)"],
            capture_output=True, text=True, env=env, cwd=tmp, check=True,
        )
        print(f"cores: {os.cpu_count()} (os.cpu_count()); grader imported from {where.stdout.strip()}")
        time_command(grade, 3, env, tmp)  # fill the start-up cache and the OS's file cache
        report("python -c pass", time_command([sys.executable, "-c", "pass"], args.runs, env, tmp))
        report(
            "import typer, rich, pydantic, yaml",
            time_command([sys.executable, "-c", "import typer, rich, pydantic, yaml"], args.runs, env, tmp),
        )
        report("grade answer --json (keyword)", time_command(grade, args.runs, env, tmp))
        cold = []
        for number in range(args.cold):
            cold += time_command(grade, 1, {**env, "GRADER_HOME": str(Path(tmp, f"cold-{number}"))}, tmp)
        if cold:
            report("  the same, each in a fresh GRADER_HOME", cold)
        probe = subprocess.run(
            [sys.executable, "-X", "importtime", *grade[1:]], capture_output=True, text=True, env=env, check=True,
            cwd=tmp,
        )
        imported = {line.rsplit("|", 1)[-1].strip() for line in probe.stderr.splitlines() if "|" in line}
        heavy = sorted(m for m in HEAVY if m in imported)
        print(f"imported on the keyword path, of {', '.join(HEAVY)}:", ", ".join(heavy) or "none")


if __name__ == "__main__":
    main()
