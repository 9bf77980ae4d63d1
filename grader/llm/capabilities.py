"""What each model was found to accept, remembered per model and server: the strictest response format its
server takes (a strict JSON schema, else JSON mode, else the prompt alone), and how many verdicts it completes in
one reply (the whole rubric, else a few concepts a request).

Both only ever step down, on evidence: a server that rejects a format (HTTP 400) is asked the next one, which is
remembered once it works; a reply that is unusable for several verdicts is asked again in halves. What worked is
kept in this process and in the LLM cache file, so the next answer (and the next run) starts there instead of
paying to find out again. Deleting the cache file forgets it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path

from grader.errors import StorageError
from grader.llm.cache import cache_path, connect
from grader.llm.schema import FORMATS, Format

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_models (
    model TEXT NOT NULL,
    api_base TEXT NOT NULL,
    format TEXT NOT NULL,
    chunk INTEGER,
    updated REAL NOT NULL,
    PRIMARY KEY (model, api_base)
)
"""


@dataclass(frozen=True)
class Capabilities:
    """`format`: the strictest response format that worked; `chunk`: most verdicts asked in one request (None:
    the whole rubric)."""

    format: Format = FORMATS[0]
    chunk: int | None = None


# This process's view, by (cache file, model, server): read from the file once, written through on every change.
_KNOWN: dict[tuple[str, str, str], Capabilities] = {}


class ModelNotes:
    """The capabilities of one model at one server."""

    def __init__(self, model: str, api_base: str | None, path: Path | None = None) -> None:
        self.model = model
        self.api_base = (api_base or "").rstrip("/")
        self.path = path or cache_path()
        self._key = (str(self.path), self.model, self.api_base)

    def get(self) -> Capabilities:
        known = _KNOWN.get(self._key)
        if known is None:
            known = _KNOWN[self._key] = self._read()
        return known

    def use_format(self, level: Format) -> None:
        """Remember that the server takes `level` (after rejecting a stricter one); never steps back up."""
        current = self.get()
        if FORMATS.index(level) > FORMATS.index(current.format):
            self._set(replace(current, format=level))

    def shrink(self, size: int) -> None:
        """Remember that a request should judge at most `size` verdicts."""
        current = self.get()
        if current.chunk is None or size < current.chunk:
            self._set(replace(current, chunk=max(1, size)))

    def _set(self, capabilities: Capabilities) -> None:
        _KNOWN[self._key] = capabilities
        try:
            connection = connect(self.path, _SCHEMA)
        except StorageError:
            return  # remembered for this process only
        try:
            connection.execute(
                "INSERT OR REPLACE INTO llm_models (model, api_base, format, chunk, updated) VALUES (?, ?, ?, ?, ?)",
                (self.model, self.api_base, capabilities.format, capabilities.chunk, time.time()),
            )
        except sqlite3.Error:
            pass
        finally:
            connection.close()

    def _read(self) -> Capabilities:
        if not self.path.is_file():
            return Capabilities()
        try:
            connection = connect(self.path, _SCHEMA)
        except StorageError:
            return Capabilities()
        try:
            row = connection.execute(
                "SELECT format, chunk FROM llm_models WHERE model = ? AND api_base = ?", (self.model, self.api_base)
            ).fetchone()
        except sqlite3.Error:
            row = None
        finally:
            connection.close()
        if row is None or row[0] not in FORMATS:
            return Capabilities()
        chunk = row[1] if isinstance(row[1], int) and row[1] > 0 else None
        return Capabilities(format=row[0], chunk=chunk)
