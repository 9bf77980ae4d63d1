"""Grading a cohort: `inputs` (answers found in folders, JSONL and CSV), `batch` (grading them into a results file,
resumable), `results` (the results file), `coverage` (what a cohort covered and missed), `report` (HTML, Markdown,
CSV), `overrides` (a reviewer's corrections, the file beside the results) and `corrections` (applying them)."""
