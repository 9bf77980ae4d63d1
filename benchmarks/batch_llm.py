"""Benchmark: `grade batch` on the LLM path against a local OpenAI-compatible server that answers after 250 ms.

    .venv/bin/python benchmarks/batch_llm.py [--answers 200] [--concurrency 16] [--delay 0.25]

Starts a tiny threaded HTTP server on 127.0.0.1 that answers every chat completion after `--delay` seconds
with a valid verdict for whatever rubric the request's JSON schema describes (every concept "missing"),
counting requests. Runs `grade batch` in a subprocess over a JSONL of `--answers` answers with
`--mode llm --model openai/bench --api-base ... --concurrency N --no-cache`, then runs it again with the same
--out and checks that the second run made no request at all.

Target (issue 5): within 1.25 x the ideal answers x delay / concurrency (200 x 0.25 / 16 = 3.1 s), plus the
fixed start-up cost, measured here as the wall time of a one-answer batch minus one delay.

`--home warm` (the default) first grades one answer per question with the keyword grader under the same
GRADER_HOME, outside the timed runs: the parsed and compiled rubrics are then in the start-up cache, as after
any earlier use of grader on the machine. `--home fresh` times a first use: every question's rubric is parsed
and compiled during the run (about 20 ms each).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_keyword import make_answer, source_units  # noqa: E402


class _Listener(ThreadingHTTPServer):
    """A threaded HTTP server whose listen backlog takes a burst of connections.

    `request_queue_size` is read when the socket starts listening, inside the constructor, so it must be set
    on the class: set on the instance afterwards it has no effect, the backlog stays at socketserver's 5, and
    when `--concurrency` clients connect at once the kernel drops the SYNs that overflow it. Each dropped
    connection then waits for the client's SYN retransmission (1 s), which is the kernel's time, not grader's.
    """

    daemon_threads = True
    request_queue_size = 128


class SlowServer:
    """An OpenAI-compatible chat completions endpoint that answers after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.arrivals: list[float] = []  # perf_counter() of each request's arrival
        self._lock = threading.Lock()
        self._server = _Listener(("127.0.0.1", 0), self._handler())
        self.api_base = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The reply goes out in two writes (headers, then body). With Nagle's algorithm on, the body waits
            # for the client to acknowledge the headers, and the client delays that ACK by up to 40 ms: every
            # answer would take delay + ~40 ms. TCP_NODELAY makes the server answer after `delay`, as stated.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                with server._lock:
                    server.requests += 1
                    server.arrivals.append(time.perf_counter())
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                time.sleep(server.delay)
                data = json.dumps(completion(verdict_for(body))).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with server._lock:
                    server.in_flight -= 1

        return Handler

    def __enter__(self) -> SlowServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def verdict_for(request: dict[str, Any]) -> str:
    """The least committal verdict the request's JSON schema accepts: every concept "missing"."""
    schema = request.get("response_format", {}).get("json_schema", {}).get("schema", {})
    return json.dumps(minimal_instance(schema))


def minimal_instance(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    root = root or schema
    if "$ref" in schema:
        return minimal_instance(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "enum" in schema:
        return "missing" if "missing" in schema["enum"] else schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: minimal_instance(schema["properties"][name], root) for name in schema.get("required", [])}
    return {"array": [], "boolean": False, "integer": 0, "number": 0, "string": ""}.get(kind)


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 300, "total_tokens": 1200},
    }


def write_answers(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    units = source_units()  # the generality set's sentences, as benchmarks/batch_keyword.py makes its answers
    questions = sorted(units)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            question_id = questions[index % len(questions)]
            other = [unit for q in questions if q != question_id for unit in units[q]]
            answer = make_answer(rng, units[question_id], other, 150, 0.2, 0.01)
            handle.write(json.dumps({"candidate": f"c{index:04d}", "question": question_id, "answer": answer}) + "\n")


@dataclass(frozen=True)
class Run:
    """One `grade batch` process: wall seconds, its CPU seconds (user + system), the server's CPU seconds
    meanwhile (this process, whose threads serve the requests), and its JSON summary."""

    seconds: float
    cpu: float
    server_cpu: float
    summary: dict[str, Any]


def run_batch(server: SlowServer, inputs: Path, out: Path, concurrency: int) -> Run:
    env = {**os.environ, "GRADER_BANK": str(REPO), "OPENAI_API_KEY": "sk-bench-not-a-real-key"}
    env["GRADER_HOME"] = str(out.parent / "home")  # never the real one; see --home
    command = [
        sys.executable, "-m", "grader", "batch", str(inputs), "--out", str(out), "--quiet", "--json",
        "--mode", "llm", "--model", "openai/bench", "--api-base", server.api_base,
        "--concurrency", str(concurrency), "--no-cache", "--no-fallback",
    ]  # fmt: skip
    before, server_before = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - started
    after, server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time() - server_before
    if done.returncode != 0:
        sys.exit(f"grade batch exited {done.returncode}: {done.stderr or done.stdout}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(seconds, cpu, server_cpu, json.loads(done.stdout))


def warm_home(inputs: Path, home: Path) -> None:
    """Grade one answer to each question of `inputs` with the keyword grader under GRADER_HOME=`home`."""
    seen: dict[str, str] = {}
    for line in inputs.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        seen.setdefault(record["question"], line)
    warm = home.parent / "warm.jsonl"
    warm.write_text("\n".join(seen.values()) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "grader", "batch", str(warm), "--out", str(home.parent / "warm-results.jsonl"),
               "--quiet", "--mode", "keyword"]  # fmt: skip
    env = {**os.environ, "GRADER_BANK": str(REPO), "GRADER_HOME": str(home)}
    subprocess.run(command, capture_output=True, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.25)
    parser.add_argument("--home", choices=("warm", "fresh"), default="warm", help="the start-up cache (see above)")
    args = parser.parse_args()
    ideal = args.answers * args.delay / args.concurrency
    with tempfile.TemporaryDirectory(prefix="grade-bench-llm-") as tmp, SlowServer(args.delay) as server:
        one, many = Path(tmp, "one.jsonl"), Path(tmp, "answers.jsonl")
        write_answers(one, 1, seed=1)
        write_answers(many, args.answers)
        if args.home == "warm":
            warm_home(many, Path(tmp, "home"))
        single = run_batch(server, one, Path(tmp, "one-results.jsonl"), 1)
        startup = single.seconds - args.delay
        server.requests = 0
        server.arrivals.clear()
        out = Path(tmp, "results.jsonl")
        launched = time.perf_counter()
        first = run_batch(server, many, out, args.concurrency)
        arrivals = sorted(server.arrivals)
        seconds, summary = first.seconds, first.summary
        first_requests, peak = server.requests, server.peak_in_flight
        second = run_batch(server, many, out, args.concurrency)
        again, summary2 = second.seconds, second.summary
        print(f"start-up (one-answer batch minus one delay): {startup:.2f} s; its CPU {single.cpu:.2f} s")
        print(
            f"first run : {summary['graded']} graded, {summary['failed']} failed, {first_requests} requests, "
            f"peak {peak} in flight; wall {seconds:.2f} s, in-run {summary['seconds']:.2f} s"
        )
        print(
            f"CPU: grade batch {first.cpu:.2f} s, {1000 * (first.cpu - single.cpu) / max(1, args.answers - 1):.1f} ms "
            f"per answer beyond the one-answer run; the server {first.server_cpu:.2f} s"
        )
        print(
            f"ideal {ideal:.2f} s; budget 1.25 x ideal + start-up = {1.25 * ideal + startup:.2f} s; "
            f"wall - start-up = {seconds - startup:.2f} s = {(seconds - startup) / ideal:.2f} x ideal"
        )
        if arrivals:
            span = arrivals[-1] + args.delay - arrivals[0]
            print(
                f"requests  : first {arrivals[0] - launched:.2f} s after launch, last answered "
                f"{arrivals[-1] + args.delay - launched:.2f} s after; mean in flight between them "
                f"{len(arrivals) * args.delay / span:.1f} of {args.concurrency}"
            )
        print(
            f"second run: {summary2['skipped']} skipped, {summary2['graded']} graded, "
            f"{server.requests - first_requests} requests, wall {again:.2f} s"
        )
        ok = seconds <= 1.25 * ideal + startup and server.requests == first_requests
        print("PASS" if ok else "FAIL")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
