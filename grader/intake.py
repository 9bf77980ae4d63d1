"""Reading an answer safely: size limit, binary and encoding checks, one clear error for each."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from grader.errors import AnswerError

MAX_ANSWER_BYTES = 64 * 1024  # about 10,000 words; interview answers are far shorter
_CONTROL = bytes(b for b in range(32) if b not in {9, 10, 12, 13})  # control bytes text does not hold


def read_answer_file(path: Path) -> str:
    """The text of an answer file, or an AnswerError saying exactly what is wrong with it."""
    if not path.exists():
        raise AnswerError(f"{path}: no such file")
    if path.is_dir():
        raise AnswerError(f"{path}: is a directory, not an answer file")
    try:
        size = path.stat().st_size
        if size > MAX_ANSWER_BYTES:
            raise AnswerError(_too_large(str(path), size))
        data = read_limited(path)
    except OSError as exc:
        raise AnswerError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_answer(data, str(path))


def read_limited(path: str | Path) -> bytes:
    """The bytes of a file, at most one more than MAX_ANSWER_BYTES (enough to tell it is too large).

    The read is sized by the file's size: asking for MAX_ANSWER_BYTES + 1 every time allocates a 64 KiB
    buffer per file, which costs more than reading a typical answer (OSError is left to the caller). A file
    that has more than its size says (it grew, or it is a pipe) is read on, to the limit.
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(min(size, MAX_ANSWER_BYTES) + 1)
        if size < len(data) <= MAX_ANSWER_BYTES:
            data += handle.read(MAX_ANSWER_BYTES + 1 - len(data))
    return data


def read_answer_stream(stream: BinaryIO, source: str = "stdin") -> str:
    data = stream.read(MAX_ANSWER_BYTES + 1)
    return decode_answer(data, source)


def decode_answer(data: bytes, source: str) -> str:
    """Check size, binary content and UTF-8, and return the text (a UTF-8 BOM is dropped)."""
    if len(data) > MAX_ANSWER_BYTES:
        raise AnswerError(_too_large(source, len(data)))
    if b"\x00" in data or _control_share(data) > 0.1:
        raise AnswerError(f"{source}: looks like a binary file, not a text answer")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnswerError(
            f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    return check_not_empty(text, source)  # its size was checked in bytes


def check_answer_text(text: str, source: str = "answer") -> str:
    """`text`, or an AnswerError if it is empty or larger than the limit."""
    check_not_empty(text, source)
    size = len(text.encode("utf-8"))
    if size > MAX_ANSWER_BYTES:
        raise AnswerError(_too_large(source, size))
    return text


def check_not_empty(text: str, source: str = "answer") -> str:
    if not text.strip():
        raise AnswerError(f"{source}: the answer is empty")
    return text


def _control_share(data: bytes) -> float:
    if not data:
        return 0.0
    sample = data[:4096]
    return (len(sample) - len(sample.translate(None, _CONTROL))) / len(sample)


def _too_large(source: str, size: int) -> str:
    return f"{source}: answer is {size:,} bytes; the limit is {MAX_ANSWER_BYTES:,} bytes (64 KiB)"
