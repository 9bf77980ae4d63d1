"""Grading a cohort: `inputs` (answers found in folders, JSONL and CSV), `batch` (grading them into a results file,
resumable), `results` (the results file), `coverage` (what a cohort covered and missed), `report` (HTML, Markdown,
CSV), `overrides` (a reviewer's corrections, the file beside the results) and `corrections` (applying them).

Through the provider's batch API (`grade batch --provider-batch`): `provider_batch` (one run: submit, collect),
`provider_state` (the state file beside the results), `provider_remote` (the provider's batches: submitting never
twice, following, downloading, cancelling), `provider_files` (request files split to the provider's limits, result
files by custom id), `provider_collect` (grading replies, on worker processes for large cohorts) and
`llm_requests` (the seam: the online LLM path's requests, cache key and reply checks)."""
