"""Fuzzing every input reader with hypothesis: the answer intake, batch inputs (folders, JSONL, CSV), labelled
files and bank YAML. For any input: no exception escapes but the reader's own domain error, nothing is lost
(every record is an item; graded + failed + skipped = items, and each graded or failed item is one results line),
and no file but the results file changes.

The examples are derandomized (the same ones on every run, so CI never flakes) and few enough for the whole file
to run in well under a minute on 2 cores; GRADER_FUZZ_EXAMPLES=2000 explores further by hand.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.bank.loader import Bank, load_bank
from grader.bank.validation import check_bank
from grader.calibration.labelled import LabelledDataError, read_labelled
from grader.cohort.batch import run_batch
from grader.cohort.inputs import Item, count_items, discover, split_front_matter
from grader.errors import AnswerError, BankError
from grader.intake import MAX_ANSWER_BYTES, decode_answer, lone_surrogate, parse_json_line
from grader.keyword.grader import grade_by_keywords

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("GRADER_FUZZ_EXAMPLES", "100"))
settings.register_profile(
    "fuzz",
    max_examples=EXAMPLES,
    deadline=None,  # the first grade of a rubric compiles it: timing is not what is tested here
    derandomize=True,
    database=None,  # nothing written to the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("fuzz")
QUESTIONS = ["cicd-3", "security-3", "CICD-3 ", "nope-1", ""]

# Text with the characters that break readers: quotes, separators, line breaks, NULs, BOMs, lone surrogates.
NASTY = st.sampled_from(
    ['"', '""', ",", "\n", "\r", "\r\n", "\x00", "\ufeff", "\ud800", "\udfff", "{", "[", "---\n", "question: x\n", " "]
)
TEXT = st.lists(st.one_of(st.text(max_size=12), NASTY), max_size=12).map("".join)
ANSWER = st.one_of(TEXT, st.sampled_from(["We ship a canary to 5% of traffic, then roll back.", "x" * 70_000]))


@cache
def bank() -> Bank:
    return load_bank(REPO)


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        yield Path(name)


def snapshot(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every entry below `root`: a file's bytes (a link's target, a pipe's name) and its mode."""
    seen: dict[str, tuple[bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            seen[str(path)] = (os.readlink(path), info.st_mode)
        elif path.is_file():
            seen[str(path)] = (path.read_bytes(), info.st_mode)
        else:
            seen[str(path)] = ("", info.st_mode)
    return seen


def well_formed(item: Item) -> None:
    """An item is an answer xor an error, and every string of it can be written to a results file as UTF-8."""
    assert (item.answer is None) != (item.error is None)
    for text in (item.candidate, item.question_id, item.source, item.answer or "", item.error or ""):
        text.encode("utf-8")
    if item.answer is not None:
        assert item.answer.strip() and len(item.answer.encode("utf-8")) <= MAX_ANSWER_BYTES


# --- the answer intake ---------------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.binary(max_size=300), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_decode_answer_returns_text_or_an_answer_error(data: bytes) -> None:
    try:
        text = decode_answer(data, "fuzz")
    except AnswerError as exc:
        assert str(exc).startswith("fuzz: ")
        return
    assert text.strip() and lone_surrogate(text) is None
    meta, body = split_front_matter(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()) and body in text


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.integers(0, 200).map(lambda n: b"[" * n + b"]" * n)))
def test_a_json_line_is_a_value_or_a_value_error(raw: bytes) -> None:
    try:
        parse_json_line(raw)
    except ValueError as exc:
        assert str(exc)


# --- batch inputs --------------------------------------------------------------------------------------------


SURROGATES = "surrogatepass"  # lone surrogates written as the (invalid) UTF-8 of their code points
RECORD = st.fixed_dictionaries(
    {"candidate": st.one_of(TEXT, st.integers()), "question": st.sampled_from(QUESTIONS), "answer": ANSWER}
)
JSONL_LINE = st.one_of(
    st.tuples(RECORD, st.booleans()).map(lambda r: json.dumps(r[0], ensure_ascii=r[1]).encode("utf-8", SURROGATES)),
    st.binary(max_size=80),
    st.integers(1, 3000).map(lambda n: b"[" * n),
)


@FUZZ
@given(st.lists(JSONL_LINE, max_size=8))
def test_jsonl_every_non_blank_line_is_one_item(lines: list[bytes]) -> None:
    with folder() as root:
        path = root / "in.jsonl"
        content = b"\n".join(lines)
        path.write_bytes(content)
        found = list(discover([path]))
        assert len(found) == sum(1 for line in content.split(b"\n") if line.strip()) == count_items([path])
        for item in found:
            well_formed(item)


ROW = st.tuples(TEXT, st.sampled_from(QUESTIONS), ANSWER)


def csv_bytes(rows: list[tuple[str, str, str]], bom: bool) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["candidate", "question", "answer"])
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8", "surrogatepass")


def readable(row: tuple[str, str, str]) -> bool:
    candidate, question, answer = row
    text = "".join(row)
    return (
        bool(candidate.strip() and question.strip() and answer.strip())
        and lone_surrogate(text) is None
        and "\x00" not in text
        and len(answer.encode("utf-8")) <= MAX_ANSWER_BYTES
    )


@FUZZ
@given(st.lists(ROW, max_size=8), st.booleans())
def test_csv_written_by_the_csv_module_loses_no_row(rows: list[tuple[str, str, str]], bom: bool) -> None:
    with folder() as root:
        path = root / "in.csv"
        path.write_bytes(csv_bytes(rows, bom))
        found = list(discover([path]))
        kept = [row for row in rows if any(field.strip() for field in row)]  # blank rows are no records
        assert len(found) == len(kept) == count_items([path])
        for item, row in zip(found, kept, strict=True):
            well_formed(item)
            if readable(row):
                assert item.answer == row[2] and item.candidate == row[0].strip(), item.error


@FUZZ
@given(st.lists(ROW, min_size=1, max_size=6), st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=4))))
def test_csv_damaged_anywhere_is_read_to_the_end(rows: list[tuple[str, str, str]], damage: list) -> None:
    data = bytearray(csv_bytes(rows, False))
    for position, junk in damage:
        at = position % (len(data) + 1)
        data[at : at + len(junk) // 2] = junk
    with folder() as root:
        path = root / "in.csv"
        path.write_bytes(bytes(data))
        found = list(discover([path]))
        assert len(found) == count_items([path])
        for item in found:
            well_formed(item)
            line = item.source.rsplit(":", 1)[-1]
            assert not line.isdigit() or 1 <= int(line) <= data.count(b"\n") + data.count(b"\r") + 1


NAME = st.text(alphabet="abcdeXYZ019-_.", min_size=1, max_size=8).filter(lambda name: name not in {".", ".."})
TREE = st.dictionaries(NAME, st.dictionaries(st.tuples(NAME, st.sampled_from([".md", ".txt", ".MD", ".pdf", ""])),
                                             st.binary(max_size=200), max_size=4), max_size=4)


def expected_answer_files(tree: dict[str, dict[tuple[str, str], bytes]]) -> int:
    return sum(
        1
        for candidate, files in tree.items()
        if not candidate.startswith(".")
        for name, suffix in files
        if not name.startswith(".") and suffix.lower() in (".md", ".txt") and not (name + suffix).startswith(".")
    )


@FUZZ
@given(TREE)
def test_a_folder_gives_one_item_per_answer_file(tree: dict[str, dict[tuple[str, str], bytes]]) -> None:
    with folder() as root:
        answers = root / "answers"
        answers.mkdir()
        for candidate, files in tree.items():
            (answers / candidate).mkdir(exist_ok=True)
            for name, suffix in files:
                (answers / candidate / (name + suffix)).write_bytes(files[(name, suffix)])
        found = list(discover([answers]))
        assert len(found) == expected_answer_files(tree) == count_items([answers])
        for item in found:
            well_formed(item)


@FUZZ
@given(st.lists(JSONL_LINE, max_size=5), st.lists(ROW, max_size=5), TREE)
def test_a_batch_loses_nothing_and_changes_nothing_but_its_results(
    lines: list[bytes], rows: list[tuple[str, str, str]], tree: dict[str, dict[tuple[str, str], bytes]]
) -> None:
    with folder() as root:
        answers = root / "answers"
        answers.mkdir()
        for candidate, files in tree.items():
            (answers / candidate).mkdir(exist_ok=True)
            for (name, suffix), data in files.items():
                (answers / candidate / (name + suffix)).write_bytes(data)
        os.mkfifo(answers / "pipe.md")
        (answers / "link.md").symlink_to("/etc/hostname")
        (root / "in.jsonl").write_bytes(b"\n".join(lines))
        (root / "in.csv").write_bytes(csv_bytes(rows, False))
        inputs = [answers, root / "in.jsonl", root / "in.csv"]
        before = snapshot(root)
        out = root / "results.jsonl"
        items = len(list(discover(inputs)))
        summary = run_batch(bank(), inputs, out)
        assert summary.found == items == summary.graded + summary.failed + summary.skipped
        written = out.read_bytes().decode("utf-8").split("\n")[:-1]  # a name may hold U+0085 or U+2028
        assert len(written) == summary.graded + summary.failed
        assert all(isinstance(json.loads(line), dict) for line in written)
        after = snapshot(root)
        after.pop(str(out))
        assert after == before
        again = run_batch(bank(), inputs, out)  # a rerun reads its own results back, and grades nothing new
        assert again.graded == 0 and again.found == items


# --- labelled files ------------------------------------------------------------------------------------------


LABELLED = st.fixed_dictionaries(
    {
        "question": TEXT,
        "reference": TEXT,
        "answer": ANSWER,
        "score": st.one_of(st.integers(-2, 12), st.floats(allow_nan=True), st.text(max_size=3)),
        "max_score": st.one_of(st.integers(-1, 10), st.floats(allow_nan=True)),
    }
)


@FUZZ
@given(st.lists(st.one_of(LABELLED.map(lambda r: json.dumps(r).encode()), JSONL_LINE), max_size=6))
def test_a_labelled_file_is_records_or_a_labelled_data_error(lines: list[bytes]) -> None:
    with folder() as root:
        path = root / "labelled.jsonl"
        path.write_bytes(b"\n".join(lines))
        try:
            records = read_labelled(path)
        except LabelledDataError as exc:
            assert str(exc).startswith(str(path))
            return
        assert len(records) == sum(1 for line in b"\n".join(lines).splitlines() if line.strip())
        for record in records:
            assert 0 <= record.human <= record.max_score and lone_surrogate(record.answer) is None


# --- bank YAML -----------------------------------------------------------------------------------------------

RUBRIC = (REPO / "rubrics" / "cicd-3.yaml").read_text(encoding="utf-8")
QUESTION_FILE = "category: cicd\ntitle: CI/CD\nquestions:\n  - id: cicd-3\n    text: How do you ship?\n"
YAML_JUNK = st.sampled_from(
    ["\n  - ", ": ", "\n", "[", "]", "{", "'", '"', "&a ", "*a ", "!!python/object ", "\t", "\ud800", "weight: -1\n",
     "keywords: []\n", "id: dup\n", "question_id: cicd-3\n", "\\ud800", "? [1]\n", "<<: *a\n"]
)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(RUBRIC)), st.integers(0, 40), YAML_JUNK), max_size=5))
def test_a_damaged_rubric_is_a_rubric_or_a_bank_error(edits: list[tuple[int, int, str]]) -> None:
    text = RUBRIC
    for position, cut, junk in edits:
        text = text[:position] + junk + text[position + cut :]
    with folder() as root:
        (root / "questions").mkdir()
        (root / "rubrics").mkdir()
        (root / "questions" / "02-cicd.yaml").write_text(QUESTION_FILE, encoding="utf-8")
        (root / "rubrics" / "cicd-3.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
        report = check_bank(root)
        try:
            rubric = load_bank(root).rubric("cicd-3")
        except BankError:
            return
        assert not report.errors, report.errors  # what grading accepts, `rubrics check` finds no error in
        grade_by_keywords(rubric, "We ship a canary to 5% of traffic and roll back on errors.")


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_MODEL", raising=False)
