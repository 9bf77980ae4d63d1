"""An authenticated cache under GRADER_HOME/cache for start-up work that would otherwise repeat on every run.

Reading the bank's YAML (and importing the YAML parser), validating it and compiling a rubric's keywords take
about 50 ms, a fifth of a `grade answer`. Their results are cached here, keyed by what they were made from (the
content of the files, or the content itself), by a fingerprint of the code that made them (grader's own
modules, the versions of the libraries that shape the result: pydantic, pydantic-core, PyYAML, PyStemmer, and
Python's), so an edited rubric, a new version of grader or of a library is never served a stale entry.

Entries are pickles, and unpickling runs code: every entry is therefore signed with HMAC-SHA256 under a random
key kept in GRADER_HOME/cache/key (created 0600 in a 0700 folder, and used only while it is a regular file of
ours that nobody else can read or write). An entry whose signature does not check, such as a crafted one dropped
in the folder, is never unpickled. The cache is only an accelerator: an entry that cannot be read or checked is
ignored (and rebuilt), one that cannot be written is skipped, and deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from grader.files import read_regular
from grader.paths import grader_home

CACHE_DIR = "cache"
KEY_FILE = "key"  # in CACHE_DIR
KEY_BYTES = 32
MAGIC = b"grader1\n"  # the format: this, then the HMAC-SHA256 of the pickle, then the pickle
MAX_ENTRY_BYTES = 64 << 20
_SOURCES = (
    "models.py", "keyword/lexicon.py", "keyword/text.py", "keyword/patterns.py", "keyword/vocabulary.py",
    "keyword/matcher.py", "keyword/grader.py", "bank/loader.py", "bank/validation.py", "disk_cache.py",
)
# module -> distribution: the libraries whose version can change what an entry holds
_LIBRARIES = {"pydantic": "pydantic", "pydantic_core": "pydantic_core", "yaml": "pyyaml", "Stemmer": "pystemmer"}


@cache
def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update((package / name).read_bytes())
    digest.update(f"{sys.version}|{sys.implementation.cache_tag}".encode())
    listings: dict[Path, list[str]] = {}
    for module, distribution in _LIBRARIES.items():
        digest.update(library_version(module, distribution, listings).encode())
    return digest.hexdigest()


def library_version(module: str, distribution: str, listings: dict[Path, list[str]] | None = None) -> str:
    """`module`'s installed version, found without importing it (importlib.metadata costs tens of ms): the
    version in its distribution's `.dist-info` folder, with the size and time of the module's file (so a
    reinstall or an unpackaged copy counts as a change too). `listings` keeps folder listings between calls."""
    import importlib.util

    listings = {} if listings is None else listings
    try:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        if not origin:
            return f"{module}=missing"
        info = os.stat(origin)
        folder = Path(origin).parent if spec.submodule_search_locations is None else Path(origin).parent.parent
        prefix = distribution + "-"
        versions = [
            name[len(prefix) : -len(".dist-info")]
            for name in listings.get(folder) or listings.setdefault(folder, os.listdir(folder))
            if name.lower().startswith(prefix) and name.endswith(".dist-info")
        ]
    except (ImportError, ValueError, OSError):
        return f"{module}=unknown"
    return f"{module}={','.join(sorted(versions))}|{info.st_size}|{info.st_mtime_ns}"


def content_key(kind: str, content: str | bytes) -> str:
    """A key for something computed from `content`."""
    return _key(kind, content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))


def files_key(kind: str, paths: Iterable[Path]) -> str | None:
    """A key for something computed from these files' content, or None when one cannot be read."""
    digest = hashlib.sha256()
    try:
        for path in paths:
            data = read_regular(path, MAX_ENTRY_BYTES)
            digest.update(f"{path.name}|{len(data)}|".encode())
            digest.update(data)
    except OSError:
        return None
    return _key(kind, digest.digest())


def load(key: str | None) -> Any | None:
    """The cached value for `key`, or None when there is none, or it cannot be read or its signature fails."""
    if key is None:
        return None
    secret = _secret(str(grader_home()))
    if secret is None:
        return None
    try:
        data = read_regular(grader_home() / CACHE_DIR / key, MAX_ENTRY_BYTES, follow_symlinks=False)
        mac, payload = data[len(MAGIC) : len(MAGIC) + 32], data[len(MAGIC) + 32 :]
        if not data.startswith(MAGIC) or not hmac.compare_digest(mac, hmac.digest(secret, payload, "sha256")):
            return None
        return pickle.loads(payload)
    except Exception:
        return None


def store(key: str | None, value: Any) -> None:
    """Save `value` under `key` atomically and signed; any failure (read-only home, full disk) is ignored."""
    if key is None:
        return
    secret = _secret(str(grader_home()))
    if secret is None:
        return
    folder = grader_home() / CACHE_DIR
    temporary: str | None = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as out:
            out.write(MAGIC + hmac.digest(secret, payload, "sha256") + payload)
        os.replace(temporary, folder / key)
    except Exception:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


@cache
def _secret(home: str) -> bytes | None:
    """The signing key of the cache in `home`, created on first use; None when it cannot be trusted (not a
    regular file, not ours, readable or writable by others, the wrong size) or cannot be created: no cache then."""
    folder = os.path.join(home, CACHE_DIR)
    path = os.path.join(folder, KEY_FILE)
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(fd, os.urandom(KEY_BYTES))
        finally:
            os.close(fd)
        return _read_secret(path)
    except OSError:
        return None


def _read_secret(path: str) -> bytes | None:
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_size != KEY_BYTES:
        return None
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return None
    secret = read_regular(path, KEY_BYTES, follow_symlinks=False)
    return secret if len(secret) == KEY_BYTES else None


def _key(kind: str, content: bytes) -> str:
    digest = hashlib.sha256(f"{_code_fingerprint()}\n{kind}\n".encode())
    digest.update(content)
    return f"{kind}-{digest.hexdigest()[:32]}.pickle"
