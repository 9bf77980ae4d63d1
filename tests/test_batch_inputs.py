"""Finding batch items in folders, answer files, JSONL and CSV (grader.cohort.inputs)."""

from __future__ import annotations

import json
import os
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
    assert count_items([path]) == 3  # the progress bar's total: records, blank rows not counted


def test_csv_without_the_needed_columns_is_one_error(tmp_path: Path) -> None:
    path = write(tmp_path / "answers.csv", "name,text\nivan,hello\n")
    (item,) = items(path)
    assert "no candidate, question, answer column" in (item.error or "")
    assert item.exit_kind == "input"


def test_csv_that_is_not_utf8_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path / "answers.csv", "candidate,question,answer\nivan,cicd-3,caf\xe9\n".encode("latin-1"))
    (item,) = items(path)
    assert item.error is not None and "not UTF-8 text (byte 0xe9 on line 2)" in item.error
    assert (item.candidate, item.question_id, item.source) == ("ivan", "cicd-3", f"{path}:2")


def test_examples_cover_every_input_format() -> None:
    found = items(EXAMPLES / "answers", EXAMPLES / "answers.jsonl", EXAMPLES / "answers.csv")
    sources = {Path(i.source.rsplit(":", 1)[0]).suffix for i in found}
    assert {".md", ".txt", ".jsonl", ".csv"} <= sources
    assert sum(i.error is None for i in found) >= 12
    assert any(i.error for i in found)  # the examples show error lines too


# --- bad input: every item that cannot be read is an error naming its file and line (issue 14) ----------


def test_probe7_a_lone_surrogate_is_an_error_line_not_a_crash(tmp_path: Path) -> None:
    """Probe 7: "\\ud800" in a JSONL answer or candidate raised UnicodeEncodeError and stopped the batch."""
    path = write(
        tmp_path / "answers.jsonl",
        '{"candidate": "ann", "question": "cicd-3", "answer": "Canary \\ud800 at 5%."}\n'
        '{"candidate": "b\\udfffob", "question": "cicd-3", "answer": "Canary at 5%."}\n'
        '{"candidate": "cy", "question": "cicd-3", "answer": "Canary at 5%."}\n',
    )
    first, second, third = items(path)
    assert "the answer holds a lone surrogate (\\ud800)" in (first.error or "")
    assert "the candidate holds a lone surrogate (\\udfff)" in (second.error or "")
    assert second.candidate == "b\ufffdob"  # printable: the error line can be written as UTF-8
    assert third.error is None and third.answer == "Canary at 5%."
    for item in (first, second):
        assert (item.error or "").encode("utf-8") and item.exit_kind == "input"


def test_probe8_a_deeply_nested_line_is_one_error_line(tmp_path: Path) -> None:
    """Probe 8: a JSONL line nested 100,000 deep raised RecursionError and lost the whole read window."""
    path = write(
        tmp_path / "answers.jsonl",
        '{"candidate": "ann", "question": "cicd-3", "answer": "Canary."}\n'
        + "[" * 100_000 + "]" * 100_000 + "\n"
        + '{"candidate": "bo", "question": "cicd-3", "answer": "{{[[" , "x": ' + "[" * 40 + "]" * 40 + "}\n",
    )
    first, second, third = items(path)
    assert first.answer == "Canary."
    assert second.source.endswith(":2") and "nested more than 64 levels deep" in (second.error or "")
    assert third.answer == "{{[["  # brackets inside strings do not count as nesting


def test_a_jsonl_line_past_the_bound_is_one_error(tmp_path: Path) -> None:
    good = b'{"candidate": "a", "question": "q", "answer": "y"}'
    path = write(tmp_path / "answers.jsonl", b"x" * (1 << 20) + b"\n" + good)
    first, second = items(path)
    assert "longer than 256 KiB" in (first.error or "") and second.answer == "y"


def unreadable(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make `folder` fail to list, as a folder without read permission does (even when the tests run as root)."""
    import grader.cohort.inputs as inputs

    real = os.scandir

    def scandir(path: str) -> object:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(inputs.os, "scandir", scandir)


def test_probe4_an_unreadable_candidate_folder_is_an_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probe 4: an unreadable candidate folder was skipped without a word (6 of 8 answers found)."""
    for candidate in ("ann", "bob", "cy", "dee"):
        for question in ("cicd-3", "security-3"):
            write(tmp_path / candidate / f"{question}.md", f"{candidate} answers {question}.")
    unreadable(monkeypatch, tmp_path / "bob")
    found = items(tmp_path)
    assert len(found) == 7 and count_items([tmp_path]) == 7
    (error,) = [i for i in found if i.error]
    assert error.source == str(tmp_path / "bob") and error.candidate == "bob"
    assert "cannot read this folder: Permission denied; its answers were not graded" in (error.error or "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder; the monkeypatched test above covers it")
def test_probe4_a_folder_without_read_permission(tmp_path: Path) -> None:
    write(tmp_path / "ann" / "cicd-3.md", "Canary.")
    write(tmp_path / "bob" / "cicd-3.md", "Canary.")
    (tmp_path / "bob").chmod(0)
    try:
        found = items(tmp_path)
    finally:
        (tmp_path / "bob").chmod(0o755)
    assert [(i.candidate, i.error is None) for i in found] == [("ann", True), ("bob", False)]


def test_probe10_pipes_and_devices_named_like_answers_are_error_lines(tmp_path: Path) -> None:
    """Probe 10: a FIFO named *.md in an input folder blocked the batch forever."""
    write(tmp_path / "ann" / "cicd-3.md", "Canary.")
    os.mkfifo(tmp_path / "ann" / "security-3.md")
    fifo_jsonl = tmp_path / "more.jsonl"
    os.mkfifo(fifo_jsonl)
    found = items(tmp_path / "ann", fifo_jsonl)
    assert [i.answer for i in found] == ["Canary.", None, None]
    assert "a named pipe, not a regular file" in (found[1].error or "")
    assert found[1].question_id == "security-3"
    assert "a named pipe, not a regular file" in (found[2].error or "")
    assert count_items([tmp_path / "ann", fifo_jsonl]) == 3


def outside_secret(tmp_path: Path) -> Path:
    secret = write(tmp_path / "elsewhere" / "secret.md", "TOP SECRET canary credentials")
    secret.chmod(0o600)
    return secret


def test_probe12_symlinks_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    """Probe 12: `grade batch DIR` followed links out of DIR and quoted their text (e.g. /etc/shadow)."""
    root = tmp_path / "answers"
    write(root / "ann" / "cicd-3.md", "Canary.")
    (root / "ann" / "security-3.md").symlink_to(outside_secret(tmp_path))
    (root / "bob").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "ann" / "notes.pdf").symlink_to(tmp_path / "elsewhere" / "secret.md")  # not an answer: skipped
    found = items(root)
    assert [(i.candidate, i.question_id, i.answer) for i in found] == [
        ("bob", UNKNOWN, None),  # the root's entries come before its sub-folders'
        ("ann", "cicd-3", "Canary."),
        ("ann", "security-3", None),
    ]
    assert all("a symbolic link, not followed (pass --follow-symlinks" in (i.error or "") for i in (found[0], found[2]))
    assert not any("SECRET" in repr(i) for i in found)


def test_follow_symlinks_reads_links_and_each_folder_once(tmp_path: Path) -> None:
    root = tmp_path / "answers"
    write(root / "ann" / "cicd-3.md", "Canary.")
    (root / "ann" / "security-3.md").symlink_to(outside_secret(tmp_path))
    (root / "ann" / "loop").symlink_to(root, target_is_directory=True)
    (root / "bob").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = list(discover([root], follow_symlinks=True))
    expected = [("ann", "cicd-3"), ("ann", "security-3"), ("bob", "secret")]
    assert [(i.candidate, i.question_id) for i in found] == expected
    assert all(i.error is None for i in found)


def test_a_link_given_as_the_input_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "real" / "ann" / "cicd-3.md", "Canary.")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    write(tmp_path / "one.md", "Blue-green.")
    (tmp_path / "cicd-3.md").symlink_to(tmp_path / "one.md")
    assert [i.answer for i in items(tmp_path / "link", tmp_path / "cicd-3.md")] == ["Canary.", "Blue-green."]
