"""A fake OpenAI batch server on 127.0.0.1 for tests and benchmarks (stdlib HTTP, runs in a thread).

It speaks the parts of OpenAI's API that batch grading uses: `POST /v1/files` (multipart upload), `GET /v1/files`
(newest first), `GET /v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/batches`
(newest first, `after` pagination), `POST /v1/batches/{id}/cancel`. A batch moves one status further each time it
is retrieved (`steps`, by default validating -> in_progress -> completed); when it ends, every request line is
answered by `respond(custom_id, body)`, which returns an `Answer`: a chat completion (by default `reply_for` the
request: built from its schema and checked with the online path's own parser), an error, a raw (malformed) output
line, or nothing (the request was not done: it shows in the error file as expired or cancelled). A request file
over `max_requests` lines or `max_bytes` bytes fails validation, as OpenAI's does. `hang` holds the response to an
upload or a batch creation after doing it, so a test can kill the client between the two.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from grader.llm.passages import NONE
from grader.llm.schema import Chunk, parse_reply

TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class Answer:
    """How the server answers one request line."""

    content: str | None = None  # a chat completion with this message content
    status: int = 200  # with content None and status != 200: an error response in the error file
    message: str = "fake failure"
    raw: bytes | None = None  # an output line exactly as given (malformed on purpose)
    skip: bool = False  # not done: an expired/cancelled entry in the error file
    prompt_tokens: int = 1000
    completion_tokens: int = 200
    finish_reason: str = "stop"


Responder = Callable[[str, dict[str, Any]], Answer]


@dataclass
class Batch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, str]
    created_at: int
    steps: list[str]
    position: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.steps[self.position]

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
        }


def schema_answer(custom_id: str, body: dict[str, Any]) -> Answer:
    """A reply that fits the request: every verdict asked for covered, citing the answer's passages in turn."""
    return Answer(content=reply_for(body))


def asked(body: dict[str, Any]) -> tuple[Chunk, list[str]]:
    """What a request asks about (its chunk of the rubric) and the passage labels it may cite, read from the JSON
    schema of its response format."""
    form = body.get("response_format") or {}
    if form.get("type") != "json_schema":
        raise ValueError("the fake batch server answers requests with a JSON schema only")
    groups = form["json_schema"]["schema"]["properties"]
    concepts = groups.get("concepts", {}).get("properties", {})
    misconceptions = groups.get("misconceptions", {}).get("properties", {})
    verdict = next(iter(concepts.values()), None) or next(iter(misconceptions.values()))
    return Chunk(tuple(concepts), tuple(misconceptions)), list(verdict["properties"]["evidence"]["enum"])


def reply_for(body: dict[str, Any], status: str = "covered", stated: bool = False) -> str:
    """A reply to `body` that the online parser accepts (it is checked with `grader.llm.schema.parse_reply`): every
    concept asked `status`, citing the passages in turn (`none` when missing); every misconception asked `stated`
    on the first passage, else none."""
    chunk, labels = asked(body)
    passages = [label for label in labels if label != NONE] or [NONE]
    reply: dict[str, Any] = {}
    if chunk.concepts:
        reply["concepts"] = {
            cid: {"evidence": NONE if status == "missing" else passages[n % len(passages)], "reason": "Explained.",
                  "status": status}
            for n, cid in enumerate(chunk.concepts)
        }
    if chunk.misconceptions:
        reply["misconceptions"] = {
            mid: {"evidence": passages[0] if stated else NONE, "stated": stated} for mid in chunk.misconceptions
        }
    content = json.dumps(reply)
    parse_reply(content, chunk, labels)  # ReplyProblem if the online path would not take it
    return content


class FakeBatchServer:
    def __init__(self, folder: Path, respond: Responder = schema_answer) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.reset(respond)
        self._stop = threading.Event()
        self._server = _Listener(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.api_base = f"http://127.0.0.1:{self.port}/v1"

    def reset(self, respond: Responder = schema_answer) -> None:
        """Forget every file and batch, and go back to the default behaviour (ids keep counting)."""
        with self._lock:
            self.respond = respond
            self.steps = ["validating", "in_progress", "completed"]
            self.auto = True  # a retrieve moves the batch one step on
            self.max_requests = 50_000
            self.max_bytes = 200_000_000
            self.hang: dict[str, float] = {}  # "upload" or "create": seconds to hold the response after doing it
            self.files: dict[str, dict[str, Any]] = {}
            self.batches: dict[str, Batch] = {}
            self.calls: list[str] = []  # "METHOD /path" of every request

    # --- what tests look at and change ------------------------------------------------------------------

    @property
    def uploads(self) -> list[dict[str, Any]]:
        return [f for f in self.files.values() if f["purpose"] == "batch"]

    def requests_in(self, batch: Batch) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._content(batch.input_file_id).splitlines() if line.strip()]

    def finish(self, status: str | None = None) -> None:
        """Move every open batch to its last step (or to `status`), answering its requests."""
        with self._lock:
            for batch in self.batches.values():
                if batch.status in TERMINAL:
                    continue
                if status is not None:
                    batch.steps = [*batch.steps[: batch.position + 1], status]
                batch.position = len(batch.steps) - 1
                self._end(batch)

    # --- the API ------------------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _store(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = self._new_id("file")
        (self.folder / file_id).write_bytes(data)
        info = {
            "id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed",
        }
        with self._lock:
            self.files[file_id] = info
        return info

    def _content(self, file_id: str) -> bytes:
        return (self.folder / file_id).read_bytes()

    def _create(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = request.get("input_file_id")
        if file_id not in self.files:
            return 400, {"error": {"message": f"no file {file_id}", "type": "invalid_request_error"}}
        batch = Batch(
            id=self._new_id("batch"), input_file_id=file_id, endpoint=request.get("endpoint", ""),
            metadata=dict(request.get("metadata") or {}), created_at=int(time.time()), steps=list(self.steps),
        )
        with self._lock:
            self.batches[batch.id] = batch
        return 200, batch.view()

    def _retrieve(self, batch: Batch) -> dict[str, Any]:
        with self._lock:
            if self.auto and batch.status not in TERMINAL:
                batch.position += 1
                if batch.status == "cancelling":
                    batch.steps = [*batch.steps[: batch.position], "cancelled"]
                if batch.status in TERMINAL:
                    self._end(batch)
            return batch.view()

    def _cancel(self, batch: Batch) -> dict[str, Any]:
        with self._lock:
            if batch.status not in TERMINAL:
                batch.steps = [*batch.steps[: batch.position + 1], "cancelling", "cancelled"]
                batch.position += 1
            return batch.view()

    def _end(self, batch: Batch) -> None:
        """Answer the batch's requests as it ends (validation first, as OpenAI does)."""
        content = self._content(batch.input_file_id)
        lines = [line for line in content.splitlines() if line.strip()]
        if len(lines) > self.max_requests or len(content) > self.max_bytes:
            batch.steps[batch.position] = "failed"
            batch.errors = [{"code": "too_many_requests" if len(lines) > self.max_requests else "file_too_large",
                             "message": f"the input file has {len(lines)} requests, {len(content)} bytes"}]
            return
        output: list[bytes] = []
        errors: list[bytes] = []
        ended = batch.status
        done = len(lines) if ended == "completed" else len(lines) // 2  # expired, cancelled: half was done
        for number, line in enumerate(lines):
            request = json.loads(line)
            custom_id = request["custom_id"]
            answer = self.respond(custom_id, request["body"]) if number < done else Answer(skip=True)
            if answer.raw is not None:
                output.append(answer.raw)
                batch.counts["completed"] += 1
            elif answer.skip:
                code = "batch_expired" if ended == "expired" else "batch_cancelled"
                errors.append(_line(custom_id, None, {"code": code, "message": f"request not done: {code}"}))
                batch.counts["failed"] += 1
            elif answer.content is None:
                body = {"error": {"message": answer.message, "type": "server_error"}}
                errors.append(_line(custom_id, {"status_code": answer.status, "request_id": "r", "body": body}, None))
                batch.counts["failed"] += 1
            else:
                output.append(_line(custom_id, {"status_code": 200, "request_id": "r", "body": _completion(answer)},
                                    None))
                batch.counts["completed"] += 1
        batch.counts["total"] = len(lines)
        if output:
            batch.output_file_id = self._store(b"".join(output), "output.jsonl", "batch_output")["id"]
        if errors:
            batch.error_file_id = self._store(b"".join(errors), "errors.jsonl", "batch_output")["id"]

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def _route(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                path = url.path.removeprefix("/v1")
                server.calls.append(f"{method} {path}")
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length) if length else b""
                with suppress(BrokenPipeError):
                    self._dispatch(method, path, query, data)

            def _dispatch(self, method: str, path: str, query: dict[str, str], data: bytes) -> None:
                if method == "POST" and path == "/files":
                    filename, content, purpose = _multipart(self.headers.get("content-type", ""), data)
                    info = server._store(content, filename, purpose)
                    self._hold("upload")
                    return self._json(200, info)
                if method == "GET" and path == "/files":
                    found = [f for f in server.files.values() if f["purpose"] == query.get("purpose", f["purpose"])]
                    return self._json(200, _page(found, query))
                match = re.fullmatch(r"/files/([\w-]+)(/content)?", path)
                if method == "GET" and match and match.group(1) in server.files:
                    if match.group(2):
                        return self._bytes(server._content(match.group(1)))
                    return self._json(200, server.files[match.group(1)])
                if method == "POST" and path == "/batches":
                    status, body = server._create(json.loads(data or b"{}"))
                    self._hold("create")
                    return self._json(status, body)
                if method == "GET" and path == "/batches":
                    return self._json(200, _page([b.view() for b in server.batches.values()], query))
                match = re.fullmatch(r"/batches/([\w-]+)(/cancel)?", path)
                if match and match.group(1) in server.batches:
                    batch = server.batches[match.group(1)]
                    if method == "POST" and match.group(2):
                        return self._json(200, server._cancel(batch))
                    if method == "GET" and not match.group(2):
                        return self._json(200, server._retrieve(batch))
                return self._json(404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})

            def _hold(self, what: str) -> None:
                seconds = server.hang.get(what, 0.0)
                if seconds:
                    server._stop.wait(seconds)

            def _json(self, status: int, body: Any) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _bytes(self, data: bytes) -> None:
                self._send(200, data, "application/octet-stream")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def start(self) -> FakeBatchServer:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def _completion(answer: Answer) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "fake",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer.content},
             "finish_reason": answer.finish_reason}
        ],
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
    }


def _line(custom_id: str, response: dict[str, Any] | None, error: dict[str, Any] | None) -> bytes:
    line = {"id": "batch_req_x", "custom_id": custom_id, "response": response, "error": error}
    return (json.dumps(line) + "\n").encode()


def _page(objects: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """Newest first, `limit` at a time, starting after the id `after`."""
    ordered = sorted(objects, key=lambda o: o["id"], reverse=True)
    if "after" in query:
        ids = [o["id"] for o in ordered]
        ordered = ordered[ids.index(query["after"]) + 1 :] if query["after"] in ids else []
    limit = int(query.get("limit") or 20)
    data = ordered[:limit]
    return {
        "object": "list", "data": data, "has_more": len(ordered) > limit,
        "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None,
    }


def _multipart(content_type: str, data: bytes) -> tuple[str, bytes, str]:
    """(filename, file content, purpose) of a multipart/form-data body."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    filename, content, purpose = "upload.jsonl", b"", ""
    for part in data.split(b"--" + boundary)[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        body = body[:-2] if body.endswith(b"\r\n") else body
        name = re.search(rb'name="([^"]*)"', head)
        if name and name.group(1) == b"file":
            found = re.search(rb'filename="([^"]*)"', head)
            filename = found.group(1).decode() if found else filename
            content = body
        elif name and name.group(1) == b"purpose":
            purpose = body.decode()
    return filename, content, purpose


@contextmanager
def serve_batches(folder: Path, respond: Responder = schema_answer) -> Iterator[FakeBatchServer]:
    server = FakeBatchServer(folder, respond).start()
    try:
        yield server
    finally:
        server.stop()
