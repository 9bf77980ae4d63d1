"""Start-up cost of saving to the history: `grade answer --json` on the keyword path, with and without --no-save.

Run by hand: `.venv/bin/python benchmarks/history_save.py [RUNS]`. Runs alternate between the two variants so
machine noise hits both alike; GRADER_HOME is a temporary folder (its history grows by RUNS attempts).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRADE = REPO / ".venv" / "bin" / "grade"
ANSWER = (
    "Blue-green keeps two identical environments; we deploy to the idle one, run smoke tests, then switch "
    "traffic at the load balancer and can switch back in seconds. Canary sends 5% of traffic first."
)


def run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(GRADE), *args], input=ANSWER, text=True, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GRADER_HOME": home}
        base = ["answer", "-q", "cicd-3", "--json", "-f", "-"]
        run(base, env)  # warm caches and create the database once
        timings: dict[str, list[float]] = {"--no-save": [], "saving": []}
        for _ in range(runs):
            timings["--no-save"].append(run([*base, "--no-save"], env))
            timings["saving"].append(run(base, env))
    for name, values in timings.items():
        print(f"{name:10} median {statistics.median(values) * 1000:6.1f} ms  min {min(values) * 1000:6.1f} ms")
    delta = statistics.median(timings["saving"]) - statistics.median(timings["--no-save"])
    print(f"saving costs {delta * 1000:+.1f} ms (median)")


if __name__ == "__main__":
    main()
