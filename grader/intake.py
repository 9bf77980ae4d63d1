"""Reading an answer safely: size limit, binary and encoding checks, one clear error for each; and one line of a
JSON Lines input, with its nesting bounded and no lone surrogates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, BinaryIO

from grader.errors import AnswerError
from grader.files import NotRegularFileError, read_regular

MAX_ANSWER_BYTES = 64 * 1024  # about 10,000 words; interview answers are far shorter
_CONTROL = bytes(b for b in range(32) if b not in {9, 10, 12, 13})  # control bytes text does not hold


def read_answer_file(path: Path) -> str:
    """The text of an answer file, or an AnswerError saying exactly what is wrong with it.

    Only a regular file is read (a named pipe or a device is refused before a byte is read: read a pipe with
    `--file -`), and never more than one byte past the limit.
    """
    try:
        data = read_limited(path)
    except FileNotFoundError:
        raise AnswerError(f"{path}: no such file") from None
    except NotRegularFileError as exc:
        if exc.kind == "a folder":
            raise AnswerError(f"{path}: is a directory, not an answer file") from None
        raise AnswerError(f"{path}: cannot read: {exc.strerror} (pipe an answer in with --file -)") from None
    except OSError as exc:
        raise AnswerError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_ANSWER_BYTES:
        raise AnswerError(_too_large(str(path), max(len(data), _size(path))))
    return decode_answer(data, str(path))


def read_limited(path: str | Path, *, follow_symlinks: bool = True, checked: bool = False) -> bytes:
    """The bytes of a regular file, at most one more than MAX_ANSWER_BYTES (enough to tell it is too large).

    OSError is left to the caller; NotRegularFileError (an OSError) for a pipe, a device, a folder, or a symbolic
    link when `follow_symlinks` is off. `checked`: the caller has just seen the path is a regular file.
    """
    return read_regular(path, MAX_ANSWER_BYTES, follow_symlinks=follow_symlinks, checked=checked)


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _too_large(source: str, size: int) -> str:
    return f"{source}: answer is {size:,} bytes; the limit is {MAX_ANSWER_BYTES:,} bytes (64 KiB)"


# --- records of JSON Lines inputs ---------------------------------------------------------------

MAX_JSON_DEPTH = 64  # an input record is an object of strings and numbers; deeper nesting is not a record
_OPENERS = (ord("["), ord("{"))
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json_line(raw: bytes) -> Any:
    """The JSON value of one line; a ValueError with a short message when it is not JSON, is nested deeper than
    MAX_JSON_DEPTH (checked before parsing, so parsing never recurses without bound) or holds a lone surrogate
    escape such as "\\ud800", which no text can hold."""
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(raw) > MAX_JSON_DEPTH:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        value = json.loads(raw)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:
        raise ValueError(str(exc).splitlines()[0][:120]) from None
    return value


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text`, written as an escape (`\\ud800`), or None when it is proper text."""
    found = _LONE_SURROGATE.search(text)
    return None if found is None else f"\\u{ord(found.group()):04x}"


def printable(text: str) -> str:
    """`text` with any lone surrogate replaced by U+FFFD, so that it can be written as UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b"", raw)):
        if bracket[0] in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
