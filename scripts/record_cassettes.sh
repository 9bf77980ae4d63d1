#!/usr/bin/env sh
# Re-record the LLM cassettes in cassettes/<target>/ (never hand-edit them).
#
#   scripts/record_cassettes.sh            # local: starts xllamacpp + SmolLM2-135M (1 thread) on 127.0.0.1:18080,
#                                          # no key; nothing else may be listening there
#   OPENAI_API_KEY=sk-... scripts/record_cassettes.sh openai   # OpenAI (gpt-4o-mini), into cassettes/openai/
#
# Extra arguments go to pytest (e.g. -k async). Replay: plain pytest (GRADER_CASSETTE_TARGET=openai for OpenAI).
# Any change to a prompt template, the reply schema or the token budget changes the request bodies: re-record.
# The tests grade a frozen copy of the real bank's cicd-3 (tests/llm_bank/), so rubric edits need no re-recording.
# See docs/llm.md.
set -eu
target="${1:-smollm2}"
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/.."
case "$target" in
  smollm2) ;;
  openai)
    if [ -z "${OPENAI_API_KEY:-}" ]; then
      echo "error: set OPENAI_API_KEY to record against OpenAI" >&2
      exit 2
    fi ;;
  *) echo "error: unknown target '$target' (smollm2 or openai)" >&2; exit 2 ;;
esac
GRADER_CASSETTE_TARGET="$target" exec "${PYTHON:-.venv/bin/python}" -m pytest tests/test_llm_cassettes.py \
  --record-mode=rewrite -p no:cacheprovider -q "$@"
