"""Provider faults against a scripted HTTP server on 127.0.0.1: every one ends in a correct Grade, bounded in time.

Most cases run through both transports: the openai SDK (openai/<name> models) and litellm.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fakeserver import Reply, chat_reply, error_reply, refused_api_base, serve
from llm_support import BANK, GOOD_ANSWER, QUESTION_ID, llm_options, question_and_rubric, verdict
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import LLMError
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


def test_400_is_not_retried() -> None:
    with serve([error_reply(400, "response_format is not supported")]) as server:
        result = grade(server.api_base)
    assert len(server.seen) == 1
    assert_fallback(result, "rejected the request", "HTTP 400", "response_format is not supported")


@pytest.mark.parametrize("client", CLIENTS)
def test_hang_times_out_and_falls_back_in_bounded_time(client: str) -> None:
    started = time.monotonic()
    with serve([Reply(hang=30)]) as server:
        result = grade(server.api_base, client=client, timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0 + GRACE + 2, f"took {elapsed:.1f} s"
    assert len(server.seen) == 1  # a timeout is not retried: the wait would only double
    assert_fallback(result, "within 1 s")


def test_a_trickling_reply_is_cut_off_by_the_deadline() -> None:
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


def test_truncated_json_twice_falls_back() -> None:
    with serve([chat_reply('{"concepts": {"traffic-sw', finish="length")]) as server:
        result = grade(server.api_base)
    assert len(server.seen) == 2  # the request and one repair, no more
    assert_fallback(result, "unusable twice", "cut off at the token limit")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        pytest.param('["a list"]', "not a JSON object", id="not-an-object"),
        pytest.param("", "empty", id="empty"),
        pytest.param(json.dumps({"concepts": {}, "feedback": "x"}), "Field required", id="concepts-missing"),
        pytest.param(verdict(switch=("excellent", "switch traffic")), "status", id="status-not-offered"),
        pytest.param(verdict(bonus="yes"), "Extra inputs", id="extra-key"),
    ],
)
def test_invalid_replies_are_repaired_with_the_reason(reply: str, problem: str) -> None:
    with serve([chat_reply(reply), chat_reply(verdict())]) as server:
        result = grade(server.api_base)
    assert_llm(result)
    assert problem in server.seen[1].body["messages"][-1]["content"]


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "gpt-4o-mini"], ids=["openai-sdk", "litellm"])
def test_a_missing_api_key_is_reported_and_not_retried(monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    question, rubric = question_and_rubric()
    started = time.monotonic()
    result = grade_answer(question, rubric, GOOD_ANSWER, llm_options(None, model=model))  # type: ignore[arg-type]
    assert time.monotonic() - started < 3  # refused by the client itself: nothing to retry
    assert_fallback(result, "the model client failed", "OPENAI_API_KEY")


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
