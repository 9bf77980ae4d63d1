"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for fault tests (stdlib only, runs in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply: a status and JSON body, raw bytes, a hang, or a slow trickle of bytes."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering (or before closing, with `drop`)
    trickle: float = 0.0  # seconds between single bytes of the body
    drop: bool = False  # close the connection without an answer


@dataclass
class Seen:
    """A request the server received."""

    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    connection: tuple[str, int] = ("", 0)  # the client's address: one per HTTP connection


def chat_reply(content: str, prompt_tokens: int = 100, completion_tokens: int = 50, finish: str = "stop") -> Reply:
    """A 200 chat completion whose message content is `content`."""
    return Reply(
        body={
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "fake",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def error_reply(status: int, message: str = "fake error", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "fake", "code": status}},
                 headers=headers or {})


class _Listener(ThreadingHTTPServer):
    """A threaded HTTP server whose listen backlog takes a burst of connections (socketserver's default is 5; it is
    read in the constructor, so it must be set on the class)."""

    daemon_threads = True
    request_queue_size = 64


class FakeServer:
    """Serves `script` in order (the last reply repeats) and records every request with its arrival time."""

    def __init__(self, script: list[Reply]) -> None:
        self.script = list(script)
        self.seen: list[Seen] = []
        self.in_flight = 0  # requests received and not yet answered
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Listener(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.api_base = f"http://127.0.0.1:{self.port}/v1"

    def _next(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with server._lock:
                    server.seen.append(
                        Seen(time.monotonic(), self.path, dict(self.headers.items()), body, self.client_address)
                    )
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    self._answer(server._next())
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, reply: Reply) -> None:
                if reply.hang and server._stop.wait(reply.hang):
                    return
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.trickle:
                    for i in range(len(data)):
                        if server._stop.wait(reply.trickle):
                            return
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(data)

        return Handler

    def start(self) -> FakeServer:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def serve(script: list[Reply]) -> Iterator[FakeServer]:
    server = FakeServer(script).start()
    try:
        yield server
    finally:
        server.stop()


def refused_api_base() -> str:
    """An api_base on 127.0.0.1 where nothing listens (the port was just freed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
