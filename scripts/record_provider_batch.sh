#!/usr/bin/env sh
# Record a real provider-batch exchange with OpenAI into cassettes/openai-batch/ (never hand-edit it).
#
#   OPENAI_API_KEY=sk-... scripts/record_provider_batch.sh
#
# Two answers of the test bank are graded with gpt-4o-mini through OpenAI's Batch API: upload, create, poll
# until the batch ends (usually a few minutes; GRADER_RECORD_POLL seconds apart, default 20), download. Then
# tests/test_provider_batch_cassette.py replays it offline in every test run.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${OPENAI_API_KEY:-}" ]; then
  echo "error: set OPENAI_API_KEY to record against OpenAI" >&2
  exit 2
fi
GRADER_RECORD_BATCH=1 exec "${PYTHON:-.venv/bin/python}" -m pytest tests/test_provider_batch_cassette.py \
  --record-mode=rewrite -p no:cacheprovider -q "$@"
