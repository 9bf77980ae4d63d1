"""Provider faults against a scripted HTTP server on 127.0.0.1: every one ends in a correct Grade, bounded in time.

Most cases run through both transports: the openai SDK (openai/<name> models) and litellm.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import pytest
from fakeserver import Reply, chat_reply, error_reply, refused_api_base, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, llm_options, question_and_rubric, verdict
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import LLMError
from grader.llm import conversation
from grader.llm.client import GRACE
from grader.pipeline import grade_answer, grade_answer_async

CLIENTS = [pytest.param("openai", id="openai-sdk"), pytest.param("litellm", id="litellm")]


def grade(api_base: str, **overrides: object):
    question, rubric = question_and_rubric()
    return grade_answer(question, rubric, GOOD_ANSWER, llm_options(api_base, **overrides))


def assert_llm(result) -> None:
    assert result.method == "llm", result.fallback_reason
    assert result.fallback_reason is None
    assert result.score == 10.0


def assert_fallback(result, *words: str) -> None:
    assert result.method == "keyword"
    assert result.fallback_reason, "a fallback must say why"
    for word in words:
        assert word in result.fallback_reason
    assert result.score > 0  # the keyword grade of a good answer, not an empty one


@pytest.mark.parametrize("client", CLIENTS)
def test_429_retry_after_is_honoured(client: str) -> None:
    script = [error_reply(429, headers={"retry-after": "1"}), chat_reply(verdict())]
    with serve(script) as server:
        result = grade(server.api_base, client=client)
    assert_llm(result)
    assert len(server.seen) == 2
    waited = server.seen[1].at - server.seen[0].at
    assert 1.0 <= waited < 2.5, f"waited {waited:.2f} s for Retry-After: 1"


def test_429_retry_after_in_milliseconds_and_as_date() -> None:
    script = [
        error_reply(429, headers={"retry-after-ms": "300"}),
        error_reply(429, headers={"retry-after": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())}),
        chat_reply(verdict()),
    ]
    with serve(script) as server:
        result = grade(server.api_base)
    assert_llm(result)
    assert len(server.seen) == 3
    assert server.seen[1].at - server.seen[0].at >= 0.3


def test_429_asking_for_a_long_wait_falls_back_at_once() -> None:
    started = time.monotonic()
    with serve([error_reply(429, headers={"retry-after": "3600"})]) as server:
        result = grade(server.api_base)
    assert time.monotonic() - started < 3
    assert len(server.seen) == 1
    assert_fallback(result, "rate limiting", "3600")


def test_429_retries_are_bounded() -> None:
    with serve([error_reply(429, headers={"retry-after": "0.1"})]) as server:
        result = grade(server.api_base, max_retries=2)
    assert len(server.seen) == 3
    assert_fallback(result, "HTTP 429", "after 3 attempts")


@pytest.mark.parametrize("client", CLIENTS)
def test_500_then_success(client: str) -> None:
    with serve([error_reply(500), chat_reply(verdict())]) as server:
        result = grade(server.api_base, client=client)
    assert_llm(result)
    assert len(server.seen) == 2
    assert server.seen[1].at - server.seen[0].at >= 0.4  # backed off before retrying


def test_persistent_503_falls_back_after_bounded_retries() -> None:
    with serve([error_reply(503, "overloaded")]) as server:
        result = grade(server.api_base, max_retries=1)
    assert len(server.seen) == 2
    assert_fallback(result, "HTTP 503", "overloaded")


def formats_sent(server) -> list[str | None]:
    """The response format of each request: json_schema, json_schema without length limits, json_object, none."""
    kinds: list[str | None] = []
    for seen in server.seen:
        kind = (seen.body.get("response_format") or {}).get("type")
        if kind == "json_schema" and "maxLength" not in json.dumps(seen.body["response_format"]):
            kind = "json_schema_unbounded"
        kinds.append(kind)
    return kinds


def test_a_rejected_length_limit_steps_down_and_is_remembered() -> None:
    script = [error_reply(400, "Invalid schema: 'maxLength' is not permitted"), chat_reply(verdict())]
    with serve(script) as server:
        first = grade(server.api_base)
        second = grade(server.api_base)
    assert_llm(first) and assert_llm(second)  # type: ignore[func-returns-value]
    assert formats_sent(server) == ["json_schema", "json_schema_unbounded", "json_schema_unbounded"]


def test_a_rejected_response_format_steps_down_and_is_remembered() -> None:
    script = [error_reply(400, "response_format json_schema is not supported")] * 2 + [chat_reply(verdict())]
    with serve(script) as server:
        first = grade(server.api_base)
        second = grade(server.api_base)
    assert_llm(first) and assert_llm(second)  # type: ignore[func-returns-value]
    assert formats_sent(server) == ["json_schema", "json_schema_unbounded", "json_object", "json_object"]
    assert "Reply with a single JSON object" in server.seen[1].body["messages"][0]["content"]  # the shape is asked


def test_a_server_that_takes_no_format_is_asked_by_the_prompt_alone() -> None:
    script = [error_reply(400, "response_format is not supported")] * 2 + [error_reply(422, "unknown field"),
              chat_reply("Here are the verdicts:\n```json\n" + verdict() + "\n```")]  # fmt: skip
    with serve(script) as server:
        result = grade(server.api_base)
    assert_llm(result)
    assert formats_sent(server) == ["json_schema", "json_schema_unbounded", "json_object", None]


def test_a_400_whatever_the_format_falls_back_and_is_not_remembered() -> None:
    with serve([error_reply(400, "context length exceeded")]) as server:
        result = grade(server.api_base)
        again = grade(server.api_base)
    assert formats_sent(server) == ["json_schema", "json_schema_unbounded", "json_object", None] * 2  # nothing learnt
    assert_fallback(result, "rejected the request", "HTTP 400", "context length exceeded")
    assert again.fallback_reason == result.fallback_reason


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake server stands for a hosted provider: not a server on this machine."""
    monkeypatch.setattr(conversation, "is_local", lambda api_base: False)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_hosted_provider_that_hangs_times_out_once_and_falls_back(client: str, hosted: None) -> None:
    started = time.monotonic()
    with serve([Reply(hang=30)]) as server:
        result = grade(server.api_base, client=client, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0 + GRACE + 2, f"took {elapsed:.1f} s"
    assert len(server.seen) == 1  # a timeout is not retried: the wait would only double
    assert_fallback(result, "within 1 s")


@pytest.mark.parametrize("client", CLIENTS)
def test_a_local_server_that_hangs_is_asked_for_half_then_falls_back(client: str) -> None:
    started = time.monotonic()
    with serve([Reply(hang=30)]) as server:
        result = grade(server.api_base, client=client, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 2 * (1.0 + GRACE) + 2, f"took {elapsed:.1f} s"
    assert len(server.seen) == 2  # all verdicts, then the first half: never more
    assert_fallback(result, "within 1 s")


def test_a_local_server_too_slow_for_every_verdict_at_once_is_asked_in_halves() -> None:
    slow = chat_reply(verdict())
    slow.hang = 2.0
    halves = [
        chat_reply(json.dumps({"concepts": json.loads(verdict())["concepts"]})),
        chat_reply(json.dumps({"misconceptions": json.loads(verdict())["misconceptions"]})),
    ]
    with serve([slow, *halves, *halves]) as server:
        result = grade(server.api_base, timeout=0.5)
        again = grade(server.api_base, timeout=0.5)
    assert_llm(result) and assert_llm(again)  # type: ignore[func-returns-value]
    assert len(server.seen) == 5  # the whole rubric too slow, then halves; the next answer starts with halves


def test_samples_against_a_hung_server_share_one_deadline(hosted: None) -> None:
    started = time.monotonic()
    with serve([Reply(hang=30)]) as server:
        result = grade(server.api_base, timeout=1.0, samples=15)
        elapsed = time.monotonic() - started
    assert len(server.seen) == 15  # asked at once, not one after the other
    assert elapsed < 1.0 + GRACE + 2, f"took {elapsed:.1f} s"
    assert_fallback(result, "within 1 s")


def test_a_trickling_reply_is_cut_off_by_the_deadline(hosted: None) -> None:
    """One byte every 0.3 s never trips a read timeout of 1 s; the overall deadline still ends the wait."""
    slow = chat_reply(verdict())
    slow.trickle = 0.3
    started = time.monotonic()
    with serve([slow]) as server:
        result = grade(server.api_base, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0 + GRACE + 2, f"took {elapsed:.1f} s"
    assert_fallback(result, "within")


@pytest.mark.parametrize("client", CLIENTS)
def test_connection_refused_falls_back(client: str) -> None:
    started = time.monotonic()
    result = grade(refused_api_base(), client=client, max_retries=1)
    assert time.monotonic() - started < 5
    assert_fallback(result, "cannot connect")


def test_dropped_connection_falls_back() -> None:
    with serve([Reply(drop=True)]) as server:
        result = grade(server.api_base, max_retries=1)
    assert len(server.seen) == 2
    assert_fallback(result, "cannot connect")


@pytest.mark.parametrize("client", CLIENTS)
def test_malformed_json_gets_one_repair_that_shows_the_error(client: str) -> None:
    with serve([chat_reply('{"concepts": {"traffic-switch": '), chat_reply(verdict())]) as server:
        result = grade(server.api_base, client=client)
    assert_llm(result)
    assert len(server.seen) == 2
    repair = server.seen[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"concepts": {"traffic-switch": '}
    assert repair[-1]["role"] == "user" and "not valid JSON" in repair[-1]["content"]
    assert result.usage is not None and result.usage.prompt_tokens == 200  # both calls counted


def test_a_reply_cut_off_is_asked_again_in_halves_and_the_size_remembered() -> None:
    halves = [
        chat_reply('{"concepts": {"traffic-switch": {"evidence": "S2", "reason": "x x x x x x', finish="length"),
        chat_reply(json.dumps({"concepts": json.loads(verdict())["concepts"]})),
        chat_reply(json.dumps({"misconceptions": json.loads(verdict())["misconceptions"]})),
    ]
    with serve([*halves, *halves[1:]]) as server:
        result = grade(server.api_base)
        again = grade(server.api_base)
    assert_llm(result) and assert_llm(again)  # type: ignore[func-returns-value]
    asked = [seen.body["messages"][1]["content"].rsplit("\n", 1)[-1] for seen in server.seen]
    assert asked[0] == "Judge every concept and misconception listed above."
    assert asked[1].startswith("Judge only these: concepts traffic-switch, rollback.")
    assert asked[2].startswith("Judge only these: misconceptions in-place.")
    assert asked[3:] == asked[1:3]  # the next answer is asked in the size that worked
    assert [seen.body["max_tokens"] for seen in server.seen][1] < server.seen[0].body["max_tokens"]
    assert result.usage is not None and result.usage.completion_tokens == 150  # the cut-off reply counted too


def test_a_reply_cut_off_down_to_one_verdict_falls_back() -> None:
    with serve([chat_reply('{"concepts": {"traffic-sw', finish="length")]) as server:
        result = grade(server.api_base)
    # all three verdicts, then two, then one and its one repair: never more
    assert len(server.seen) == 4
    assert_fallback(result, "about traffic-switch was unusable twice", "cut off at the token limit")
    assert result.usage is not None and result.usage.completion_tokens == 4 * 50  # what the attempt cost


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        pytest.param('["a list"]', "not a JSON object", id="not-an-object"),
        pytest.param("", "empty", id="empty"),
        pytest.param(json.dumps({"misconceptions": {}}), "concepts: an object keyed by id is required",
                     id="concepts-missing"),
        pytest.param(verdict(switch=("excellent", "S2")), "status must be one of covered, partial, missing",
                     id="status-not-offered"),
        pytest.param(verdict(switch=("covered", "S9")), "one of the passage labels", id="passage-not-offered"),
        pytest.param(verdict().replace('"rollback"', '"rollbacks"'), "no verdict for rollback", id="id-misspelt"),
        pytest.param(json.dumps({"concepts": {**json.loads(verdict())["concepts"], "bonus": {}}}), "not asked for",
                     id="id-invented"),
        pytest.param("[" * 30_000 + "]" * 30_000, "nested more than 8 levels deep", id="nested-30000-deep"),
        pytest.param("{" + " " * 70_000 + "}", "too long", id="too-long"),
        pytest.param('{"concepts": ' + "7" * 5000 + "}", "not valid JSON: a number has more than 4300 digits",
                     id="number-too-long-to-read"),
    ],
)  # fmt: skip
def test_invalid_replies_are_repaired_with_the_reason(reply: str, problem: str) -> None:
    with serve([chat_reply(reply), chat_reply(verdict())]) as server:
        result = grade(server.api_base)
    assert_llm(result)
    assert problem in server.seen[1].body["messages"][-1]["content"]


def test_the_models_own_score_and_extra_keys_are_ignored() -> None:
    with serve([chat_reply(verdict(score=10, feedback="Perfect!"))]) as server:
        result = grade(server.api_base)
    assert_llm(result)
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        pytest.param(Reply(raw=b"[" * 100_000 + b"]" * 100_000), "nested too deep", id="body-nested-100000-deep"),
        pytest.param(Reply(raw=gzip.compress(b" " * (8 << 20)), headers={"content-encoding": "gzip"}),
                     "larger than 1024 KiB once decompressed", id="gzip-bomb"),
        pytest.param(Reply(raw=b"x" * (2 << 20)), "larger than 1024 KiB", id="body-too-large"),
    ],
)  # fmt: skip
def test_a_reply_body_too_large_or_too_deep_falls_back_with_a_reason(reply: Reply, reason: str) -> None:
    with serve([reply]) as server:
        result = grade(server.api_base)
    assert len(server.seen) == 1  # like an unusable body, not retried
    assert_fallback(result, "sent an unusable reply", reason)


def test_through_litellm_a_body_nested_100000_deep_falls_back_too() -> None:
    """litellm reads bodies itself (their size is not bounded there); a fault in reading one is still a fallback."""
    with serve([Reply(raw=b"[" * 100_000 + b"]" * 100_000)]) as server:
        result = grade(server.api_base, client="litellm", max_retries=0)
    assert_fallback(result, "recursion")


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"])
def test_a_missing_api_key_is_reported_at_once_in_our_words(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    question, rubric = question_and_rubric()
    started = time.monotonic()
    result = grade_answer(question, rubric, GOOD_ANSWER, llm_options(None, model=model))  # type: ignore[arg-type]
    assert time.monotonic() - started < 1
    variable = "ANTHROPIC_API_KEY" if "claude" in model else "OPENAI_API_KEY"
    assert_fallback(result, f"no API key for {model}: set {variable} in the environment")
    assert result.usage is None  # nothing was sent


def test_no_fallback_raises_llm_error() -> None:
    with serve([error_reply(500)]) as server, pytest.raises(LLMError, match="HTTP 500"):
        grade(server.api_base, max_retries=0, fallback=False)


def test_async_path_retries_and_times_out() -> None:
    question, rubric = question_and_rubric()

    async def both(ok_base: str, hung_base: str):
        return await asyncio.gather(
            grade_answer_async(question, rubric, GOOD_ANSWER, llm_options(ok_base)),
            grade_answer_async(question, rubric, GOOD_ANSWER, llm_options(hung_base, timeout=1.0)),
        )

    started = time.monotonic()
    with serve([error_reply(502), chat_reply(verdict())]) as ok, serve([Reply(hang=30)]) as hung:
        recovered, timed_out = asyncio.run(both(ok.api_base, hung.api_base))
    assert time.monotonic() - started < 1.0 + GRACE + 2
    assert_llm(recovered)
    assert len(ok.seen) == 2
    assert_fallback(timed_out, "within 1 s")


# --- through the CLI: never a traceback, the fallback shown -------------------------------------------


@pytest.fixture
def no_retries(grader_home) -> None:
    """The CLI tests read max_retries from the config file (retries themselves are tested above)."""
    (grader_home / "config.toml").write_text("[llm]\nmax_retries = 0\n")


def cli(runner: CliRunner, api_base: str, *extra: str):
    args = ["--bank", str(BANK), "answer", "-q", QUESTION_ID, "--mode", "llm", "--model", "openai/smollm2"]
    args += ["--api-base", api_base, "--timeout", "1", "--no-cache", "--no-save", *extra]
    return runner.invoke(app, args, input=GOOD_ANSWER)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param([error_reply(500)], id="500"),
        pytest.param([Reply(hang=30)], id="hang"),
        pytest.param([chat_reply("not json at all")], id="bad-json"),
        pytest.param([error_reply(429, headers={"retry-after": "999"})], id="429-too-long"),
        pytest.param([error_reply(401, "Incorrect API key")], id="401"),
    ],
)
def test_cli_falls_back_with_a_reason_and_no_traceback(
    runner: CliRunner, script: list[Reply], no_retries: None
) -> None:
    with serve(script) as server:
        result = cli(runner, server.api_base, "--json")
        shown = cli(runner, server.api_base)
    assert result.exit_code == 0, result.stderr
    grade_json = json.loads(result.stdout)
    assert grade_json["method"] == "keyword" and grade_json["fallback_reason"]
    assert shown.exit_code == 0, shown.stderr
    assert "Graded by keywords instead" in shown.stdout
    for output in (result.stdout, result.stderr, shown.stdout, shown.stderr):
        assert "Traceback" not in output


def test_cli_connection_refused_without_fallback_exits_6(runner: CliRunner, no_retries: None) -> None:
    result = cli(runner, refused_api_base(), "--no-fallback", "--json")
    assert result.exit_code == 6
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot connect to the model server at 127.0.0.1")
    assert "Traceback" not in result.stderr


def test_ollama_gets_the_schema_as_its_format() -> None:
    """Through litellm, an Ollama model is sent the reply schema as Ollama's own `format` (grammar-constrained)."""
    body = {
        "model": "llama3.2", "created_at": "2026-12-06T00:00:00Z", "done": True, "done_reason": "stop",
        "message": {"role": "assistant", "content": verdict()}, "prompt_eval_count": 100, "eval_count": 50,
    }  # fmt: skip
    with serve([Reply(body=body)]) as server:
        result = grade(server.api_base.removesuffix("/v1"), model="ollama_chat/llama3.2", max_retries=0)
    assert_llm(result)
    (seen,) = [seen for seen in server.seen if seen.path == "/api/chat"]  # litellm also asks /api/show
    assert seen.body["format"]["properties"]["concepts"]["required"] == ["traffic-switch", "rollback"]
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.cost_usd) == (100, 0.0)
