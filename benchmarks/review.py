"""Benchmark: `grade review` on a 10,000-answer results file, over real HTTP to the uvicorn server.

    .venv/bin/python benchmarks/review.py [--answers 10000] [--steps 200]

Makes a cohort (answers of sentences drawn from the bank's rubrics: model answers and concept descriptions, some
off-topic, some short), grades it with `grade batch` (keyword path) into results.jsonl, then starts
`grade review results.jsonl --no-browser` in a subprocess and measures:

- open: from starting the process to the first queue page received (Python start-up, reading 10,000 results and
  their overrides, the first page);
- next answer: following each answer page's "next" link, `--steps` times (the answer's source is a JSONL line: the
  first answer of a file reads that file once);
- a correction: POST a concept's status (appended, fsync'ed) and the page it redirects to.

Baselines measured in the same run: reading and parsing every results line with `json.loads` (open), and fetching
the app's stylesheet, the smallest request through the same stack (next answer).

Targets (issue 17): open < 2 s; next answer < 100 ms.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def rubric_sentences() -> dict[str, list[str]]:
    """Sentences of each rubric's model answer and concept descriptions, by question."""
    found: dict[str, list[str]] = {}
    for path in sorted((REPO / "rubrics").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        text = " ".join([data.get("model_answer", ""), *(c.get("description", "") for c in data.get("concepts", []))])
        sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 4]
        if sentences:
            found[data["question_id"]] = sentences
    return found


def make_inputs(path: Path, answers: int, seed: int = 17) -> None:
    rng = random.Random(seed)
    sentences = rubric_sentences()
    questions = sorted(sentences)
    pool = [s for q in questions for s in sentences[q]]
    with path.open("w", encoding="utf-8") as handle:
        for index in range(answers):
            question = questions[index % len(questions)]
            own = sentences[question]
            count = rng.choice((1, 2, 4, 6, 8))
            text = " ".join(rng.choice(pool if rng.random() < 0.2 else own) for _ in range(count))
            candidate = f"candidate-{index // len(questions):05d}"
            handle.write(json.dumps({"candidate": candidate, "question": question, "answer": text}) + "\n")


def grade(inputs: Path, results: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "grader", "--bank", str(REPO), "batch", str(inputs), "--out", str(results), "--quiet"],
        check=False,
    )
    return time.perf_counter() - started


def parse_baseline(results: Path) -> float:
    started = time.perf_counter()
    with results.open("rb") as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - started


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"median {1000 * statistics.median(values):.1f} ms, p95 {1000 * p95:.1f} ms, max {1000 * values[-1]:.1f} ms"


class Client:
    """A browser's part: one kept-alive connection (TCP_NODELAY, as browsers set it), the cookie, redirects."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> str:
        headers = {"Host": self.base.split("//")[1], "Cookie": self.cookie}
        if body is not None:
            headers.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": self.base})
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8")
        if response.getheader("set-cookie"):
            self.cookie = response.getheader("set-cookie", "").split(";")[0]
        if response.status in (302, 303):
            return self.get(response.getheader("location", "/").split("#")[0])
        assert response.status == 200, (response.status, path)
        return text

    def get(self, path: str) -> str:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> str:
        return self.request("POST", path, urlencode(form))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores available, {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="review-bench-") as folder:
        root = Path(folder)
        inputs, results = root / "answers.jsonl", root / "results.jsonl"
        make_inputs(inputs, args.answers)
        seconds = grade(inputs, results)
        lines = sum(1 for _ in results.open("rb"))
        print(f"cohort: {lines:,} results lines ({results.stat().st_size / 1e6:.1f} MB), graded in {seconds:.1f} s")
        baseline = min(parse_baseline(results) for _ in range(3))

        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "grader", "--bank", str(REPO), "review", str(results), "--no-browser"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            url = next(line.strip() for line in server.stdout if line.startswith("http://"))
            printed = time.perf_counter() - started
            client = Client(url)
            queue = client.get(url.split(client.base)[1])
            opened = time.perf_counter() - started
            print(f"open (process start to first queue page): {opened:.2f} s  [target < 2 s] (address printed after "
                  f"{printed:.2f} s); baseline json.loads of every results line {baseline:.2f} s "
                  f"(ratio {opened / baseline:.1f}x)")

            link = html.unescape(re.search(r'<tr data-href="([^"]+)"', queue).group(1))  # type: ignore[union-attr]
            first = time.perf_counter()
            page = client.get(link)
            first_answer = time.perf_counter() - first
            times = []
            for _ in range(args.steps):
                found = re.search(r'href="([^"]+)" id="next"', page)
                if found is None:
                    break
                step = time.perf_counter()
                page = client.get(html.unescape(found.group(1)))
                times.append(time.perf_counter() - step)
            css = []
            for _ in range(args.steps):
                step = time.perf_counter()
                client.get("/static/review.css")
                css.append(time.perf_counter() - step)
            print(f"first answer opened: {1000 * first_answer:.1f} ms (reads its JSONL source once)")
            print(f"next answer x{len(times)}: {ms(times)}  [target < 100 ms]")
            print(f"baseline, the stylesheet x{len(css)}: {ms(css)} "
                  f"(ratio of medians {statistics.median(times) / statistics.median(css):.1f}x)")

            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            key = re.search(r'action="/answer/([0-9a-f]+)/status', page).group(1)  # type: ignore[union-attr]
            concept = re.search(r'name="concept" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            writes = []
            for index in range(20):
                status = ("covered", "partial", "missing")[index % 3]
                step = time.perf_counter()
                client.post(f"/answer/{key}/status", {"csrf": csrf, "concept": concept, "status": status})
                writes.append(time.perf_counter() - step)
            print(f"a correction (POST, append + fsync, redirected page) x{len(writes)}: {ms(writes)}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
