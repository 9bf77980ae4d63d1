"""The fixed cost of the LLM path: import times, and CLI start to the first HTTP request.

Run by hand:  .venv/bin/python benchmarks/llm_startup.py [--runs 5]

For each variant, a fresh interpreter is started and the time until a local stub server (answering at once
with a valid verdict) sees the chat request is measured, along with the total time to the grade:
  - grade CLI, openai/<name> model -> openai SDK transport (what grader uses for OpenAI-compatible servers)
  - grade CLI, same model forced through litellm (client = "litellm" in the config file)
  - a bare openai SDK script, and a bare litellm script (lower bounds for each client)
  - grade CLI on the keyword path (no request; total time only), for reference
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BANK = REPO / "tests" / "llm_bank"
ANSWER = (
    "Blue-green keeps two identical environments and we switch traffic at the load balancer; "
    "to roll back we switch back."
)
VERDICT = {
    "concepts": {
        "traffic-switch": {"evidence": "switch traffic at the load balancer", "reason": "ok", "status": "covered"},
        "rollback": {"evidence": "to roll back we switch back", "reason": "ok", "status": "covered"},
    },
    "misconceptions": {"in-place": {"evidence": "", "stated": False}},
    "feedback": "ok",
}
REPLY = {
    "id": "x", "object": "chat.completion", "created": 0, "model": "smollm2",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": json.dumps(VERDICT)}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
BARE_OPENAI = """
import sys, openai
c = openai.OpenAI(base_url=sys.argv[1], api_key="x", max_retries=0)
c.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}])
"""
BARE_LITELLM = """
import os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm
litellm.completion(model="openai/smollm2", api_base=sys.argv[1], api_key="x",
                   messages=[{"role": "user", "content": "hi"}], max_retries=0)
"""


class Stub:
    def __init__(self) -> None:
        self.arrivals: list[float] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                stub.arrivals.append(time.perf_counter())
                self.rfile.read(int(self.headers.get("content-length") or 0))
                data = json.dumps(REPLY).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def timed(command: list[str], stub: Stub, env: dict[str, str]) -> tuple[float | None, float]:
    """(seconds to the first request or None, total seconds) for one run of `command`."""
    before = len(stub.arrivals)
    started = time.perf_counter()
    subprocess.run(command, input=ANSWER, capture_output=True, text=True, env=env, check=True, timeout=120)
    total = time.perf_counter() - started
    first = stub.arrivals[before] - started if len(stub.arrivals) > before else None
    return first, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stub = Stub()
    home = tempfile.mkdtemp(prefix="grader-bench-")
    litellm_config = Path(home) / "litellm.toml"
    litellm_config.write_text('[llm]\nclient = "litellm"\n')
    env = {**os.environ, "GRADER_HOME": home, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    py = sys.executable
    grade = [py, "-m", "grader", "--bank", str(BANK), "answer", "-q", "deploy-1", "--json", "--no-save"]
    llm = ["--mode", "llm", "--model", "openai/smollm2", "--api-base", stub.api_base, "--no-cache"]
    variants = {
        "import litellm": [py, "-c", "import os; os.environ['LITELLM_LOCAL_MODEL_COST_MAP']='True'; import litellm"],
        "import openai": [py, "-c", "import openai"],
        "grade CLI, keyword path": grade,
        "grade CLI -> openai SDK": grade + llm,
        "grade CLI -> litellm": grade + llm + ["--config", str(litellm_config)],
        "bare openai SDK script": [py, "-c", BARE_OPENAI, stub.api_base],
        "bare litellm script": [py, "-c", BARE_LITELLM, stub.api_base],
    }
    print(f"{'variant':<28} {'to request (median)':>20} {'total (median)':>15}   runs={args.runs}")
    for name, command in variants.items():
        timed(command, stub, env)  # warm the OS file cache
        firsts, totals = [], []
        for _ in range(args.runs):
            first, total = timed(command, stub, env)
            totals.append(total)
            if first is not None:
                firsts.append(first)
        to_request = f"{statistics.median(firsts):.2f} s" if firsts else "-"
        print(f"{name:<28} {to_request:>20} {statistics.median(totals):>13.2f} s")


if __name__ == "__main__":
    main()
