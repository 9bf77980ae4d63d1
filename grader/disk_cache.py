"""A pickle cache under GRADER_HOME/cache for start-up work that would otherwise repeat on every run.

Reading the bank's YAML (and importing the YAML parser), validating it and compiling a rubric's keywords take
about 50 ms, a fifth of a `grade answer`. Their results are cached here, keyed by what they were made from
(file names, sizes and modification times, or content) and by a fingerprint of the code that made them, so a
changed rubric or a new version of grader is never served a stale entry. The cache is only an accelerator:
an entry that cannot be read is ignored, one that cannot be written is skipped, and deleting the folder is
always safe. It holds only what grader computed from your own bank, in your own GRADER_HOME.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from grader.paths import grader_home

CACHE_DIR = "cache"
_SOURCES = (
    "models.py", "keyword/text.py", "keyword/patterns.py", "keyword/vocabulary.py", "keyword/matcher.py",
    "keyword/grader.py", "disk_cache.py",
)


@cache
def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()


def content_key(kind: str, content: str) -> str:
    """A key for something computed from `content`."""
    return _key(kind, content)


def files_key(kind: str, paths: Iterable[Path]) -> str | None:
    """A key for something computed from these files, or None when one cannot be looked at."""
    parts = []
    try:
        for path in paths:
            stat = path.stat()
            parts.append(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
    except OSError:
        return None
    return _key(kind, "\n".join(parts))


def load(key: str | None) -> Any | None:
    """The cached value for `key`, or None when there is none or it cannot be read."""
    if key is None:
        return None
    try:
        with (grader_home() / CACHE_DIR / key).open("rb") as handle:
            return pickle.load(handle)
    except Exception:
        return None


def store(key: str | None, value: Any) -> None:
    """Save `value` under `key` atomically; any failure (read-only home, full disk) is ignored."""
    if key is None:
        return
    folder = grader_home() / CACHE_DIR
    temporary: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, folder / key)
    except Exception:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _key(kind: str, content: str) -> str:
    digest = hashlib.sha256(f"{_code_fingerprint()}\n{kind}\n{content}".encode()).hexdigest()
    return f"{kind}-{digest[:32]}.pickle"

