"""A real provider-batch exchange, recorded once against OpenAI and replayed offline.

Recorded against: api.openai.com, gpt-4o-mini, Batch API (files, batches, file content), by
`OPENAI_API_KEY=sk-... scripts/record_provider_batch.sh` into cassettes/openai-batch/. The test exists only once
that recording does (it is never skipped for want of one): until then the fake batch server's tests
(test_provider_batch.py) cover the path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from llm_support import BANK, GOOD_ANSWER, SECRET_HEADERS, scrub_response

from grader.bank.loader import load_bank
from grader.cohort.provider_batch import BatchPlan, run_provider_batch
from grader.pipeline import GradeOptions
from grader.scoring import compute_score

REPO = Path(__file__).resolve().parent.parent
CASSETTES = REPO / "cassettes" / "openai-batch"
RECORDING = os.environ.get("GRADER_RECORD_BATCH") == "1"
POLL = float(os.environ.get("GRADER_RECORD_POLL", "20")) if RECORDING else 0.0


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": SECRET_HEADERS,
        "before_record_response": scrub_response,
        # not the body: a multipart boundary and the run's name in the batch's metadata change every run
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


if RECORDING or (CASSETTES / "test_openai_batch_round_trip.yaml").is_file():

    @pytest.mark.vcr
    def test_openai_batch_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Recorded against api.openai.com (gpt-4o-mini): submit two answers, wait, collect, check."""
        if not RECORDING:
            monkeypatch.setenv("OPENAI_API_KEY", "sk-replay-not-a-real-key")
        inputs, out = tmp_path / "in.jsonl", tmp_path / "results.jsonl"
        answers = [GOOD_ANSWER, "We copy the new files over the old ones on the live servers and restart them."]
        inputs.write_text(
            "".join(json.dumps({"candidate": f"c{i}", "question": "deploy-1", "answer": a}) + "\n"
                    for i, a in enumerate(answers)),
            encoding="utf-8",
        )
        options = GradeOptions(mode="llm", model="openai/gpt-4o-mini", use_cache=False, max_retries=0)
        summary = run_provider_batch(load_bank(BANK), [inputs], out, options, BatchPlan(wait=True, poll_every=POLL))
        assert summary.submitted == 2 and summary.pending == 0 and summary.batch.graded == 2
        for line in out.read_text(encoding="utf-8").splitlines():
            grade = json.loads(line)["grade"]
            assert grade["method"] == "llm" and grade["fallback_reason"] is None
            assert grade["usage"]["prompt_tokens"] > 0 and grade["usage"]["completion_tokens"] > 0
            assert grade["usage"]["cost_usd"] > 0  # at gpt-4o-mini's batch price
            assert [c["id"] for c in grade["concepts"]] == ["traffic-switch", "rollback"]
            from grader.models import Grade

            parsed = Grade.model_validate(grade)
            assert parsed.score == compute_score(parsed.concepts, parsed.misconceptions, parsed.flags)
