"""Finding batch items in folders, answer files, JSONL and CSV (grader.cohort.inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.cohort.inputs import UNKNOWN, Item, count_items, discover, input_kind, split_front_matter
from grader.intake import MAX_ANSWER_BYTES

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "batch"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def items(*paths: Path) -> list[Item]:
    return list(discover(paths))


@pytest.mark.parametrize(
    ("text", "meta", "body"),
    [
        pytest.param("Just an answer.\n", {}, "Just an answer.\n", id="no-front-matter"),
        pytest.param(
            "---\nquestion: cicd-3\ncandidate: Alice B\n---\nThe answer.\n",
            {"question": "cicd-3", "candidate": "Alice B"},
            "The answer.\n",
            id="dashed-block",
        ),
        pytest.param(
            "---\r\nquestion: 'cicd-3'\r\ntitle: ignored but kept\r\n---\r\nBody\r\n",
            {"question": "cicd-3", "title": "ignored but kept"},
            "Body\r\n",
            id="dashed-block-crlf-quoted",
        ),
        pytest.param("question: cicd-3\n\nThe answer.\n", {"question": "cicd-3"}, "\nThe answer.\n", id="bare-line"),
        pytest.param(
            "Question: How do canaries work?\nThey shift traffic.\n",
            {},
            "Question: How do canaries work?\nThey shift traffic.\n",
            id="prose-question-line-is-answer-text",
        ),
        pytest.param(
            "candidate: bob\nquestion: security-3\nWe scan images.\n",
            {"candidate": "bob", "question": "security-3"},
            "We scan images.\n",
            id="two-bare-lines",
        ),
        pytest.param("---\nno closing fence\n", {}, "---\nno closing fence\n", id="unclosed-block-is-text"),
    ],
)
def test_split_front_matter(text: str, meta: dict[str, str], body: str) -> None:
    assert split_front_matter(text) == (meta, body)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("a.md", "answer", id="md"),
        pytest.param("a.TXT", "answer", id="txt-upper"),
        pytest.param("a.jsonl", "jsonl", id="jsonl"),
        pytest.param("a.csv", "csv", id="csv"),
        pytest.param("a.pdf", None, id="unsupported"),
    ],
)
def test_input_kind(tmp_path: Path, name: str, kind: str | None) -> None:
    assert input_kind(tmp_path / name) == kind


def test_tree_takes_candidate_from_folder_and_question_from_file_name(tmp_path: Path) -> None:
    root = tmp_path / "answers"
    write(root / "alice" / "cicd-3.md", "Blue-green with two environments.\n")
    write(root / "alice" / "Security-3.txt", "We scan with Trivy.\n")
    write(root / "bob" / "notes.md", "---\nquestion: cicd-3\ncandidate: robert\n---\nCanary releases.\n")
    write(root / "bob" / "image.png", b"\x89PNG")
    write(root / ".hidden" / "cicd-3.md", "skipped\n")
    write(root / "bob" / ".draft.md", "skipped\n")
    found = items(root)
    assert [(i.candidate, i.question_id, Path(i.source).name, i.answer) for i in found] == [
        ("alice", "cicd-3", "cicd-3.md", "Blue-green with two environments.\n"),
        ("alice", "security-3", "Security-3.txt", "We scan with Trivy.\n"),
        ("robert", "cicd-3", "notes.md", "Canary releases.\n"),
    ]
    assert count_items([root]) == 3


def test_single_answer_file_uses_its_folder_as_candidate(tmp_path: Path) -> None:
    path = write(tmp_path / "carol" / "cicd-3.md", "Rolling updates.\n")
    (item,) = items(path)
    assert (item.candidate, item.question_id, item.answer) == ("carol", "cicd-3", "Rolling updates.\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "the answer is empty", id="empty"),
        pytest.param(b"---\nquestion: cicd-3\n---\n   \n", "the answer is empty", id="only-front-matter"),
        pytest.param(b"\x00\x01\x02binary", "binary", id="binary"),
        pytest.param(b"caf\xe9 latin-1", "not UTF-8", id="not-utf8"),
        pytest.param(b"x" * (MAX_ANSWER_BYTES + 1), "the limit is", id="too-large"),
    ],
)
def test_bad_answer_file_becomes_an_error_item(tmp_path: Path, content: bytes, message: str) -> None:
    write(tmp_path / "dave" / "cicd-3.md", content)
    (item,) = items(tmp_path)
    assert item.answer is None
    assert message in (item.error or "")
    assert (item.candidate, item.question_id, item.exit_kind) == ("dave", "cicd-3", "answer")


def test_jsonl_items_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"candidate": "erin", "question": "CICD-3", "answer": "Canary at 5%."}),
        "",
        json.dumps({"candidate": 42, "question_id": "security-3", "answer": "Trivy in CI."}),
        json.dumps({"candidate": "farid", "question": "cicd-3"}),
        json.dumps(["not", "an", "object"]),
        '{"candidate": "gwen", "question": "cicd-3", "answer": "torn',
        json.dumps({"candidate": "hana", "question": "cicd-3", "answer": "  "}),
    ]
    path = write(tmp_path / "answers.jsonl", "\n".join(lines) + "\n")
    found = items(path)
    assert [(i.candidate, i.question_id, i.source.rsplit(":", 1)[1]) for i in found] == [
        ("erin", "cicd-3", "1"),
        ("42", "security-3", "3"),
        ("farid", "cicd-3", "4"),
        (UNKNOWN, UNKNOWN, "5"),
        (UNKNOWN, UNKNOWN, "6"),
        ("hana", "cicd-3", "7"),
    ]
    assert [i.answer for i in found[:2]] == ["Canary at 5%.", "Trivy in CI."]
    assert "missing answer" in (found[2].error or "")
    assert "expected an object" in (found[3].error or "")
    assert "not a JSON object" in (found[4].error or "")
    assert "empty" in (found[5].error or "")
    assert count_items([path]) == 6


def test_csv_items_with_multiline_answers_and_line_numbers(tmp_path: Path) -> None:
    text = (
        "Candidate,Question,Answer,notes\n"
        'ivan,cicd-3,"Blue-green:\n\ntwo environments, one switch.",x\n'
        "\n"
        "jane,security-3,Patching by rebuilding images.,\n"
        "kim,,No question here.,\n"
    )
    path = write(tmp_path / "answers.csv", text)
    found = items(path)
    assert [(i.candidate, i.question_id, i.source.rsplit(":", 1)[1]) for i in found] == [
        ("ivan", "cicd-3", "2"),
        ("jane", "security-3", "6"),
        ("kim", UNKNOWN, "7"),
    ]
    assert found[0].answer == "Blue-green:\n\ntwo environments, one switch."
    assert "missing question" in (found[2].error or "")
    assert count_items([path]) == 4  # a quick count for the progress bar: blank rows count too


def test_csv_without_the_needed_columns_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path / "answers.csv", "name,text\nivan,hello\n")
    (item,) = items(path)
    assert "no candidate, question, answer column" in (item.error or "")
    assert item.exit_kind == "input"


def test_csv_that_is_not_utf8_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path / "answers.csv", "candidate,question,answer\nivan,cicd-3,caf\xe9\n".encode("latin-1"))
    found = items(path)
    assert found[-1].error is not None and "cannot read the CSV" in found[-1].error


def test_examples_cover_every_input_format() -> None:
    found = items(EXAMPLES / "answers", EXAMPLES / "answers.jsonl", EXAMPLES / "answers.csv")
    sources = {Path(i.source.rsplit(":", 1)[0]).suffix for i in found}
    assert {".md", ".txt", ".jsonl", ".csv"} <= sources
    assert sum(i.error is None for i in found) >= 12
    assert any(i.error for i in found)  # the examples show error lines too
