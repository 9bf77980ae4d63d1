"""The batch results file: one JSON object a line, appended safely, read back for resume and reports.

A line is either a graded answer or an error:

    {"candidate": "...", "question_id": "...", "source": "...", "key": "...", "grade": {<Grade JSON>}}
    {"candidate": "...", "question_id": "...", "source": "...", "key": "...",
     "error": "...", "exit_kind": "..."}

Every line is written with a single `write()` on a file opened for appending, so a killed process leaves
either the whole line or (after a power loss or a full disk) a torn last line without its newline. A torn
last line is cut off before appending and ignored when reading; anything else that is not a results line
is a StorageError: the file is not ours, and we never overwrite what we did not write.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from grader.errors import StorageError

REQUIRED = ("candidate", "question_id", "source", "key")


def answer_key(candidate: str, question_id: str, answer: str | bytes) -> str:
    """The resume key: the same candidate, question and answer content give the same key."""
    data = answer.encode("utf-8") if isinstance(answer, str) else answer
    digest = hashlib.sha256(data).hexdigest()
    return hashlib.sha256(f"{candidate}\x1f{question_id}\x1f{digest}".encode()).hexdigest()[:32]


def graded_line(candidate: str, question_id: str, source: str, key: str, grade_json: str) -> str:
    """A results line for a graded answer; `grade_json` is the Grade's own JSON, embedded as is."""
    head = json.dumps(
        {"candidate": candidate, "question_id": question_id, "source": source, "key": key}, ensure_ascii=False
    )
    return head[:-1] + ', "grade": ' + grade_json + "}"


def error_line(candidate: str, question_id: str, source: str, key: str, error: str, exit_kind: str) -> str:
    return json.dumps(
        {
            "candidate": candidate,
            "question_id": question_id,
            "source": source,
            "key": key,
            "error": error,
            "exit_kind": exit_kind,
        },
        ensure_ascii=False,
    )


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every results line of `path` in order; a torn last line is skipped, any other bad line is an error."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the results file: {exc.strerror or exc}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            record = _parse(raw)
            if record is None:
                if not raw.endswith(b"\n"):
                    return  # torn by a kill or a crash while writing: that answer is graded again
                raise StorageError(
                    f"{path}: line {number} is not a results line; "
                    "is --out pointing at the right file? (use a new --out, or remove that line)"
                )
            yield record


def graded_keys(path: Path) -> set[str]:
    """The keys of answers already graded in `path` (error lines are not: they are retried)."""
    return {record["key"] for record in iter_records(path) if "grade" in record}


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or any(not isinstance(record.get(k), str) for k in REQUIRED):
        return None
    if not isinstance(record.get("grade"), dict) and not isinstance(record.get("error"), str):
        return None
    return record


class ResultsWriter:
    """Appends results lines: one `write()` per line, so a kill never tears a line.

    `sync_every` is how many seconds may pass before written lines are fsync'ed (0: after every line; None:
    never on its own, the caller calls `fsync()`, e.g. from a worker thread so an event loop never waits on
    the disk). Written lines survive a killed process at once; fsync only matters for a power loss.
    The file is locked while open, so two batches cannot interleave their lines in the same file.
    """

    def __init__(self, path: Path, sync_every: float | None = 0.0) -> None:
        self.path = path
        self.sync_every = sync_every
        self.unsynced = False  # lines written since the last fsync began
        self._fd = -1
        self._last_sync = 0.0

    def __enter__(self) -> ResultsWriter:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot write the results file: {exc.strerror or exc}") from None
        self._lock()
        self._mend_tail()
        self._last_sync = time.monotonic()

    def _mend_tail(self) -> None:
        """Cut off a torn last line (no newline, not a results line); end a whole one with its newline."""
        size = os.fstat(self._fd).st_size
        if size == 0 or os.pread(self._fd, 1, size - 1) == b"\n":
            return
        start = size
        while start > 0:
            begin = max(0, start - 65536)
            chunk = os.pread(self._fd, start - begin, begin)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                start = begin + cut + 1
                break
            start = begin
        tail = os.pread(self._fd, size - start, start)
        if _parse(tail) is not None:
            os.write(self._fd, b"\n")
        else:
            os.truncate(self._fd, start)

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot write the results file: {exc.strerror or exc}") from None
        self.unsynced = True
        if self.sync_every is not None and (
            self.sync_every <= 0 or time.monotonic() - self._last_sync >= self.sync_every
        ):
            self.fsync()

    def fileno(self) -> int:
        return self._fd

    def fsync(self) -> None:
        """Flush the lines written so far to the disk (safe to call from another thread)."""
        if self._fd >= 0 and self.unsynced:
            self.unsynced = False  # before the call: a line written meanwhile marks the file again
            self._last_sync = time.monotonic()
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot sync the results file: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.fsync()
            finally:
                os.close(self._fd)
                self._fd = -1

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows has no flock; one batch per file
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = -1
            raise StorageError(
                f"{self.path}: another 'grade batch' is writing this results file; "
                "wait for it to finish or use another --out"
            ) from None
