"""Reading a CSV file record by record, so that a bad record costs that record only.

The `csv` module stops at the first record it cannot read (a field over its size limit, a byte that is not
UTF-8 in the chunk it decodes, a quote it does not expect), and an unterminated quote makes it read the next
rows into the answer. This reader follows RFC 4180 (fields separated by commas; a field that starts with a
quote runs to the quote that closes it, `""` inside it being one quote, line breaks included) and reads one
physical line at a time, each decoded on its own:

- a record with a byte that is not UTF-8, a stray quote after a closing quote, or more than MAX_RECORD_BYTES is
  a `Record` with `error` set, naming the line it starts on;
- a quoted field that never closes properly (the end of the file, or text right after the quote that seemed to
  close it) is an error for the record it opens, and reading starts again on the line after that record's
  first line, so the rows it would have swallowed are read as rows;
- memory is bounded: no line or record is held past MAX_RECORD_BYTES.

Line numbers count physical lines as the `csv` module does (a lone carriage return ends a line too).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from grader.files import bounded_lines
from grader.intake import MAX_ANSWER_BYTES

MAX_RECORD_BYTES = 4 * MAX_ANSWER_BYTES  # an answer at the limit, every character a doubled quote, and the rest

_QUOTED = re.compile(r'"((?:[^"]++|"")*+)"')
_UNQUOTED = re.compile(r"[^,\r\n]*+")
_LONE_CR = re.compile(rb"\r(?!\n)")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, kept by surrogateescape


@dataclass(frozen=True, slots=True)
class Record:
    """The fields of one record (`error` None), or why it cannot be read (`fields` as far as they were read)."""

    line: int
    fields: list[str] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    text: str
    whole: bool  # False: longer than MAX_RECORD_BYTES, cut


class _Malformed(Exception):
    def __init__(self, field: int, position: int) -> None:
        super().__init__(field, position)
        self.field = field
        self.position = position


def read_records(handle: BinaryIO) -> Iterator[Record]:
    """Every non-blank record of the CSV file open in `handle`, header included, in order."""
    lines = _Lines(handle)
    for first in lines:
        if not first.whole:
            yield Record(first.number, error=_too_long(first.number))
            continue
        record = _record(first, lines)
        if record is not None:
            yield record


def _record(first: _Line, lines: _Lines) -> Record | None:
    """The record that starts on `first` (None for a blank line), reading on while a quoted field is open."""
    taken = [first]
    text = first.text
    size = len(text)
    while True:
        try:
            fields = _split(text)
        except _Malformed as exc:
            lines.push_back(taken[1:])
            where = first.number + _line_breaks(text[: exc.position])
            return Record(
                first.number,
                error=f"field {exc.field} has text after its closing quote (on line {where}): a quote that does not "
                "close, or a quote inside a quoted field that is not doubled",
            )
        if fields is not None:
            break
        while True:  # a quoted field is open: take lines until one holds a quote that may close it
            following = lines.next()
            if following is None or not following.whole or size + len(following.text) > MAX_RECORD_BYTES:
                lines.push_back([*taken[1:], *([following] if following is not None else [])])
                why = "the file ends" if following is None else f"it runs past {MAX_RECORD_BYTES // 1024} KiB"
                return Record(first.number, error=f"a quoted field opened on line {first.number} never closes ({why})")
            taken.append(following)
            text += following.text
            size += len(following.text)
            if '"' in following.text:
                break
    if not any(field.strip() for field in fields):
        return None
    bad = _ESCAPED_BYTE.search(text)
    if bad is not None:
        line = first.number + _line_breaks(text[: bad.start()])
        byte = ord(bad.group()) - 0xDC00
        return Record(first.number, fields, f"not UTF-8 text (byte 0x{byte:02x} on line {line}); save it as UTF-8")
    return Record(first.number, fields)


def _split(text: str) -> list[str] | None:
    """The fields of a record's text; None while a quoted field is still open; _Malformed for text after a
    closing quote."""
    fields: list[str] = []
    position, end = 0, len(text)
    while True:
        if position < end and text[position] == '"':
            quoted = _QUOTED.match(text, position)
            if quoted is None:
                return None
            fields.append(quoted.group(1).replace('""', '"'))
            position = quoted.end()
            if position < end and text[position] not in ",\r\n":
                raise _Malformed(len(fields), position)
        else:
            plain = _UNQUOTED.match(text, position)
            assert plain is not None  # it matches the empty string
            fields.append(plain.group())
            position = plain.end()
        if position >= end or text[position] != ",":
            return fields
        position += 1


class _Lines:
    """The physical lines of a file, decoded one by one (bytes that are not UTF-8 kept as surrogate escapes),
    with lines pushed back to be read again."""

    def __init__(self, handle: BinaryIO) -> None:
        self._source = self._read(handle)
        self._pending: deque[_Line] = deque()

    def __iter__(self) -> Iterator[_Line]:
        while (line := self.next()) is not None:
            yield line

    def next(self) -> _Line | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._source, None)

    def push_back(self, lines: list[_Line]) -> None:
        self._pending.extendleft(reversed(lines))

    @staticmethod
    def _read(handle: BinaryIO) -> Iterator[_Line]:
        number = 0
        first = True
        for _, raw, whole in bounded_lines(handle, MAX_RECORD_BYTES):
            if first:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                first = False
            pieces = _LONE_CR.split(raw) if b"\r" in raw else [raw]
            last = len(pieces) - 1
            for index, piece in enumerate(pieces):
                if index < last:
                    piece += b"\r"
                elif not piece and index:
                    break  # the line ended with a lone carriage return
                number += 1
                yield _Line(number, piece.decode("utf-8", "surrogateescape"), whole)


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _too_long(number: int) -> str:
    return f"line {number} is longer than {MAX_RECORD_BYTES // 1024} KiB (an answer is at most 64 KiB)"
