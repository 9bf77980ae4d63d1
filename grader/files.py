"""Reading and writing files safely: only regular files are read, every read is bounded, and an output path that
is a symbolic link, a device, a pipe or a folder is never written.

- `open_regular` opens a file for reading without ever blocking on a named pipe (O_NONBLOCK) and refuses what
  is not a regular file (a pipe, a device, a socket, a folder) before reading a byte; with
  `follow_symlinks=False` it refuses a symbolic link too (O_NOFOLLOW, so a link swapped in meanwhile is caught).
- `read_regular` reads at most `limit + 1` bytes (enough to tell a file is too large).
- `bounded_lines` yields the lines of a file, none longer than a limit (a line with no end is cut, its rest
  skipped), so a file with no newline cannot fill the memory.
- `output_problem` says why a path must not be written: it is a symbolic link, a folder or a special file.
- `json_object` reads one line of a JSONL file as an object (None when it is not one: not JSON, nested past the
  recursion limit, or another JSON value).

Callers turn `OSError` (whose `strerror` is a complete phrase) into their own domain error.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class NotRegularFileError(OSError):
    """The path is not a regular file (a pipe, a device, a socket, a folder), or a symbolic link not followed;
    `kind` says which ('a named pipe', 'a folder', 'a symbolic link', ...)."""

    def __init__(self, path: str | Path, mode: int) -> None:
        self.kind = kind_of(mode)
        if stat.S_ISLNK(mode):
            super().__init__(errno.ELOOP, "a symbolic link, not followed", str(path))
        else:
            super().__init__(errno.EINVAL, f"{self.kind}, not a regular file", str(path))


def kind_of(mode: int) -> str:
    """What a file of this mode is, as a phrase: 'a named pipe', 'a character device', ..."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def open_regular(path: str | Path, *, follow_symlinks: bool = True, checked: bool = False) -> int:
    """A descriptor open for reading on the regular file at `path`; NotRegularFileError for anything else.

    The path is looked at before it is opened (a device is never opened), unless the caller has just seen it is
    a regular file (`checked`, e.g. from a directory entry); what was opened is checked again, so a file
    swapped for a pipe or a link in between is refused all the same.
    """
    if not checked:
        mode = os.stat(path, follow_symlinks=follow_symlinks).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, mode)
    try:
        fd = os.open(path, _READ_FLAGS if follow_symlinks else _READ_FLAGS | NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise NotRegularFileError(path, stat.S_IFLNK) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFileError(path, mode)
    return fd


def open_binary(path: str | Path, *, follow_symlinks: bool = True) -> BinaryIO:
    """`open_regular` as a buffered binary file object."""
    return os.fdopen(open_regular(path, follow_symlinks=follow_symlinks), "rb")


def read_regular(path: str | Path, limit: int, *, follow_symlinks: bool = True, checked: bool = False) -> bytes:
    """The bytes of the regular file at `path`, at most `limit + 1` of them (one more tells it is too large)."""
    fd = open_regular(path, follow_symlinks=follow_symlinks, checked=checked)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, min(size, limit) + 1)
        while len(data) <= limit:  # a file that grew since, or a read cut short
            more = os.read(fd, limit + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    return data


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line, whole) for every line of `handle`: `whole` is False for a line longer than `limit`,
    of which only the first `limit` bytes are given (its rest is read in pieces and dropped)."""
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) <= limit or line.endswith(b"\n"):
            yield number, line, True
            continue
        yield number, line[:limit], False
        while line and not line.endswith(b"\n"):
            line = handle.readline(1 << 20)


def output_problem(path: str | Path) -> str | None:
    """Why `path` must not be written as an output (a phrase), or None when it is a regular file or is missing."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None  # missing (it will be created) or unreachable (writing it will say why)
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link; it is never written through or replaced: give the path it points to"
    return f"is {kind_of(mode)}, not a regular file; it is never written"


def same_file(first: str | Path, second: str | Path) -> bool:
    """True when both paths name the same existing file (hard links and symbolic links included)."""
    try:
        one, other = os.stat(first), os.stat(second)
    except OSError:
        return False
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def json_object(raw: bytes | str) -> dict[str, Any] | None:
    """One JSONL line as an object; None when it is not JSON, is nested past the recursion limit, or is another
    JSON value."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
