"""Start-up benchmark: wall time of `grade answer --question cicd-3 --file A --json` on the keyword path.

Run by hand: `python benchmarks/startup.py [--runs 30]`. Prints the median and spread, and checks that
neither litellm nor openai is imported on this path.
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


def time_command(command: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return times


def report(name: str, times: list[float]) -> None:
    times = sorted(times)
    print(
        f"{name:<40} median {statistics.median(times):.3f} s   min {times[0]:.3f}   "
        f"p90 {times[int(len(times) * 0.9) - 1]:.3f}   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GRADER_HOME": home}
        env.pop("GRADER_MODEL", None)
        grade = [sys.executable, "-m", "grader", "answer", "--question", "cicd-3", "--file", str(ANSWER), "--json"]
        time_command(grade, 3, env)  # warm the file cache
        report("python -c pass", time_command([sys.executable, "-c", "pass"], args.runs, env))
        report(
            "import typer, rich, pydantic, yaml",
            time_command([sys.executable, "-c", "import typer, rich, pydantic, yaml"], args.runs, env),
        )
        report("grade answer --json (keyword)", time_command(grade, args.runs, env))
        probe = subprocess.run(
            [sys.executable, "-X", "importtime", *grade[1:]], capture_output=True, text=True, env=env, check=True
        )
        heavy = sorted({m for m in ("litellm", "openai") if f" {m}\n" in probe.stderr or f"| {m}" in probe.stderr})
        print("LLM modules imported on the keyword path:", ", ".join(heavy) or "none")


if __name__ == "__main__":
    main()
