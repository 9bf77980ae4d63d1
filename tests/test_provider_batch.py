"""`grade batch --provider-batch` against a fake OpenAI batch server on 127.0.0.1 (tests/fakebatch.py): the same
requests and the same grades as the online path (captured from it through the local fake chat server,
tests/fakeserver.py), submit then collect, partial failures, an expired batch, malformed result lines, the online
conversation replayed (repairs, halves, response formats, chunks), retries, the cache, status and cancel, and never
submitting twice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakebatch import Answer, FakeBatchServer, asked, serve_batches
from fakeserver import chat_reply, error_reply, serve
from llm_support import BANK, GOOD_ANSWER, llm_options, question_and_rubric, verdict
from typer.testing import CliRunner

from grader import pipeline
from grader.bank.loader import load_bank
from grader.cli import app
from grader.cli.common import EXIT_CONFIG, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from grader.cohort import llm_requests
from grader.cohort.provider_batch import BatchPlan, run_provider_batch
from grader.cohort.provider_state import load_state, state_path, work_folder
from grader.llm.batch_api import OpenAIBatches

GOOD = verdict()


def good(custom_id: str, body: dict[str, Any]) -> Answer:
    return Answer(content=GOOD)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeBatchServer]:
    with serve_batches(tmp_path_factory.mktemp("provider"), good) as fake:
        yield fake


@pytest.fixture
def server(provider: FakeBatchServer) -> FakeBatchServer:
    """One server for the module (its client is made once), reset for each test."""
    provider.reset(good)
    return provider


def write_inputs(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            answer = f"{GOOD_ANSWER} Answer number {index}."
            handle.write(json.dumps({"candidate": f"c{index:03d}", "question": "deploy-1", "answer": answer}) + "\n")
    return path


def options(server: FakeBatchServer, **overrides: Any) -> pipeline.GradeOptions:
    return llm_options(server.api_base, **{"use_cache": False, **overrides})


def grade_batch(server: FakeBatchServer, tmp_path: Path, count: int = 4, **plan: Any) -> Any:
    inputs = tmp_path / "in.jsonl"
    if not inputs.exists():
        write_inputs(inputs, count)
    settings = {k: plan.pop(k) for k in list(plan) if k in ("use_cache", "fallback", "samples", "mode", "client")}
    return run_provider_batch(
        load_bank(BANK), [inputs], tmp_path / "results.jsonl", options(server, **settings),
        BatchPlan(poll_every=0.01, **plan),
    )


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def cli(runner: CliRunner, server: FakeBatchServer, tmp_path: Path, *extra: str) -> tuple[int, Any]:
    inputs = tmp_path / "in.jsonl"
    result = runner.invoke(
        app,
        ["--bank", str(BANK), "batch", str(inputs), "--out", str(tmp_path / "results.jsonl"), "--json", "--quiet",
         "--mode", "llm", "--model", "openai/smollm2", "--api-base", server.api_base, "--no-cache", "--poll", "0.01",
         *extra],
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else result.stderr


# --- the same requests and grades as online ---------------------------------------------------------------


def test_the_uploaded_request_is_the_online_request_byte_for_byte(server: FakeBatchServer, tmp_path: Path) -> None:
    question, rubric = question_and_rubric()
    answer = f"{GOOD_ANSWER} Answer number 0."
    with serve([chat_reply(GOOD)]) as online:
        pipeline.grade_answer(question, rubric, answer, llm_options(online.api_base, use_cache=False))
        sent = online.seen[0].body
    grade_batch(server, tmp_path, count=1)
    (batch,) = server.batches.values()
    (line,) = server.requests_in(batch)
    assert line["url"] == "/v1/chat/completions" and line["method"] == "POST"
    assert line["body"] == sent


def test_a_batch_grade_is_the_online_grade_for_the_same_reply(server: FakeBatchServer, tmp_path: Path) -> None:
    question, rubric = question_and_rubric()
    answer = f"{GOOD_ANSWER} Answer number 0."
    content = verdict(switch=("covered", "S3"), in_place=(True, "S4"))  # the rollback passage cited for the switch
    with serve([chat_reply(content, prompt_tokens=1000, completion_tokens=200)]) as online:
        expected = pipeline.grade_answer(question, rubric, answer, llm_options(online.api_base, use_cache=False))
    server.respond = lambda custom_id, body: Answer(content=content)
    grade_batch(server, tmp_path, count=1, wait=True)
    (record,) = lines(tmp_path / "results.jsonl")
    assert record["grade"] == json.loads(expected.model_dump_json())
    assert "unverified_evidence" in record["grade"]["flags"]  # the citation that cannot carry it was caught


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"use_cache": True}, id="cache-on"),
        pytest.param({"use_cache": False}, id="cache-off"),
        pytest.param({"use_cache": False, "samples": 3, "mode": "hybrid"}, id="samples-hybrid"),
    ],
)
def test_the_request_key_is_the_online_cache_key(server: FakeBatchServer, overrides: dict[str, Any]) -> None:
    """What an answer's requests are recorded under, and its grade cached under, is the key the online path reads
    its cache by, whether this run uses the cache or not."""
    question, rubric = question_and_rubric()
    answer = f"{GOOD_ANSWER} Answer number 0."
    batch_options = options(server, **overrides)
    online = options(server, **{**overrides, "use_cache": True})
    cache, key = pipeline._open_cache(question, rubric, answer, pipeline.llm_settings(online), online)
    assert cache is not None and len(key) == 64
    assert llm_requests.request_key(question, rubric, answer, batch_options) == key
    assert llm_requests.request_key(question, rubric, answer + " More.", batch_options) != key


# --- submit, then collect -------------------------------------------------------------------------------------


def test_submit_returns_at_once_then_the_same_command_collects(
    runner: CliRunner, server: FakeBatchServer, tmp_path: Path
) -> None:
    write_inputs(tmp_path / "in.jsonl", 5)
    code, summary = cli(runner, server, tmp_path, "--provider-batch")
    assert code == EXIT_OK and summary["status"] == "pending"
    assert summary["submitted"] == 5 and summary["pending"] == 5 and summary["batches_created"] == 1
    state = load_state(tmp_path / "results.jsonl")
    assert state is not None and state.batches[0].batch_id in server.batches and len(state.items) == 5
    assert not (tmp_path / "results.jsonl").read_text()

    code, summary = cli(runner, server, tmp_path, "--provider-batch", "--wait", "-r", str(tmp_path / "report.md"))
    assert code == EXIT_OK and summary["graded"] == 5 and summary["pending"] == 0 and summary["submitted"] == 0
    assert "deploy-1" in (tmp_path / "report.md").read_text(encoding="utf-8")
    graded = lines(tmp_path / "results.jsonl")
    assert {r["grade"]["method"] for r in graded} == {"llm"} and {r["grade"]["score"] for r in graded} == {10.0}
    assert not load_state(tmp_path / "results.jsonl").items  # type: ignore[union-attr]
    assert not list(work_folder(tmp_path / "results.jsonl").iterdir())  # request and result files cleaned up

    uploads = len(server.uploads)
    code, summary = cli(runner, server, tmp_path, "--provider-batch")
    assert code == EXIT_OK and summary["skipped"] == 5 and summary["submitted"] == 0
    assert len(server.uploads) == uploads  # nothing sent twice


def test_an_answer_awaited_is_never_submitted_again(server: FakeBatchServer, tmp_path: Path) -> None:
    server.auto = False  # the batch stays in validation
    first = grade_batch(server, tmp_path, count=3)
    again = grade_batch(server, tmp_path)
    assert first.submitted == 3 and again.submitted == 0 and again.pending == 3
    assert len(server.batches) == 1


def test_replies_for_answers_not_in_the_inputs_are_kept_until_a_run_has_them(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    both, first, second = tmp_path / "in.jsonl", tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write_inputs(both, 4)
    rows = both.read_text(encoding="utf-8").splitlines(keepends=True)
    first.write_text("".join(rows[:2]), encoding="utf-8")
    second.write_text("".join(rows[2:]), encoding="utf-8")
    out = tmp_path / "results.jsonl"

    def run(inputs: Path, wait: bool = True) -> Any:
        plan = BatchPlan(wait=wait, poll_every=0.01)
        return run_provider_batch(load_bank(BANK), [inputs], out, options(server), plan)

    server.auto = False
    assert run(first, wait=False).submitted == 2
    assert run(second, wait=False).submitted == 2
    server.finish()
    collected = run(first)  # waits for nothing it cannot collect
    assert collected.batch.graded == 2 and collected.kept == 2 and collected.pending == 0
    assert not list(work_folder(out).iterdir())  # the kept replies live in the state file, not the result files
    later = run(second)
    assert later.batch.graded == 2 and later.submitted == 0 and later.pending == 0
    assert len(server.batches) == 2 and {r["grade"]["method"] for r in lines(out)} == {"llm"}


def test_the_cache_answers_a_second_results_file_without_a_request(server: FakeBatchServer, tmp_path: Path) -> None:
    grade_batch(server, tmp_path, count=3, wait=True, use_cache=True)
    batches = len(server.batches)
    other = tmp_path / "other.jsonl"
    summary = run_provider_batch(
        load_bank(BANK), [tmp_path / "in.jsonl"], other, options(server, use_cache=True), BatchPlan()
    )
    assert summary.batch.graded == 3 and summary.submitted == 0 and len(server.batches) == batches
    assert not state_path(other).exists()  # nothing was sent: no state file
    assert all(r["grade"]["usage"]["cached"] for r in lines(other))


def test_other_settings_cannot_collect_pending_batches(
    runner: CliRunner, server: FakeBatchServer, tmp_path: Path
) -> None:
    server.auto = False
    write_inputs(tmp_path / "in.jsonl", 2)
    assert cli(runner, server, tmp_path, "--provider-batch")[0] == EXIT_OK
    code, message = cli(runner, server, tmp_path, "--provider-batch", "--samples", "3")
    assert code == EXIT_CONFIG and "awaited from batches sent with other settings" in message


# --- failures ---------------------------------------------------------------------------------------------------


def fail_odd(custom_id: str, body: dict[str, Any]) -> Answer:
    number = int(json.loads(body["messages"][1]["content"].split("Answer number ")[1].split(".")[0]))
    return Answer(status=500, message="the model is overloaded") if number % 2 else Answer(content=GOOD)


def test_failed_requests_fall_back_to_keywords_with_the_reason(server: FakeBatchServer, tmp_path: Path) -> None:
    server.respond = fail_odd
    summary = grade_batch(server, tmp_path, count=4, wait=True)
    assert summary.batch.graded == 4 and summary.batch.fallbacks == 2 and summary.pending == 0
    by_candidate = {r["candidate"]: r["grade"] for r in lines(tmp_path / "results.jsonl")}
    assert by_candidate["c000"]["method"] == "llm" and by_candidate["c000"]["fallback_reason"] is None
    assert by_candidate["c001"]["method"] == "keyword"
    assert "HTTP 500" in by_candidate["c001"]["fallback_reason"]
    assert "overloaded" in by_candidate["c001"]["fallback_reason"]


def test_retry_failed_sends_failed_requests_again_in_a_new_batch(server: FakeBatchServer, tmp_path: Path) -> None:
    failed_once: set[str] = set()

    def flaky(custom_id: str, body: dict[str, Any]) -> Answer:
        if custom_id not in failed_once and fail_odd(custom_id, body).content is None:
            failed_once.add(custom_id)
            return Answer(status=500)
        return Answer(content=GOOD)

    server.respond = flaky
    summary = grade_batch(server, tmp_path, count=4, wait=True, retry_failed=True)
    assert summary.batch.graded == 4 and summary.batch.fallbacks == 0 and summary.resent == 2
    assert len(server.batches) == 2
    second = sorted(server.batches.values(), key=lambda b: b.id)[-1]
    assert sorted(r["custom_id"] for r in server.requests_in(second)) == sorted(failed_once)


def test_a_request_that_keeps_failing_is_sent_three_times_then_falls_back(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    server.respond = lambda custom_id, body: Answer(status=500)
    summary = grade_batch(server, tmp_path, count=1, wait=True, retry_failed=True)
    assert len(server.batches) == 3 and summary.batch.fallbacks == 1


def test_a_batch_that_expires_half_done(server: FakeBatchServer, tmp_path: Path) -> None:
    server.steps = ["validating", "in_progress", "expired"]
    summary = grade_batch(server, tmp_path, count=6, wait=True)
    graded = lines(tmp_path / "results.jsonl")
    assert len(graded) == 6 and summary.pending == 0
    methods = sorted(r["grade"]["method"] for r in graded)
    assert methods == ["keyword"] * 3 + ["llm"] * 3
    assert all("expired" in r["grade"]["fallback_reason"] for r in graded if r["grade"]["method"] == "keyword")


def test_an_expired_half_is_resent_with_retry_failed(server: FakeBatchServer, tmp_path: Path) -> None:
    server.steps = ["validating", "expired"]
    grade_batch(server, tmp_path, count=6)  # submit
    server.finish()
    server.steps = ["validating", "completed"]
    summary = grade_batch(server, tmp_path, wait=True, retry_failed=True)
    assert summary.resent == 3 and summary.batch.fallbacks == 0
    assert [r["grade"]["method"] for r in lines(tmp_path / "results.jsonl")] == ["llm"] * 6


def test_malformed_result_lines_are_skipped_and_their_answers_fall_back(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    def broken(custom_id: str, body: dict[str, Any]) -> Answer:
        if custom_id.endswith("#0") and fail_odd(custom_id, body).content is None:
            return Answer(raw=b'{"custom_id": "' + custom_id.encode() + b'", "response": {"status_co\n')
        return Answer(content=GOOD)

    server.respond = broken
    summary = grade_batch(server, tmp_path, count=4, wait=True)
    assert summary.malformed == 2 and summary.batch.fallbacks == 2
    reasons = [r["grade"]["fallback_reason"] for r in lines(tmp_path / "results.jsonl")]
    assert sum("no result" in (reason or "") for reason in reasons) == 2


def test_a_validation_failure_fails_every_request_with_the_providers_reason(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    server.max_requests = 2
    summary = grade_batch(server, tmp_path, count=3, wait=True)
    assert summary.batch.fallbacks == 3
    assert all("rejected the batch" in r["grade"]["fallback_reason"] for r in lines(tmp_path / "results.jsonl"))


def test_no_fallback_writes_llm_error_lines(server: FakeBatchServer, tmp_path: Path) -> None:
    server.respond = fail_odd
    summary = grade_batch(server, tmp_path, count=2, wait=True, fallback=False)
    assert summary.batch.failed == 1 and summary.batch.by_kind == {"llm": 1}


# --- the online conversation, replayed --------------------------------------------------------------------------


def repairing(body: dict[str, Any]) -> bool:
    return len(body["messages"]) > 2  # the conversation so far, and what was wrong with the reply


def test_an_unusable_reply_gets_the_online_repair_request_in_the_next_batch(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    question, rubric = question_and_rubric()
    answer = f"{GOOD_ANSWER} Answer number 0."
    with serve([chat_reply("Sure! Here is my grade: 10/10"), chat_reply(GOOD)]) as online:
        expected = pipeline.grade_answer(question, rubric, answer, llm_options(online.api_base, use_cache=False))
        repair = online.seen[1].body
    server.respond = lambda custom_id, body: Answer(
        content=GOOD if repairing(body) else "Sure! Here is my grade: 10/10", prompt_tokens=100, completion_tokens=50
    )
    summary = grade_batch(server, tmp_path, count=1, wait=True)
    first, second = sorted(server.batches.values(), key=lambda b: b.id)
    (line,) = server.requests_in(second)
    assert line["body"] == repair and line["custom_id"] != server.requests_in(first)[0]["custom_id"]
    (record,) = lines(tmp_path / "results.jsonl")
    assert record["grade"]["method"] == "llm" and summary.resent == 1
    assert record["grade"]["usage"]["prompt_tokens"] == 200  # both replies paid for, as online
    assert record["grade"]["concepts"] == json.loads(expected.model_dump_json())["concepts"]


def test_a_reply_cut_off_is_asked_again_in_the_online_halves(server: FakeBatchServer, tmp_path: Path) -> None:
    question, rubric = question_and_rubric()
    answer = f"{GOOD_ANSWER} Answer number 0."
    halves = [verdict_for(rubric, ["traffic-switch", "rollback"]), verdict_for(rubric, ["in-place"])]
    with serve([chat_reply('{"concepts": {"traffic-sw', finish="length"), *map(chat_reply, halves)]) as online:
        expected = pipeline.grade_answer(question, rubric, answer, llm_options(online.api_base, use_cache=False))
        sent = [seen.body for seen in online.seen]
    assert expected.method == "llm" and len(sent) == 3  # the whole rubric, then its two halves

    def respond(custom_id: str, body: dict[str, Any]) -> Answer:
        chunk, _ = asked(body)
        if len(chunk) == 3:
            return Answer(content='{"concepts": {"traffic-sw', finish_reason="length", prompt_tokens=100,
                          completion_tokens=50)
        return Answer(content=halves[0] if chunk.concepts else halves[1], prompt_tokens=100, completion_tokens=50)

    server.respond = respond
    summary = grade_batch(server, tmp_path, count=1, wait=True)
    rounds = [server.requests_in(b) for b in sorted(server.batches.values(), key=lambda b: b.id)]
    assert [[r["body"] for r in batch] for batch in rounds] == [[body] for body in sent]
    (record,) = lines(tmp_path / "results.jsonl")
    assert record["grade"] == json.loads(expected.model_dump_json())  # usage too: the cut-off reply was paid for
    assert summary.resent == 2  # a sample asks its chunks one after the other: one batch round each


def verdict_for(rubric: Any, ids: list[str]) -> str:
    """GOOD_ANSWER's verdicts on `ids` only (a chunk of the rubric), as the test rubric's passages give them."""
    full = json.loads(verdict())
    return json.dumps({group: {k: v for k, v in items.items() if k in ids} for group, items in full.items()
                       if any(k in ids for k in items)})


def test_a_response_format_the_provider_rejects_is_stepped_down_as_online(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    question, rubric = question_and_rubric()
    answer = f"{GOOD_ANSWER} Answer number 0."
    with serve([error_reply(400, "maxLength is not supported"), chat_reply(GOOD)]) as online:
        expected = pipeline.grade_answer(question, rubric, answer, llm_options(online.api_base, use_cache=False))
        stepped = online.seen[1].body
    assert "maxLength" not in json.dumps(stepped["response_format"])

    def respond(custom_id: str, body: dict[str, Any]) -> Answer:
        if "maxLength" in json.dumps(body["response_format"]):
            return Answer(status=400, message="maxLength is not supported")
        return Answer(content=GOOD, prompt_tokens=100, completion_tokens=50)

    server.respond = respond
    summary = grade_batch(server, tmp_path, count=1, wait=True, retry_failed=True)  # a 400 is never sent again
    _, second = sorted(server.batches.values(), key=lambda b: b.id)
    assert [r["body"] for r in server.requests_in(second)] == [stepped]
    (record,) = lines(tmp_path / "results.jsonl")
    assert record["grade"] == json.loads(expected.model_dump_json()) and summary.resent == 1


def test_samples_are_separate_requests_and_vote(server: FakeBatchServer, tmp_path: Path) -> None:
    said = {"#0": "covered", "#1": "missing", "#2": "covered"}

    def vote(custom_id: str, body: dict[str, Any]) -> Answer:
        status = said[custom_id[-2:]]
        return Answer(content=verdict(rollback=(status, "S3" if status != "missing" else "none")))

    server.respond = vote
    grade_batch(server, tmp_path, count=1, wait=True, samples=3)
    (batch,) = server.batches.values()
    requests = server.requests_in(batch)
    assert sorted(r["custom_id"][-2:] for r in requests) == ["#0", "#1", "#2"]
    assert len({json.dumps(r["body"], sort_keys=True) for r in requests}) == 1  # the same request, three times
    (record,) = lines(tmp_path / "results.jsonl")
    rollback = next(c for c in record["grade"]["concepts"] if c["id"] == "rollback")
    assert rollback["status"] == "covered" and rollback["confidence"] == 0.67


# --- files and splitting ----------------------------------------------------------------------------------------


def test_requests_are_split_into_batches_at_the_limit(server: FakeBatchServer, tmp_path: Path) -> None:
    summary = grade_batch(server, tmp_path, count=5, wait=True, max_requests=2)
    assert sorted(b.counts["total"] for b in server.batches.values()) == [1, 2, 2]
    assert summary.batch.graded == 5 and summary.batch.fallbacks == 0


# --- status and cancel ------------------------------------------------------------------------------------------


def test_status_and_cancel(runner: CliRunner, server: FakeBatchServer, tmp_path: Path) -> None:
    server.auto = False
    write_inputs(tmp_path / "in.jsonl", 4)
    cli(runner, server, tmp_path, "--provider-batch")
    code, listed = cli(runner, server, tmp_path, "--provider-batch", "--status")
    assert code == EXIT_OK and [b["status"] for b in listed] == ["validating"]
    assert load_state(tmp_path / "results.jsonl").batches[0].status == "validating"  # type: ignore[union-attr]
    code, cancelled = cli(runner, server, tmp_path, "--provider-batch", "--cancel")
    assert code == EXIT_OK and len(cancelled["cancelled"]) == 1
    server.auto = True
    code, summary = cli(runner, server, tmp_path, "--provider-batch", "--wait")
    assert code == EXIT_OK and summary["graded"] == 4 and summary["fallbacks"] == 2  # half was done


def test_flags_need_provider_batch_and_a_model(runner: CliRunner, server: FakeBatchServer, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in.jsonl", 1)
    code, message = cli(runner, server, tmp_path, "--wait")
    assert code == EXIT_USAGE and "--wait needs --provider-batch" in message
    result = runner.invoke(
        app, ["--bank", str(BANK), "batch", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "r.jsonl"),
              "--provider-batch"],
    )
    assert result.exit_code == EXIT_CONFIG and "needs a model" in result.stderr
    code, message = cli(runner, server, tmp_path, "--provider-batch", "--status")
    assert code != EXIT_OK and "no provider batches" in message


# --- never twice ----------------------------------------------------------------------------------------------


def test_a_batch_created_but_not_recorded_is_found_again(
    server: FakeBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a kill between creating the batch and saving the state (the subprocess test does it for real)."""
    real = OpenAIBatches.create

    def create_then_die(self: OpenAIBatches, file_id: str, metadata: dict[str, str]) -> Any:
        real(self, file_id, metadata)
        raise KeyboardInterrupt

    monkeypatch.setattr(OpenAIBatches, "create", create_then_die)
    with pytest.raises(KeyboardInterrupt):
        grade_batch(server, tmp_path, count=3)
    state = load_state(tmp_path / "results.jsonl")
    assert state is not None and state.batches[0].status == "planned" and state.batches[0].batch_id is None
    monkeypatch.setattr(OpenAIBatches, "create", real)
    stray = work_folder(tmp_path / "results.jsonl") / "grader-left-by-a-killed-pass-0.jsonl"
    stray.write_text("{}\n")
    summary = grade_batch(server, tmp_path, wait=True)
    assert len(server.batches) == 1 and len(server.uploads) == 1
    assert summary.batch.graded == 3
    assert not stray.exists()  # a file the state does not know is removed


def test_a_damaged_state_file_is_left_alone(runner: CliRunner, server: FakeBatchServer, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in.jsonl", 1)
    state_path(tmp_path / "results.jsonl").write_text("{not json")
    code, message = cli(runner, server, tmp_path, "--provider-batch")
    assert code != EXIT_OK and "damaged" in message
    assert state_path(tmp_path / "results.jsonl").read_text() == "{not json"


def test_partial_exit_code_for_llm_errors(runner: CliRunner, server: FakeBatchServer, tmp_path: Path) -> None:
    server.respond = fail_odd
    write_inputs(tmp_path / "in.jsonl", 2)
    code, summary = cli(runner, server, tmp_path, "--provider-batch", "--wait", "--no-fallback")
    assert code == EXIT_PARTIAL and summary["failed"] == 1


def test_seam_settles_only_with_every_request(tmp_path: Path) -> None:
    question, rubric = question_and_rubric()
    opts = pipeline.GradeOptions(mode="llm", model="openai/x", api_base="http://127.0.0.1:9/v1", samples=2,
                                 use_cache=False)
    from grader.llm.client import Reply

    planned = llm_requests.first_requests(question, rubric, GOOD_ANSWER, llm_requests.settings_for(opts), 2)
    first, second = (r.id for r in planned.requests)
    assert first.endswith("#0") and second == first[:-1] + "1"  # one body, two samples
    missing = llm_requests.settle(question, rubric, GOOD_ANSWER, opts, {first: Reply(GOOD)})
    assert isinstance(missing, list) and [r.id for r in missing] == [second]
    settled = llm_requests.settle(question, rubric, GOOD_ANSWER, opts, {first: Reply(GOOD), second: Reply(GOOD)})
    assert isinstance(settled, llm_requests.Settled) and settled.grade.score == 10.0
    assert settled.cached is not None and settled.cached.method == "llm"


def test_a_reply_already_paid_for_is_used_whatever_was_learned_since(tmp_path: Path) -> None:
    """An answer's replays start from what the model was known to accept when it was planned: a reply cut off for
    another answer meanwhile (which makes the online path ask later answers in halves) changes nothing for it."""
    from grader.llm.capabilities import ModelNotes
    from grader.llm.client import Reply

    question, rubric = question_and_rubric()
    opts = pipeline.GradeOptions(mode="llm", model="openai/x", api_base="http://127.0.0.1:9/v1", use_cache=False)
    settings = llm_requests.settings_for(opts)
    planned = llm_requests.first_requests(question, rubric, GOOD_ANSWER, settings, 1)
    ModelNotes(settings.model, settings.api_base).shrink(1)  # learned since, from another answer
    later = llm_requests.first_requests(question, rubric, GOOD_ANSWER, settings, 1)
    assert later.start != planned.start and [len(asked(r.body)[0]) for r in later.requests] == [1]
    (request,) = planned.requests
    settled = llm_requests.settle(question, rubric, GOOD_ANSWER, opts, {request.id: Reply(GOOD)}, planned.start)
    assert isinstance(settled, llm_requests.Settled) and settled.grade.score == 10.0


def test_what_is_learned_between_submit_and_collect_sends_nothing_again(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    """The state keeps what the model was known to accept when each answer was sent; collecting replays from there."""
    from grader.llm.capabilities import ModelNotes

    notes = ModelNotes("openai/smollm2", server.api_base)
    notes.use_format("json_schema_unbounded")  # known before submitting: the requests carry no maxLength
    server.auto = False
    assert grade_batch(server, tmp_path, count=2).submitted == 2
    state = load_state(tmp_path / "results.jsonl")
    assert state is not None and {item.start for item in state.items.values()} == {"json_schema_unbounded:"}
    (batch,) = server.batches.values()
    assert all("maxLength" not in json.dumps(r["body"]) for r in server.requests_in(batch))
    notes.shrink(1)  # learned meanwhile (another run, online grading): later answers are asked a verdict at a time
    server.finish()
    summary = grade_batch(server, tmp_path, wait=True)
    assert summary.batch.graded == 2 and summary.resent == 0 and len(server.batches) == 1
    assert {r["grade"]["method"] for r in lines(tmp_path / "results.jsonl")} == {"llm"}


def test_a_one_sample_replay_runs_without_an_event_loop_and_refuses_to_wait() -> None:
    """One sample never suspends: it is driven to its end in one step; anything that would wait is an error, not a
    hang (several samples are gathered as tasks on a loop: test_seam_settles_only_with_every_request)."""
    import asyncio

    async def answer() -> int:
        return 42

    async def waits() -> int:
        await asyncio.sleep(0)
        return 1

    assert llm_requests._run(answer(), 1) == 42
    with pytest.raises(RuntimeError, match="event loop"):
        llm_requests._run(waits(), 1)
    assert llm_requests._run(waits(), 2) == 1


def test_a_request_line_carries_the_body_its_id_is_made_from() -> None:
    import hashlib

    from grader.cohort.provider_files import request_line

    question, rubric = question_and_rubric()
    opts = pipeline.GradeOptions(mode="llm", model="openai/x", api_base="http://127.0.0.1:9/v1", use_cache=False)
    (request,) = llm_requests.first_requests(question, rubric, GOOD_ANSWER, llm_requests.settings_for(opts), 1).requests
    assert request.id == hashlib.sha256(request.text.encode()).hexdigest()[: llm_requests.ID_CHARS] + "#0"
    quick = json.loads(request_line("k:" + request.id, "/v1/chat/completions", request.body, request.text))
    plain = json.loads(request_line("k:" + request.id, "/v1/chat/completions", request.body))
    assert quick == plain and quick["body"] == request.body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param({"choices": []}, "not a chat completion (IndexError)", id="no-choices"),
        pytest.param({"object": "error"}, "not a chat completion (KeyError)", id="no-choices-key"),
        pytest.param({"choices": [{"message": {"content": 7}}]}, "not text", id="content-not-text"),
        pytest.param({"choices": [{"message": "x"}]}, "(AttributeError)", id="message-not-object"),
    ],
)
def test_a_result_body_that_is_not_a_chat_completion_is_an_llm_error(body: dict[str, Any], problem: str) -> None:
    from grader.errors import LLMError

    with pytest.raises(LLMError, match=re.escape(problem)):
        llm_requests.reply_from(body, lambda p, c: 0.0)
    reply = llm_requests.reply_from(
        {"choices": [{"message": {"content": "{}"}, "finish_reason": "length"}],
         "usage": {"prompt_tokens": 10, "completion_tokens": 4}}, lambda p, c: p + c,
    )
    assert (reply.content, reply.finish_reason, reply.cost_usd) == ("{}", "length", 14)


# --- the provider's limits and prices -------------------------------------------------------------------------


def test_request_files_split_at_50000_requests_and_keep_an_answers_lines_together(tmp_path: Path) -> None:
    from grader.cohort.provider_files import MAX_REQUESTS, RequestFiles

    files = RequestFiles(tmp_path, "grader-test")
    line = b'{"custom_id": "k:0"}\n'
    numbers = [files.add([line]) for _ in range(MAX_REQUESTS - 1)]
    numbers.append(files.add([line, line]))  # an answer with two samples does not fit in the first file
    numbers.append(files.add([line]))
    done = files.close()
    assert MAX_REQUESTS == 50_000 and set(numbers[:-2]) == {0} and numbers[-2:] == [1, 1]
    assert [f.requests for f in done] == [MAX_REQUESTS - 1, 3]
    assert [f.path.read_bytes().count(b"\n") for f in done] == [MAX_REQUESTS - 1, 3]


def test_request_files_split_by_bytes(tmp_path: Path) -> None:
    from grader.cohort.provider_files import RequestFiles

    files = RequestFiles(tmp_path, "grader-test", max_bytes=100)
    assert [files.add([b"x" * 39 + b"\n"]) for _ in range(5)] == [0, 0, 1, 1, 2]
    assert [f.bytes for f in files.close()] == [80, 80, 40]


PRICES = {
    "with-batch": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6, "input_cost_per_token_batches": 1e-6,
                   "output_cost_per_token_batches": 4e-6, "litellm_provider": "openai"},
    "openai-only-online": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6, "litellm_provider": "openai"},
    "azure/other-only-online": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6,
                                "litellm_provider": "azure"},
}


@pytest.mark.parametrize(
    ("model", "api_base", "expected"),
    [
        pytest.param("openai/with-batch", None, 1000 * 1e-6 + 200 * 4e-6, id="batch-price-in-the-table"),
        pytest.param("openai/openai-only-online", None, (1000 * 2e-6 + 200 * 8e-6) / 2, id="openai-half-online"),
        pytest.param("azure/other-only-online", None, 1000 * 2e-6 + 200 * 8e-6, id="other-provider-online-price"),
        pytest.param("openai/with-batch", "http://127.0.0.1:8080/v1", 0.0, id="local-server-free"),
        pytest.param("openai/no-such-model", None, 0.0, id="unknown-model"),
    ],
)
def test_batch_cost(model: str, api_base: str | None, expected: float, monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.llm import batch_api
    from grader.llm.client import LLMSettings

    monkeypatch.setattr(batch_api, "_price_map", lambda: PRICES)
    assert batch_api.batch_cost(LLMSettings(model=model, api_base=api_base), 1000, 200) == pytest.approx(expected)


def test_batch_cost_reads_the_bundled_price_table() -> None:
    from grader.llm.batch_api import batch_cost
    from grader.llm.client import LLMSettings
    from grader.llm.pricing import _price_map

    entry = _price_map()["gpt-4o-mini"]
    expected = 1000 * entry["input_cost_per_token_batches"] + 200 * entry["output_cost_per_token_batches"]
    assert 0 < expected < 1000 * entry["input_cost_per_token"] + 200 * entry["output_cost_per_token"]
    assert batch_cost(LLMSettings(model="openai/gpt-4o-mini"), 1000, 200) == pytest.approx(expected)


def test_the_litellm_batch_functions_drive_the_same_round_trip(server: FakeBatchServer, tmp_path: Path) -> None:
    """litellm's create_file/create_batch/retrieve_batch/file_content (here for its openai provider, which the
    fake server speaks): the path Azure, Vertex AI and Bedrock take."""
    from grader.llm.batch_api import LiteLLMBatches, open_batch_api

    assert isinstance(open_batch_api(llm_requests.settings_for(options(server, client="litellm"))), LiteLLMBatches)
    summary = grade_batch(server, tmp_path, count=3, wait=True, client="litellm")
    assert summary.batch.graded == 3 and summary.batch.fallbacks == 0 and len(server.batches) == 1
    assert "GET /batches/" + next(iter(server.batches)) in server.calls


def test_the_cache_reads_and_writes_many_grades_at_once(tmp_path: Path) -> None:
    from grader.llm.cache import GradeCache
    from grader.models import Grade, Usage

    _, rubric = question_and_rubric()
    grade = pipeline.grade_by_keywords(rubric, GOOD_ANSWER).model_copy(
        update={"usage": Usage(prompt_tokens=10, completion_tokens=5, cost_usd=0.5), "method": "llm"}
    )
    cache = GradeCache(tmp_path / "cache.sqlite3")
    cache.put_many([(f"k{i}", grade) for i in range(1200)])  # more keys than one query binds
    found = cache.get_many([f"k{i}" for i in range(0, 1300, 3)])
    assert sorted(found) == sorted(f"k{i}" for i in range(0, 1200, 3))
    assert isinstance(found["k0"], Grade) and found["k0"].usage.cached and found["k0"].usage.cost_usd == 0.0
    assert cache.get("k3") == found["k3"]
