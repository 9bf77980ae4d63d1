"""The files of a provider batch: request files split to the provider's limits, and the output and error files
it returns, indexed by custom id.

A request line is the provider's JSONL format: `{"custom_id": "<item key>:<request id>", "method": "POST", "url": ...,
"body": {...}}`. A request file holds at most MAX_REQUESTS lines and MAX_BYTES bytes (OpenAI's limits: 50,000
requests and 200 MB per batch); the lines of one answer are never split between two files. A result line is
`{"custom_id": ..., "response": {"status_code": 200, "body": {...}}, "error": null}` or one with an `error`; a line
that is not JSON or has no custom id is counted as malformed and skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from grader.files import json_object

MAX_REQUESTS = 50_000
MAX_BYTES = 190 << 20  # under the 200 MB OpenAI takes, with room to spare
WRITE_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class RequestFile:
    """A finished request file."""

    number: int
    path: Path
    requests: int
    bytes: int
    sha256: str


class RequestFiles:
    """Writes request lines into numbered files `<prefix>-<n>.jsonl` in `folder`, starting a new file before one
    would pass `max_requests` lines or `max_bytes` bytes (an answer's lines stay together)."""

    def __init__(self, folder: Path, prefix: str, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES):
        self.folder = folder
        self.prefix = prefix
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.done: list[RequestFile] = []
        self._handle: BinaryIO | None = None
        self._path: Path | None = None
        self._count = 0
        self._size = 0
        self._digest = hashlib.sha256()

    @property
    def number(self) -> int:
        """The number of the file the next lines go to (when they fit)."""
        return len(self.done)

    def add(self, lines: list[bytes]) -> int:
        """Write one answer's request lines (each ending in a newline); the number of the file they went to."""
        size = sum(len(line) for line in lines)
        if self._handle is not None and (
            self._count + len(lines) > self.max_requests or self._size + size > self.max_bytes
        ):
            self._finish()
        if self._handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._path = self.folder / self.name(len(self.done))
            self._handle = self._path.open("wb", buffering=WRITE_BUFFER)
        for line in lines:
            self._handle.write(line)
            self._digest.update(line)
        self._count += len(lines)
        self._size += size
        return len(self.done)

    def name(self, number: int) -> str:
        return f"{self.prefix}-{number}.jsonl"

    def close(self) -> list[RequestFile]:
        """Finish the last file (flushed and fsync'ed, as every other) and return them all."""
        if self._handle is not None:
            self._finish()
        return self.done

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        for path in [f.path for f in self.done] + ([self._path] if self._path else []):
            path.unlink(missing_ok=True)

    def _finish(self) -> None:
        assert self._handle is not None and self._path is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self.done.append(RequestFile(len(self.done), self._path, self._count, self._size, self._digest.hexdigest()))
        self._handle, self._path = None, None
        self._count, self._size, self._digest = 0, 0, hashlib.sha256()


def request_line(custom_id: str, url: str, body: dict[str, Any], text: str = "") -> bytes:
    """One request line; `text`, when given, is the body already serialised (as JSON). Else the body's response
    format (the same object for every answer to a question) is serialised once and spliced in: the JSON schema is
    most of a request's bytes."""
    head = json.dumps({"custom_id": custom_id, "method": "POST", "url": url}, ensure_ascii=False)[:-1]
    if text:
        return f'{head}, "body": {text}}}\n'.encode()
    schema = body.get("response_format")
    if not isinstance(schema, dict):
        return f'{head}, "body": {json.dumps(body, ensure_ascii=False)}}}\n'.encode()
    rest = json.dumps({k: v for k, v in body.items() if k != "response_format"}, ensure_ascii=False)[:-1]
    rest += ", " if len(rest) > 1 else ""
    return f'{head}, "body": {rest}"response_format": {_serialised(schema)}}}}}\n'.encode()


_SERIALISED: dict[int, tuple[dict[str, Any], str]] = {}


def _serialised(value: dict[str, Any]) -> str:
    found = _SERIALISED.get(id(value))
    if found is None or found[0] is not value:
        if len(_SERIALISED) > 1024:
            _SERIALISED.clear()
        found = _SERIALISED[id(value)] = (value, json.dumps(value, ensure_ascii=False))
    return found[1]


def file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(WRITE_BUFFER):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


class Results:
    """The lines of downloaded output and error files, by custom id (offsets only: lines are read when needed)."""

    def __init__(self) -> None:
        self._fds: list[int] = []
        self._paths: list[str] = []
        self._where: dict[str, tuple[int, int, int]] = {}  # custom id -> (file, offset, length)
        self.malformed = 0

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, path: Path) -> None:
        number = len(self._fds)
        self._fds.append(os.open(path, os.O_RDONLY))
        self._paths.append(str(path))
        offset = 0
        with path.open("rb") as handle:
            for raw in handle:
                start, offset = offset, offset + len(raw)
                custom_id = _custom_id(raw)
                if custom_id is None:
                    self.malformed += raw.strip() != b""
                    continue
                self._where.setdefault(custom_id, (number, start, len(raw)))

    def __contains__(self, custom_id: str) -> bool:
        return custom_id in self._where

    def where(self, custom_id: str) -> tuple[str, int, int] | None:
        """The file, offset and length of the result line for `custom_id`, if there is one."""
        found = self._where.get(custom_id)
        if found is None:
            return None
        number, offset, length = found
        return self._paths[number], offset, length

    def get(self, custom_id: str) -> dict[str, Any] | None:
        where = self._where.get(custom_id)
        if where is None:
            return None
        number, offset, length = where
        return json.loads(os.pread(self._fds[number], length, offset))

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


def _custom_id(raw: bytes) -> str | None:
    data = json_object(raw)
    if data is None:
        return None
    custom_id = data.get("custom_id")
    return custom_id if isinstance(custom_id, str) and custom_id else None


def read_result(line: dict[str, Any]) -> tuple[Any | None, str | None, int | None]:
    """(the response body, None, 200) for a successful result line, else (None, why it failed, its HTTP status if
    it has one)."""
    response = line.get("response")
    error = line.get("error")
    status = response.get("status_code") if isinstance(response, dict) else None
    status = status if isinstance(status, int) else None
    if isinstance(response, dict) and status == 200 and not error:
        body = response.get("body")
        if isinstance(body, dict):
            return body, None, status
        return None, "the provider's result has no response body", status
    detail = _message(error) or _message(response.get("body") if isinstance(response, dict) else None)
    code = f" (HTTP {status})" if status is not None else ""
    return None, f"the provider failed this request{code}: {detail or 'no reason given'}", status


def _message(error: Any) -> str:
    if isinstance(error, dict):
        inner = error.get("error")
        if isinstance(inner, dict):
            error = inner
        text = error.get("message") or error.get("code") or ""
        return " ".join(str(text).split())[:200]
    return " ".join(str(error).split())[:200] if error else ""
