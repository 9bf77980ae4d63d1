"""The providers' batch APIs behind one small interface: upload a JSONL file of requests, create a batch for it,
follow it, find batches by the metadata we attach, cancel, and download the output and error files.

OpenAI, and OpenAI-compatible servers that implement `/v1/files` and `/v1/batches`, go through the openai SDK
(`openai/<name>` models, or a model litellm places with OpenAI). Azure OpenAI, Vertex AI and Bedrock go through
litellm's batch functions (`create_file`, `create_batch`, `retrieve_batch`, `list_batches`, `cancel_batch`,
`file_content`), with the same OpenAI-format request lines. Every failure becomes a `CallError` with one line a
user can act on (`failures.classify`). Prices: `batch_cost`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from grader.errors import ConfigError
from grader.llm.client import OPENAI_PREFIX, LLMSettings, _sdk_client_args
from grader.llm.failures import CallError, classify, describe_endpoint
from grader.llm.pricing import FREE_PROVIDERS, _price_map, is_local

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
COMPLETION_WINDOW = "24h"
BATCH_DISCOUNT = 0.5  # OpenAI's batch price when the price map has none: half the online price
LITELLM_PROVIDERS = ("azure", "vertex_ai", "bedrock")  # batch APIs litellm drives with OpenAI-format lines
UPLOAD_ATTEMPTS = 3
DOWNLOAD_CHUNK = 1 << 20

T = TypeVar("T")


@dataclass(frozen=True)
class BatchInfo:
    """What the provider says about one batch."""

    id: str
    status: str
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    created_at: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()  # why the whole batch failed (validation), as the provider says it

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class FileInfo:
    id: str
    filename: str
    bytes: int
    created_at: float


class BatchAPI:
    """One provider's files and batches. `model` is the model name the request lines carry; `url` their path."""

    model: str
    url: str = "/v1/chat/completions"
    where: str = ""
    _timeout: float = 60.0

    def upload(self, path: Path, name: str) -> str:
        raise NotImplementedError

    def find_file(self, name: str, since: float) -> FileInfo | None:
        """An uploaded batch input file called `name`, uploaded after `since` (seconds since the epoch)."""
        raise NotImplementedError

    def create(self, file_id: str, metadata: dict[str, str]) -> BatchInfo:
        raise NotImplementedError

    def retrieve(self, batch_id: str) -> BatchInfo:
        raise NotImplementedError

    def recent(self, since: float) -> Iterator[BatchInfo]:
        """The batches created after `since`, newest first."""
        raise NotImplementedError

    def cancel(self, batch_id: str) -> BatchInfo:
        raise NotImplementedError

    def download(self, file_id: str, target: Path) -> None:
        """The file's content, written to `target` (streamed where the client can)."""
        raise NotImplementedError

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except CallError:
            raise
        except Exception as exc:  # every failure is classified
            failure = classify(exc, where=self.where, timeout=self._timeout)
            raise CallError(f"{what}: {failure.reason}", failure.kind) from exc


def open_batch_api(settings: LLMSettings) -> BatchAPI:
    """The batch API for the model in `settings`; ConfigError for a provider without one grader can use."""
    if settings.transport() == "openai":
        return OpenAIBatches(settings, settings.model.removeprefix(OPENAI_PREFIX))
    from grader.llm.client import _litellm

    litellm = _litellm()
    try:
        model, provider, _, _ = litellm.get_llm_provider(settings.model, api_base=settings.api_base)
    except Exception as exc:
        raise ConfigError(f"{settings.model}: litellm does not know this model's provider ({exc})") from None
    if provider == "openai" and settings.client != "litellm":
        return OpenAIBatches(settings, model)
    if provider in (*LITELLM_PROVIDERS, "openai"):
        return LiteLLMBatches(settings, model, provider)
    raise ConfigError(
        f"{settings.model}: grader cannot use a batch API for {provider} models "
        f"(it can for openai, {', '.join(LITELLM_PROVIDERS)}); grade without --provider-batch"
    )


def batch_cost(settings: LLMSettings, prompt_tokens: int, completion_tokens: int) -> float:
    """US dollars at the provider's batch price: the price map's batch prices where it has them, else half the
    online price for OpenAI models (its published discount), else the online price (an upper bound)."""
    if is_local(settings.api_base) or settings.model.startswith(FREE_PROVIDERS):
        return 0.0
    name = settings.model.removeprefix(OPENAI_PREFIX)
    prices = _price_map()
    entry = prices.get(settings.model) or prices.get(name) or {}
    batch_in, batch_out = entry.get("input_cost_per_token_batches"), entry.get("output_cost_per_token_batches")
    if batch_in is not None and batch_out is not None:
        return float(prompt_tokens * batch_in + completion_tokens * batch_out)
    online = float(
        prompt_tokens * (entry.get("input_cost_per_token") or 0.0)
        + completion_tokens * (entry.get("output_cost_per_token") or 0.0)
    )
    openai_model = settings.transport() == "openai" or entry.get("litellm_provider") == "openai"
    return online * BATCH_DISCOUNT if openai_model else online


# --- OpenAI, through the SDK -------------------------------------------------------------------------------


_CLIENTS: dict[tuple[Any, ...], Any] = {}  # one SDK client per server and settings (each costs an SSL context)


class OpenAIBatches(BatchAPI):
    def __init__(self, settings: LLMSettings, model: str) -> None:
        args = _sdk_client_args(settings)
        args["max_retries"] = settings.max_retries
        key = tuple(sorted(args.items()))
        self.model = model
        self.where = describe_endpoint(settings.api_base, settings.model)
        self._timeout = settings.timeout
        if key not in _CLIENTS:
            import openai

            try:
                _CLIENTS[key] = openai.OpenAI(**args)
            except openai.OpenAIError as exc:  # no key in the environment, mostly
                reason = classify(exc, where=self.where, timeout=self._timeout).reason
                raise ConfigError(f"{settings.model}: {reason}") from None
        self._client = _CLIENTS[key]

    def upload(self, path: Path, name: str) -> str:
        client = self._client.with_options(max_retries=0)  # a retry must reopen the file: done here
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                with path.open("rb") as handle:
                    created = client.files.create(file=(name, handle, "application/jsonl"), purpose="batch")
                return str(created.id)
            except Exception as exc:
                failure = classify(exc, where=self.where, timeout=self._timeout)
                if not failure.retryable or attempt + 1 == UPLOAD_ATTEMPTS:
                    raise CallError(f"uploading {name}: {failure.reason}", failure.kind) from exc
                time.sleep(failure.wait if failure.wait is not None else 2.0**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def find_file(self, name: str, since: float) -> FileInfo | None:
        def find() -> FileInfo | None:
            for item in self._client.files.list(purpose="batch"):
                if item.created_at < since:
                    return None
                if item.filename == name:
                    return FileInfo(item.id, item.filename, int(item.bytes or 0), float(item.created_at))
            return None

        return self._call("listing the uploaded files", find)

    def create(self, file_id: str, metadata: dict[str, str]) -> BatchInfo:
        return _info(
            self._call(
                "creating the batch",
                lambda: self._client.batches.create(
                    input_file_id=file_id,
                    endpoint=self.url,
                    completion_window=COMPLETION_WINDOW,
                    metadata=metadata,
                ),
            )
        )

    def retrieve(self, batch_id: str) -> BatchInfo:
        return _info(self._call(f"asking about batch {batch_id}", lambda: self._client.batches.retrieve(batch_id)))

    def recent(self, since: float) -> Iterator[BatchInfo]:
        page = self._call("listing the batches", lambda: self._client.batches.list(limit=100))
        while True:
            for item in page.data:
                info = _info(item)
                if info.created_at < since:
                    return
                yield info
            if not page.has_next_page():
                return
            page = self._call("listing the batches", page.get_next_page)

    def cancel(self, batch_id: str) -> BatchInfo:
        return _info(self._call(f"cancelling batch {batch_id}", lambda: self._client.batches.cancel(batch_id)))

    def download(self, file_id: str, target: Path) -> None:
        def fetch() -> None:
            with self._client.files.with_streaming_response.content(file_id) as response, target.open("wb") as out:
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                    out.write(chunk)

        self._call(f"downloading file {file_id}", fetch)


# --- Azure, Vertex AI, Bedrock, through litellm ------------------------------------------------------------------


class LiteLLMBatches(BatchAPI):
    def __init__(self, settings: LLMSettings, model: str, provider: str) -> None:
        from grader.llm.client import _api_key, _litellm

        self._litellm = _litellm()
        self.model = model
        self.provider = provider
        self.url = "/chat/completions" if provider == "azure" else "/v1/chat/completions"
        self.where = describe_endpoint(settings.api_base, settings.model)
        self._timeout = settings.timeout
        self._args: dict[str, Any] = {"custom_llm_provider": provider}
        if settings.api_base:
            self._args["api_base"] = settings.api_base
        key = _api_key(settings)
        if key:
            self._args["api_key"] = key
        if provider == "bedrock":
            self._args["model"] = settings.model

    def upload(self, path: Path, name: str) -> str:
        def send() -> str:
            with path.open("rb") as handle:
                return str(self._litellm.create_file(file=(name, handle), purpose="batch", **self._args).id)

        return self._call(f"uploading {name}", send)

    def find_file(self, name: str, since: float) -> FileInfo | None:
        def find() -> FileInfo | None:
            listed = self._litellm.file_list(purpose="batch", **self._args)
            for item in getattr(listed, "data", listed) or []:
                if item.filename == name and float(item.created_at or 0) >= since:
                    return FileInfo(item.id, item.filename, int(item.bytes or 0), float(item.created_at))
            return None

        return self._call("listing the uploaded files", find)

    def create(self, file_id: str, metadata: dict[str, str]) -> BatchInfo:
        return _info(
            self._call(
                "creating the batch",
                lambda: self._litellm.create_batch(
                    completion_window=COMPLETION_WINDOW,
                    endpoint=self.url,
                    input_file_id=file_id,
                    metadata=metadata,
                    **self._args,
                ),
            )
        )

    def retrieve(self, batch_id: str) -> BatchInfo:
        return _info(
            self._call(f"asking about batch {batch_id}", lambda: self._litellm.retrieve_batch(batch_id, **self._args))
        )

    def recent(self, since: float) -> Iterator[BatchInfo]:
        args = {k: v for k, v in self._args.items() if k != "model"}
        listed = self._call("listing the batches", lambda: self._litellm.list_batches(limit=100, **args))
        for item in getattr(listed, "data", listed) or []:
            info = _info(item)
            if info.created_at >= since:
                yield info

    def cancel(self, batch_id: str) -> BatchInfo:
        return _info(
            self._call(f"cancelling batch {batch_id}", lambda: self._litellm.cancel_batch(batch_id, **self._args))
        )

    def download(self, file_id: str, target: Path) -> None:
        def fetch() -> None:
            content = self._litellm.file_content(file_id=file_id, **self._args)
            target.write_bytes(content.content if hasattr(content, "content") else bytes(content))

        self._call(f"downloading file {file_id}", fetch)


def _info(batch: Any) -> BatchInfo:
    """A BatchInfo from the SDK's or litellm's batch object (or a plain dict)."""
    data = batch if isinstance(batch, dict) else batch.model_dump()
    counts = data.get("request_counts") or {}
    errors = (data.get("errors") or {}).get("data") or []
    return BatchInfo(
        id=str(data["id"]),
        status=str(data.get("status") or "unknown"),
        input_file_id=data.get("input_file_id"),
        output_file_id=data.get("output_file_id"),
        error_file_id=data.get("error_file_id"),
        total=int(counts.get("total") or 0),
        completed=int(counts.get("completed") or 0),
        failed=int(counts.get("failed") or 0),
        created_at=float(data.get("created_at") or 0),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        errors=tuple(
            " ".join(str(e.get("message") or e.get("code") or e).split())[:200] for e in errors if e
        ),
    )
