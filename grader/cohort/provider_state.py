"""The provider-batch state file beside a results file: what was submitted, and what is still awaited.

`results.jsonl.batches.json` holds the model settings the requests were built with, every batch (planned, then
submitted, then collected) and, for every answer still awaited, its requests (the parts, by request id) and where:
the batch each is in and how many times it was sent, plus the start of the answer's LLM cache key (a reply to a
request built otherwise is never used) and what the model was known to accept when its first requests were built
(its replays start there). Replies that already came for an answer whose other parts are still awaited (a repair,
a half, the next chunk, a retry), or for an answer the run that collected its batch did not have in its inputs,
are held here too, until a run collects the answer. A collected answer leaves the state: its grade is in the
results file.

The file is replaced atomically (written beside, fsync'ed, renamed, the folder fsync'ed), so a kill at any
moment leaves the old state or the new one. The working folder `results.jsonl.batches/` holds request files
until their batch is created, and downloaded output and error files until they are collected.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.errors import StorageError

STATE_SUFFIX = ".batches.json"
FOLDER_SUFFIX = ".batches"
STATE_VERSION = 1

KEY_CHARS = 32
HELD = -1  # the batch index of a part whose outcome is kept in ProviderState.held


class BatchRecord(BaseModel):
    """One request file and the provider batch made of it."""

    model_config = ConfigDict(extra="ignore")

    name: str  # the request file's name, uploaded as is
    run: str  # the planning run that made it (batch metadata: grader_run)
    number: int  # its number within that run (batch metadata: grader_chunk)
    requests: int
    bytes: int
    sha256: str
    planned_at: float
    file_id: str | None = None
    batch_id: str | None = None
    status: str = "planned"  # planned, a provider status (validating ... completed), lost
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[str] = Field(default_factory=list)
    downloaded: bool = False
    collected: bool = False


class ItemRecord(NamedTuple):
    """An answer with requests outstanding (a tuple: a cohort awaits 100,000 of them)."""

    request_key: str  # the start of the answer's LLM cache key when it was sent (KEY_CHARS hex digits)
    parts: tuple[tuple[str, int, int], ...]  # (request id, index of its batch in ProviderState.batches or HELD, sends)
    start: str = ""  # what the model was known to accept when its first requests were built (llm_requests.Planned)


class HeldReply(BaseModel):
    """A part's outcome kept in the state: a reply, a final failure (`error`), or a failure the provider may
    still make good (`error` and `failed`: sent again with --retry-failed). Kept while the answer's other parts
    are awaited, or until a run whose inputs hold the answer collects it."""

    content: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    finish_reason: str | None = None
    error: str | None = None
    failed: bool = False
    kind: str | None = None  # a final failure's CallError kind (`request`: the provider rejected the request)


class ProviderState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = STATE_VERSION
    out: str
    settings: dict[str, Any]
    batches: list[BatchRecord] = Field(default_factory=list)
    items: dict[str, ItemRecord] = Field(default_factory=dict)
    held: dict[str, dict[str, HeldReply]] = Field(default_factory=dict)  # by answer key, then part



def state_path(out: Path) -> Path:
    return out.with_name(out.name + STATE_SUFFIX)


def work_folder(out: Path) -> Path:
    return out.with_name(out.name + FOLDER_SUFFIX)


def out_tag(out: Path) -> str:
    """A short hash of the results file's absolute path: batches carry it, so ours are told from others'."""
    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]


def load_state(out: Path) -> ProviderState | None:
    """The state beside `out`, or None when there is none; StorageError when it cannot be read or is damaged."""
    path = state_path(out)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read the provider-batch state: {exc.strerror or exc}") from None
    try:
        state = ProviderState.model_validate_json(data)
    except ValidationError:
        raise StorageError(
            f"{path}: the provider-batch state is damaged; it was left untouched (move it aside to start over: "
            "answers in batches it lists would then be submitted again)"
        ) from None
    if state.version != STATE_VERSION:
        raise StorageError(f"{path}: written by another version of grader (state version {state.version})")
    return state


def save_state(out: Path, state: ProviderState) -> None:
    """Replace the state file atomically and durably (written beside, fsync'ed, renamed, folder fsync'ed)."""
    path = state_path(out)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = state.model_dump_json(exclude_defaults=False).encode()
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StorageError(f"{path}: cannot write the provider-batch state: {exc.strerror or exc}") from None


def new_state(out: Path, settings: dict[str, Any]) -> ProviderState:
    return ProviderState(out=str(out.resolve()), settings=settings)


def new_run() -> str:
    """A name for one planning run: the time, and randomness so two runs never share one."""
    return time.strftime("%Y%m%d%H%M%S") + "-" + os.urandom(3).hex()


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
