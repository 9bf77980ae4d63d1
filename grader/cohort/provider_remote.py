"""The state's batches and the provider: submitting planned request files (never twice), following batches,
downloading what they return, cancelling.

Never twice: a request file is planned in the state (saved) before it is uploaded, and its batch carries metadata
(`grader_out`: the results file's tag, `grader_run`, `grader_chunk`). A planned file found again by a later run
(the earlier one was killed between uploading or creating and saving the batch id) is looked for first among the
provider's recent batches by that metadata, then among its uploaded files by name; only when neither has it is it
uploaded and its batch created.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from grader import pipeline
from grader.cohort import llm_requests
from grader.cohort.provider_files import file_sha256
from grader.cohort.provider_state import (
    BatchRecord,
    ProviderState,
    load_state,
    out_tag,
    save_state,
    state_path,
    work_folder,
)
from grader.errors import StorageError
from grader.llm.batch_api import BatchAPI, BatchInfo, open_batch_api

RECONCILE_SLACK = 3600.0  # seconds before a file was planned that its batch may claim to be created (clock skew)


class Remote:
    """The provider's side of one results file's state."""

    def __init__(self, api: BatchAPI, out: Path, state: ProviderState) -> None:
        self.api = api
        self.out = out
        self.state = state
        self.folder = work_folder(out)
        self.tag = out_tag(out)
        self.fresh: set[str] = set()  # request files planned by this process: nothing of them can be out there

    def save(self) -> None:
        save_state(self.out, self.state)

    # --- submitting ---------------------------------------------------------------------------------------

    def submit_planned(self, on_submit: Callable[[BatchRecord], None] | None = None) -> list[BatchRecord]:
        """Create a batch for every planned request file; the state is saved after each. Returns those created."""
        created: list[BatchRecord] = []
        for record in self.state.batches:
            if record.status != "planned":
                continue
            if record.name not in self.fresh and self._adopt(record):
                self.save()
                continue
            path = self.folder / record.name
            if record.file_id is None:
                # A file this process wrote, fsync'ed and digested as it wrote it is not read again to check it
                # (190 MB a file); one a killed run left must still be what it planned.
                intact = path.is_file() if record.name in self.fresh else file_sha256(path) == record.sha256
                if not intact:
                    self._lose(record)
                    self.save()
                    continue
                record.file_id = self.api.upload(path, record.name)
            self._apply(record, self.api.create(record.file_id, self.metadata(record)))
            self.save()
            with contextlib.suppress(OSError):
                path.unlink()
            created.append(record)
            if on_submit is not None:
                on_submit(record)
        return created

    def metadata(self, record: BatchRecord) -> dict[str, str]:
        return {
            "grader_out": self.tag,
            "grader_run": record.run,
            "grader_chunk": str(record.number),
            "grader_requests": str(record.requests),
        }

    def _adopt(self, record: BatchRecord) -> bool:
        """Find the batch or the uploaded file a killed run made of `record`. True when its batch was found."""
        since = record.planned_at - RECONCILE_SLACK
        wanted = self.metadata(record)
        for info in self.api.recent(since):
            if all(info.metadata.get(k) == wanted[k] for k in ("grader_out", "grader_run", "grader_chunk")):
                self._apply(record, info)
                with contextlib.suppress(OSError):
                    (self.folder / record.name).unlink()
                return True
        found = self.api.find_file(record.name, since)
        if found is not None and found.bytes == record.bytes:
            record.file_id = found.id
        return False

    def _lose(self, record: BatchRecord) -> None:
        """A planned request file that is gone or changed: its answers are planned again by the next pass."""
        record.status = "lost"
        index = self.state.batches.index(record)
        for key in [k for k, item in self.state.items.items() if any(place == index for _, place, _ in item.parts)]:
            del self.state.items[key]
            self.state.held.pop(key, None)

    def tidy(self) -> None:
        """Remove what a killed run left in the working folder that the state does not know: request files it
        planned but never recorded, partial downloads."""
        if not self.folder.is_dir():
            return
        wanted = {r.name for r in self.state.batches if r.status == "planned"}
        for record in self.state.batches:
            if record.downloaded and not record.collected:
                wanted.update(p.name for p in self.result_paths(record))
        for path in self.folder.iterdir():
            if path.name not in wanted and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()

    # --- following ----------------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Ask about every batch not finished, download the results of finished ones not collected yet.
        True when results were downloaded (there is something to collect)."""
        downloaded = False
        changed = False
        for record in self.state.batches:
            if record.batch_id is None or record.collected or record.status == "lost":
                continue
            if record.downloaded and all(p.is_file() for p in self.result_paths(record)):
                continue
            if record.status not in ("completed", "failed", "expired", "cancelled"):
                self._apply(record, self.api.retrieve(record.batch_id))
                changed = True
            if record.status in ("completed", "failed", "expired", "cancelled"):
                self._download(record)
                downloaded = changed = True
        if changed:
            self.save()
        return downloaded

    def result_paths(self, record: BatchRecord) -> list[Path]:
        paths = []
        if record.output_file_id:
            paths.append(self.folder / f"{record.batch_id}.output.jsonl")
        if record.error_file_id:
            paths.append(self.folder / f"{record.batch_id}.errors.jsonl")
        return paths

    def _download(self, record: BatchRecord) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for file_id, path in zip(
            [f for f in (record.output_file_id, record.error_file_id) if f], self.result_paths(record), strict=True
        ):
            if path.is_file():
                continue
            partial = path.with_name(path.name + ".part")
            self.api.download(file_id, partial)
            with partial.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, path)
        record.downloaded = True

    def forget_results(self, record: BatchRecord) -> None:
        for path in self.result_paths(record):
            with contextlib.suppress(OSError):
                path.unlink()

    def cancel(self) -> list[BatchInfo]:
        """Ask the provider to cancel every batch of the state it still works on."""
        cancelled = []
        for record in self.state.batches:
            if record.batch_id and record.status not in ("completed", "failed", "expired", "cancelled", "lost"):
                cancelled.append(self.api.cancel(record.batch_id))
        return cancelled

    def look(self) -> list[BatchRecord]:
        """The state's batches with the provider's latest word on those not finished (the state file unchanged)."""
        records = []
        for record in self.state.batches:
            record = record.model_copy()
            if record.batch_id and not record.collected and record.status not in (
                "completed", "failed", "expired", "cancelled", "lost"
            ):
                self._apply(record, self.api.retrieve(record.batch_id))
            records.append(record)
        return records

    @staticmethod
    def _apply(record: BatchRecord, info: BatchInfo) -> None:
        record.batch_id = info.id
        record.file_id = info.input_file_id or record.file_id
        record.status = info.status
        record.total, record.completed, record.failed = info.total, info.completed, info.failed
        record.output_file_id = info.output_file_id
        record.error_file_id = info.error_file_id
        record.errors = list(info.errors)


def provider_batches(out: Path, options: pipeline.GradeOptions) -> list[BatchRecord]:
    """`out`'s batches with the provider's latest word (`--status`); the state file is not changed."""
    remote = _remote_for(out, options)
    return remote.look()


def cancel_provider_batches(out: Path, options: pipeline.GradeOptions) -> list[str]:
    """Ask the provider to cancel `out`'s open batches (`--cancel`); the next run collects what they finished."""
    remote = _remote_for(out, options)
    return [f"{info.id}: {info.status}" for info in remote.cancel()]


def _remote_for(out: Path, options: pipeline.GradeOptions) -> Remote:
    state = load_state(out)
    if state is None:
        raise StorageError(f"{state_path(out)}: no provider batches were submitted for {out}")
    settings = llm_requests.settings_for(_options_of(state, options))
    return Remote(open_batch_api(settings), out, state)


def _options_of(state: ProviderState, options: pipeline.GradeOptions) -> pipeline.GradeOptions:
    """`options` with the model and server the state's batches were sent to."""
    return replace(
        options, model=str(state.settings.get("model") or options.model), api_base=state.settings.get("api_base")
    )
