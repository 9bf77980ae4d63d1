"""The start-up cache: same results from the cache, invalidated by edits, damaged entries ignored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import disk_cache
from grader.bank.loader import load_bank
from grader.keyword.grader import _COMPILED, grade_by_keywords

REPO = Path(__file__).resolve().parent.parent
ANSWER = (REPO / "examples" / "answers" / "cicd-3.md").read_text(encoding="utf-8")


def copy_bank(tmp_path: Path) -> Path:
    root = tmp_path / "bank"
    shutil.copytree(REPO / "questions", root / "questions")
    shutil.copytree(REPO / "rubrics", root / "rubrics")
    return root


def cache_files(home: Path) -> list[str]:
    folder = home / disk_cache.CACHE_DIR
    return sorted(p.name.split("-")[0] for p in folder.iterdir()) if folder.is_dir() else []


def test_cached_bank_and_rubric_grade_identically(tmp_path: Path, grader_home: Path) -> None:
    root = copy_bank(tmp_path)
    first = grade_by_keywords(load_bank(root).rubric("cicd-3"), ANSWER)
    assert cache_files(grader_home) == ["compiled", "questions", "rubric"]
    _COMPILED.clear()
    second_bank = load_bank(root)
    assert list(second_bank.questions) == list(load_bank(REPO).questions)
    second = grade_by_keywords(second_bank.rubric("cicd-3"), ANSWER)
    assert second.model_dump() == first.model_dump()


def test_an_edited_rubric_is_read_again(tmp_path: Path) -> None:
    root = copy_bank(tmp_path)
    version = load_bank(root).rubric("cicd-3").version
    assert version != 7
    path = root / "rubrics" / "cicd-3.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"version: {version}", "version: 7", 1), encoding="utf-8")
    assert load_bank(root).rubric("cicd-3").version == 7


def test_an_edited_question_file_is_read_again(tmp_path: Path) -> None:
    root = copy_bank(tmp_path)
    load_bank(root)
    path = root / "questions" / "02-cicd.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("blue-green or canary", "canary or blue-green"), encoding="utf-8")
    assert load_bank(root).question("cicd-3").text == "How do you handle canary or blue-green deployments?"


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"\x80\x05N."], ids=["empty", "text", "none"])
def test_damaged_entries_are_ignored(tmp_path: Path, grader_home: Path, garbage: bytes) -> None:
    root = copy_bank(tmp_path)
    expected = load_bank(root).rubric("cicd-3")
    for entry in (grader_home / disk_cache.CACHE_DIR).iterdir():
        entry.write_bytes(garbage)
    _COMPILED.clear()
    bank = load_bank(root)
    assert bank.rubric("cicd-3") == expected
    assert grade_by_keywords(bank.rubric("cicd-3"), ANSWER).score > 0


def test_unwritable_home_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GRADER_HOME", str(blocker))
    assert load_bank(copy_bank(tmp_path)).rubric("cicd-3").question_id == "cicd-3"
