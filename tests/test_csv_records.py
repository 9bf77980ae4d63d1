"""Reading CSV record by record (grader.cohort.csv_records): a bad record costs that record only (probe 1)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from grader.cohort.csv_records import MAX_RECORD_BYTES, Record, read_records
from grader.cohort.inputs import UNKNOWN, Item, discover
from grader.intake import MAX_ANSWER_BYTES

HEADER = "candidate,question,answer\n"


def records(data: bytes) -> list[Record]:
    return list(read_records(io.BytesIO(data)))


def rows(count: int) -> list[str]:
    return [f"cand{n},cicd-3,Answer number {n} about canaries.\n" for n in range(1, count + 1)]


def csv_items(tmp_path: Path, data: bytes) -> list[Item]:
    path = tmp_path / "answers.csv"
    path.write_bytes(data)
    return list(discover([path]))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"a,b,c\n", [Record(1, ["a", "b", "c"])], id="plain"),
        pytest.param(b"a,b,c", [Record(1, ["a", "b", "c"])], id="no-final-newline"),
        pytest.param(b"a,,\r\n", [Record(1, ["a", "", ""])], id="crlf-empty-fields"),
        pytest.param(b'"x, y","say ""hi""",z\n', [Record(1, ["x, y", 'say "hi"', "z"])], id="quotes-and-commas"),
        pytest.param(b'a,"two\nlines",c\nd,e,f\n', [Record(1, ["a", "two\nlines", "c"]), Record(3, ["d", "e", "f"])],
                     id="multi-line-field"),
        pytest.param(b"a,b\rc,d\r", [Record(1, ["a", "b"]), Record(2, ["c", "d"])], id="lone-cr-ends-a-line"),
        pytest.param(b"\n,,\n a , b \n", [Record(3, [" a ", " b "])], id="blank-records-skipped"),
        pytest.param(b"\xef\xbb\xbfa,b\n", [Record(1, ["a", "b"])], id="bom-dropped"),
        pytest.param(b'a,he said "hi,c\n', [Record(1, ["a", 'he said "hi', "c"])], id="quote-inside-unquoted"),
    ],
)
def test_well_formed_records(data: bytes, expected: list[Record]) -> None:
    assert records(data) == expected


@pytest.mark.parametrize(
    ("data", "line", "message", "then"),
    [
        pytest.param(b'a,"open\nb,c,d\n', 1, "never closes (the file ends)", [Record(2, ["b", "c", "d"])],
                     id="unterminated-quote-at-the-end"),
        pytest.param(b'a,"open\nb,c,"x"\n', 1, "text after its closing quote (on line 2)",
                     [Record(2, ["b", "c", "x"])], id="quote-closed-by-the-next-row"),
        pytest.param(b'a,"x"y,z\nb,c,d\n', 1, "field 2 has text after its closing quote",
                     [Record(2, ["b", "c", "d"])], id="text-after-closing-quote"),
        pytest.param(b"a,caf\xe9,c\nb,c,d\n", 1, "byte 0xe9 on line 1", [Record(2, ["b", "c", "d"])],
                     id="bad-byte"),
        pytest.param(b'a,"two\nlin\xffes"\nb,c\n', 1, "byte 0xff on line 2", [Record(3, ["b", "c"])],
                     id="bad-byte-on-a-continuation-line"),
    ],
)
def test_a_bad_record_costs_that_record_only(data: bytes, line: int, message: str, then: list[Record]) -> None:
    first, *rest = records(data)
    assert first.line == line and message in (first.error or "")
    assert rest == then


def test_a_line_past_the_bound_is_one_error_and_never_held_whole() -> None:
    data = b"a,b\n" + b"x" * (3 * MAX_RECORD_BYTES) + b"\nc,d\n"
    assert [(r.line, r.fields, r.error is not None) for r in records(data)] == [
        (1, ["a", "b"], False),
        (2, None, True),
        (3, ["c", "d"], False),
    ]


def test_an_open_quote_stops_at_the_record_bound_and_the_rows_it_took_are_read() -> None:
    body = b"".join(b"row%d,q,text\n" % n for n in range(MAX_RECORD_BYTES // 10))
    first, second, *rest = records(b'a,"never closed\n' + body)
    assert first.line == 1 and "never closes (it runs past 256 KiB)" in (first.error or "")
    assert second == Record(2, ["row0", "q", "text"])
    assert len(rest) == MAX_RECORD_BYTES // 10 - 1


def test_probe1_an_oversized_field_costs_only_its_row(tmp_path: Path) -> None:
    """Probe 1: a field over 131,072 characters in row 2 of 5 used to stop the reading (rows 3-5 lost)."""
    lines = rows(5)
    lines[1] = f'cand2,cicd-3,"{"y" * 131_073}"\n'
    found = csv_items(tmp_path, (HEADER + "".join(lines)).encode())
    assert [i.source.rsplit(":", 1)[1] for i in found] == ["2", "3", "4", "5", "6"]
    assert [i.error is None for i in found] == [True, False, True, True, True]
    assert "the limit is" in (found[1].error or "") and found[1].candidate == "cand2"


def test_probe1_a_bad_byte_costs_only_its_row_and_names_its_line(tmp_path: Path) -> None:
    """Probe 1: one non-UTF-8 byte in row 2 lost rows 1 and 3-5 and named "line 0"."""
    lines = rows(5)
    data = (HEADER + "".join(lines)).encode().replace(b"Answer number 2", b"Answer n\xfamber 2")
    found = csv_items(tmp_path, data)
    assert [i.candidate for i in found] == ["cand1", "cand2", "cand3", "cand4", "cand5"]
    assert [i.error is None for i in found] == [True, False, True, True, True]
    assert found[1].error == f"{tmp_path / 'answers.csv'}:3: not UTF-8 text (byte 0xfa on line 3); save it as UTF-8"


def test_probe1_a_bad_byte_deep_in_the_file_loses_no_other_row(tmp_path: Path) -> None:
    """Probe 1: a bad byte at row 200 of 400 lost rows 168-399 (a whole decoding chunk and everything after)."""
    lines = rows(400)
    lines[199] = lines[199].replace("Answer", "Answ\udcffer").encode("utf-8", "surrogateescape").decode("latin-1")
    found = csv_items(tmp_path, (HEADER + "".join(lines)).encode("latin-1"))
    assert len(found) == 400
    assert [i.candidate for i in found if i.error is not None] == ["cand200"]
    assert found[199].source.endswith(":201")


def test_probe1_an_unterminated_quote_does_not_swallow_the_next_rows(tmp_path: Path) -> None:
    """Probe 1: an unterminated quote made the next row part of the answer."""
    lines = rows(4)
    lines[1] = 'cand2,cicd-3,"We roll out canaries\n'
    found = csv_items(tmp_path, (HEADER + "".join(lines)).encode())
    assert [(i.candidate, i.answer) for i in found] == [
        ("cand1", "Answer number 1 about canaries."),
        (UNKNOWN, None),
        ("cand3", "Answer number 3 about canaries."),
        ("cand4", "Answer number 4 about canaries."),
    ]
    assert "never closes" in (found[1].error or "") and found[1].source.endswith(":3")


def test_more_fields_than_the_header_is_an_error_not_a_cut_answer(tmp_path: Path) -> None:
    found = csv_items(tmp_path, (HEADER + "ann,cicd-3,We use canaries, then blue-green\n").encode())
    (item,) = found
    assert item.answer is None and "4 fields where the header names 3" in (item.error or "")
    assert (item.candidate, item.question_id) == ("ann", "cicd-3")


def test_a_header_that_cannot_be_read_is_one_error(tmp_path: Path) -> None:
    (item,) = csv_items(tmp_path, b"candid\xffate,question,answer\nann,cicd-3,Canary.\n")
    assert "cannot read the header row" in (item.error or "") and item.exit_kind == "input"


def test_an_answer_at_the_limit_fits_in_a_record(tmp_path: Path) -> None:
    answer = '"' * MAX_ANSWER_BYTES  # every character a quote: doubled in the file
    quoted = '"' + answer.replace('"', '""') + '"'
    (item,) = csv_items(tmp_path, (HEADER + f"ann,cicd-3,{quoted}\n").encode())
    assert item.error is None and item.answer == answer
