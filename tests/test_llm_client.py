"""The openai transport of grader.llm.client against a local fake server: the request it posts is the one the
SDK's typed `chat.completions.create` would send, and the reply is read from plain JSON."""

from __future__ import annotations

import asyncio

import pytest
from fakeserver import Reply, chat_reply, serve

from grader.llm.client import LLMSettings, _sdk_request, _sync_client, acomplete, complete
from grader.llm.failures import CallError

MESSAGES = [
    {"role": "system", "content": "You grade answers."},
    {"role": "user", "content": 'Grade this: "quoted" text, unicode … and a newline\nhere.'},
]
ASYNC_HEADERS = ("user-agent", "x-stainless-async")  # how the SDK names its async client
STREAMED = "x-stainless-raw-response"  # the SDK's header for a body handed over unread (as its streaming API sends)
FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "grade_verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"status": {"enum": ["covered", "missing"], "type": "string"}, "schema": {"type": "string"}},
            "required": ["status", "schema"],
            "additionalProperties": False,
            "$defs": {"Unused": {"type": "object", "title": "Unused"}},
        },
    },
}


def settings(api_base: str, **overrides: object) -> LLMSettings:
    fields: dict[str, object] = {"model": "openai/smollm2", "api_base": api_base, "timeout": 5.0, "max_retries": 0}
    return LLMSettings(**{**fields, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("max_tokens", [pytest.param(None, id="no-max-tokens"), pytest.param(450, id="max-tokens")])
def test_requests_are_what_the_sdks_create_would_send(max_tokens: int | None) -> None:
    with serve([chat_reply("{}")]) as server:
        config = settings(server.api_base, max_tokens=max_tokens, temperature=0.7)
        complete(config, MESSAGES, FORMAT)
        asyncio.run(acomplete(config, MESSAGES, FORMAT))
        _sync_client(config).chat.completions.create(**_sdk_request(config, MESSAGES, FORMAT))
        sync, async_, typed = server.seen
    assert sync.path == async_.path == typed.path == "/v1/chat/completions"
    assert sync.body == async_.body == typed.body
    assert sync.body["model"] == "smollm2" and sync.body.get("max_tokens") == max_tokens
    assert sync.headers.pop(STREAMED) == async_.headers.pop(STREAMED) == "stream"
    assert sync.headers == typed.headers  # same client: the same headers too
    assert {k: v for k, v in async_.headers.items() if k not in ASYNC_HEADERS} == {
        k: v for k, v in typed.headers.items() if k not in ASYNC_HEADERS
    }


def test_the_reply_is_read_from_its_json() -> None:
    reply = chat_reply('{"status": "covered"}', prompt_tokens=120, completion_tokens=30, finish="length")
    with serve([reply]) as server:
        reply = complete(settings(server.api_base), MESSAGES, FORMAT)
    assert reply.content == '{"status": "covered"}'
    assert (reply.prompt_tokens, reply.completion_tokens, reply.finish_reason) == (120, 30, "length")
    assert reply.cost_usd == 0.0  # a local server


def test_a_null_content_and_missing_usage_read_as_empty() -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}
    with serve([Reply(body=body)]) as server:
        reply = asyncio.run(acomplete(settings(server.api_base), MESSAGES, FORMAT))
    assert (reply.content, reply.prompt_tokens, reply.completion_tokens, reply.finish_reason) == ("", 0, 0, None)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(raw=b"<html>Bad gateway</html>"), id="not-json"),
        pytest.param(Reply(body={"object": "chat.completion", "choices": []}), id="no-choices"),
        pytest.param(Reply(body=["a", "list"]), id="not-an-object"),
        pytest.param(Reply(body={"choices": [{"message": {"content": ["parts"]}}]}), id="content-not-text"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_fails_once_with_a_reason(reply: Reply) -> None:
    with serve([reply]) as server, pytest.raises(CallError, match=r"not a chat completion|not text") as failure:
        complete(settings(server.api_base, max_retries=2), MESSAGES, FORMAT)
    assert failure.value.kind == "reply"
    assert len(server.seen) == 1  # retrying would only get the same reply
