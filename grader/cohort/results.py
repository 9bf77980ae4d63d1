"""The batch results file: one JSON object a line, appended safely, read back for resume and reports.

A line is either a graded answer or an error:

    {"candidate": "...", "question_id": "...", "source": "...", "key": "...", "grade": {<Grade JSON>}}
    {"candidate": "...", "question_id": "...", "source": "...", "key": "...",
     "error": "...", "exit_kind": "..."}

Every line is written with a single `write()` on a file opened for appending, so a killed process leaves
either the whole line or (after a power loss or a full disk) a torn last line without its newline: the start
of a results line (`{"candidate": "...`) with no newline after it. A torn last line is ignored when reading
and cut off before appending. Anything else that is not a results line is a StorageError, found before the
file is changed in any way: the file is not ours, and we never modify what we did not write. Only a regular
file is read or written (never a pipe, a device or, for writing, a symbolic link), and no line is read past
MAX_LINE_BYTES, so a file with no newline cannot fill the memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from grader import files
from grader.errors import StorageError

REQUIRED = ("candidate", "question_id", "source", "key")
LINE_START = b'{"candidate": "'  # how every results line begins (see graded_line and error_line)
MAX_LINE_BYTES = 16 << 20  # a results line holds one grade: far less than this


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
        handle = files.open_binary(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the results file: {exc.strerror or exc}") from None
    with handle:
        scan = _Scan(path)
        yield from scan.records(handle)


def graded_keys(path: Path) -> set[str]:
    """The keys of answers already graded in `path` (error lines are not: they are retried)."""
    return {record["key"] for record in iter_records(path) if "grade" in record}


class _Scan:
    """Reads a results file line by line, checking every line is ours before anything is written to it.

    After `records()`, `tail` is where a last line without its newline starts (None when the file ends with
    one) and `tail_whole` whether that line is a whole results line (only its newline is missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tail: int | None = None
        self.tail_whole = False

    def records(self, handle: BinaryIO) -> Iterator[dict[str, Any]]:
        offset = 0
        for number, raw, whole in files.bounded_lines(handle, MAX_LINE_BYTES):
            start, offset = offset, offset + len(raw)
            ended = raw.endswith(b"\n")
            if not ended:
                self.tail = start
            if not raw.strip():
                continue
            record = _parse(raw) if whole else None
            if record is not None:
                self.tail_whole = not ended
                yield record
                continue
            if whole and not ended and _torn(raw):
                return  # torn by a kill or a crash while writing: that answer is graded again
            raise StorageError(
                f"{self.path}: line {number} is not a results line; it was left untouched: "
                "is --out pointing at the right file? (use a new --out, or remove that line)"
            )


def _torn(raw: bytes) -> bool:
    """Whether a last line without its newline can be the start of a results line cut short."""
    return raw.startswith(LINE_START) or LINE_START.startswith(raw)


def _parse(raw: bytes) -> dict[str, Any] | None:
    record = files.json_object(raw)
    if record is None or any(not isinstance(record.get(k), str) for k in REQUIRED):
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
        self.graded: set[str] = set()  # keys of the answers graded in the file when it was opened

    def __enter__(self) -> ResultsWriter:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Open (or create) the file, lock it, check every line is ours, then mend a torn last line.

        A symbolic link, a pipe, a device or a file with a line that is not a results line is refused with a
        StorageError before a byte of it changes. `graded` then holds the keys of the answers graded in it.
        """
        problem = files.output_problem(self.path)
        if problem is not None:
            raise StorageError(f"{self.path}: the results file {problem}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | files.NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot write the results file: {exc.strerror or exc}") from None
        mode = os.fstat(self._fd).st_mode
        if not stat.S_ISREG(mode):
            self._close_unchanged()
            raise StorageError(f"{self.path}: the results file is {files.kind_of(mode)}, not a regular file")
        self._lock()
        try:
            self.graded = self._read_graded()
        except BaseException:
            self._close_unchanged()
            raise
        self._last_sync = time.monotonic()

    def _read_graded(self) -> set[str]:
        """The keys of graded answers, every line checked first; then a torn last line is cut off, or a whole last
        line without its newline gets one."""
        scan = _Scan(self.path)
        with os.fdopen(os.dup(self._fd), "rb") as handle:
            handle.seek(0)
            try:
                graded = {record["key"] for record in scan.records(handle) if "grade" in record}
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot read the results file: {exc.strerror or exc}") from None
        if scan.tail is not None:
            if scan.tail_whole:
                os.write(self._fd, b"\n")
            else:
                os.truncate(self._fd, scan.tail)
        return graded

    def _close_unchanged(self) -> None:
        os.close(self._fd)
        self._fd = -1

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
