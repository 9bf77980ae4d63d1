"""Reading answers: every bad input gets one clear AnswerError."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from grader.errors import AnswerError
from grader.intake import MAX_ANSWER_BYTES, decode_answer, read_answer_file, read_answer_stream, read_limited


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "the answer is empty", id="empty"),
        pytest.param(b"  \n\t \n", "the answer is empty", id="whitespace"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary", id="binary-nul"),
        pytest.param(bytes(range(1, 9)) * 50, "binary", id="binary-control"),
        pytest.param(
            "caf\u00e9".encode("latin-1") + b" answer", "not UTF-8 text (byte 0xe9 at offset 3)", id="latin-1"
        ),
        pytest.param(b"x" * (MAX_ANSWER_BYTES + 1), "the limit is 65,536 bytes", id="too-large"),
    ],
)
def test_bad_answers(data: bytes, message: str) -> None:
    with pytest.raises(AnswerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_answer(data, "a.txt")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        pytest.param(b"plain answer", "plain answer", id="ascii"),
        pytest.param("\ufeffwith BOM".encode(), "with BOM", id="bom-dropped"),
        pytest.param("caf\u00e9 \u2014 \u00fcber".encode(), "caf\u00e9 \u2014 \u00fcber", id="utf-8"),
    ],
)
def test_good_answers(data: bytes, text: str) -> None:
    assert decode_answer(data, "a.txt") == text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AnswerError, match="no such file"):
        read_answer_file(tmp_path / "nope.md")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AnswerError, match="is a directory"):
        read_answer_file(tmp_path)


def test_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"a" * (10 * MAX_ANSWER_BYTES))
    with pytest.raises(AnswerError, match="655,360 bytes"):
        read_answer_file(path)


def test_stream_over_the_limit() -> None:
    with pytest.raises(AnswerError, match="limit"):
        read_answer_stream(io.BytesIO(b"a" * (MAX_ANSWER_BYTES + 10)))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        pytest.param(0, 0, id="empty"),
        pytest.param(900, 900, id="typical"),
        pytest.param(MAX_ANSWER_BYTES, MAX_ANSWER_BYTES, id="at-the-limit"),
        pytest.param(MAX_ANSWER_BYTES + 1, MAX_ANSWER_BYTES + 1, id="one-over"),
        pytest.param(3 * MAX_ANSWER_BYTES, MAX_ANSWER_BYTES + 1, id="far-over"),
    ],
)
def test_read_limited_reads_the_file_or_one_byte_past_the_limit(tmp_path: Path, size: int, expected: int) -> None:
    path = tmp_path / "a.md"
    data = bytes(ord("a") + i % 26 for i in range(size))
    path.write_bytes(data)
    assert read_limited(path) == data[:expected]


def test_probe10_a_named_pipe_with_no_writer_is_refused_at_once(tmp_path: Path) -> None:
    """Probe 10: `--file` naming a FIFO nobody writes to used to block forever; it is refused before any read."""
    import os

    fifo = tmp_path / "answer.md"
    os.mkfifo(fifo)
    with pytest.raises(AnswerError, match="a named pipe, not a regular file"):
        read_answer_file(fifo)


def test_probe10_a_device_is_refused_without_reading(tmp_path: Path) -> None:
    """Probe 10: /dev/zero (or a link to it) used to be read without end."""
    link = tmp_path / "zero.md"
    link.symlink_to("/dev/zero")
    for path in (Path("/dev/zero"), link):
        with pytest.raises(AnswerError, match="a character device, not a regular file"):
            read_answer_file(path)
