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
    return sorted(p.name.split("-")[0] for p in folder.glob("*.pickle")) if folder.is_dir() else []


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
    for entry in (grader_home / disk_cache.CACHE_DIR).glob("*.pickle"):
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


# --- a cache that cannot run code and is never stale (issue 14, probe 13) ----------------------------------


class Payload:
    """Unpickling this runs `open(marker, "w")`: what a crafted pickle would do, made visible."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("signed_as", ["plain-pickle", "forged-signature"])
def test_probe13_a_crafted_pickle_in_the_cache_never_runs(tmp_path: Path, grader_home: Path, signed_as: str) -> None:
    """Probe 13: a crafted pickle dropped in $GRADER_HOME/cache ran its code on the next `grade answer`."""
    import pickle

    root = copy_bank(tmp_path)
    expected = load_bank(root).rubric("cicd-3")
    marker = tmp_path / "code-ran"
    crafted = pickle.dumps(Payload(marker))
    if signed_as == "forged-signature":
        crafted = disk_cache.MAGIC + b"\0" * 32 + crafted
    for entry in (grader_home / disk_cache.CACHE_DIR).glob("*.pickle"):
        entry.write_bytes(crafted)
    _COMPILED.clear()
    bank = load_bank(root)
    assert bank.rubric("cicd-3") == expected
    assert grade_by_keywords(bank.rubric("cicd-3"), ANSWER).score > 0
    assert not marker.exists()


def test_probe13_entries_are_signed_and_the_key_is_private(grader_home: Path, tmp_path: Path) -> None:
    load_bank(copy_bank(tmp_path)).rubric("cicd-3")
    key = grader_home / disk_cache.CACHE_DIR / disk_cache.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600 and key.stat().st_size == disk_cache.KEY_BYTES
    for entry in (grader_home / disk_cache.CACHE_DIR).glob("*.pickle"):
        assert entry.read_bytes().startswith(disk_cache.MAGIC)


def test_a_key_others_can_read_is_not_trusted(grader_home: Path, tmp_path: Path) -> None:
    (grader_home / disk_cache.CACHE_DIR).mkdir(parents=True)
    key = grader_home / disk_cache.CACHE_DIR / disk_cache.KEY_FILE
    key.write_bytes(b"k" * disk_cache.KEY_BYTES)
    key.chmod(0o644)  # anyone could have read it, and then forged entries with it
    disk_cache.store(disk_cache.content_key("test", "x"), {"value": 1})
    assert [p.name for p in (grader_home / disk_cache.CACHE_DIR).iterdir()] == ["key"]
    assert disk_cache.load(disk_cache.content_key("test", "x")) is None


def test_probe13_a_rubric_edited_keeping_its_size_and_time_is_read_again(tmp_path: Path) -> None:
    """Probe 13: the key was the file's size and modification time; an edit that kept both was served stale."""
    import os

    root = copy_bank(tmp_path)
    path = root / "rubrics" / "cicd-3.yaml"
    assert load_bank(root).rubric("cicd-3").version == 2
    before = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("version: 2", "version: 7", 1), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert load_bank(root).rubric("cicd-3").version == 7


def test_probe13_the_key_holds_the_versions_of_the_libraries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe 13: the key ignored the versions of PyStemmer and pydantic."""
    import sys

    import pydantic

    assert f"pydantic={pydantic.VERSION}|" in disk_cache.library_version("pydantic", "pydantic")
    site = tmp_path / "site"
    (site / "fakelib").mkdir(parents=True)
    (site / "fakelib" / "__init__.py").write_text("")
    (site / "fakelib-1.0.dist-info").mkdir()
    monkeypatch.syspath_prepend(str(site))
    old = disk_cache.library_version("fakelib", "fakelib")
    (site / "fakelib-1.0.dist-info").rename(site / "fakelib-1.1.dist-info")
    new = disk_cache.library_version("fakelib", "fakelib")
    assert old.startswith("fakelib=1.0|") and new.startswith("fakelib=1.1|")
    monkeypatch.setitem(disk_cache._LIBRARIES, "fakelib", "fakelib")
    disk_cache._code_fingerprint.cache_clear()
    first = disk_cache.content_key("rubric", "same content")
    (site / "fakelib-1.1.dist-info").rename(site / "fakelib-2.0.dist-info")
    disk_cache._code_fingerprint.cache_clear()
    assert disk_cache.content_key("rubric", "same content") != first
    monkeypatch.undo()
    disk_cache._code_fingerprint.cache_clear()
    assert "fakelib" not in sys.modules
