"""Reading answers: every bad input gets one clear AnswerError."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from grader.errors import AnswerError
from grader.intake import MAX_ANSWER_BYTES, decode_answer, read_answer_file, read_answer_stream


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
