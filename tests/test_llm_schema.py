"""The reply schema and its parser: every reply the schema allows is read back exactly, fits the token budget, and
nothing a server can send makes the parser do anything but return verdicts or say what is wrong (fuzzed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.llm.schema import (
    MAX_DEPTH,
    MAX_REASON_CHARS,
    MAX_REPLY_CHARS,
    STATUSES,
    Chunk,
    ReplyProblem,
    nesting_depth,
    parse_reply,
    response_format,
    token_budget,
    value_depth,
    verdict_schema,
)

CHUNK = Chunk(("traffic-switch", "rollback"), ("in-place",))
LABELS = ["S1", "S2", "S3", "none"]


REASONS = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from('\n\t"\\'))


@st.composite
def valid_replies(draw: st.DrawFn, chunk: Chunk = CHUNK, labels: list[str] = LABELS, reasons: Any = None) -> dict:
    """A reply the schema allows (every id, only those, strings within their bounds)."""
    concept = st.fixed_dictionaries(
        {
            "evidence": st.sampled_from(labels),
            "reason": (st.text() if reasons is None else reasons).filter(lambda r: len(r) <= MAX_REASON_CHARS),
            "status": st.sampled_from(STATUSES),
        }
    )
    misconception = st.fixed_dictionaries({"evidence": st.sampled_from(labels), "stated": st.booleans()})
    reply: dict[str, Any] = {}
    if chunk.concepts:
        reply["concepts"] = {cid: draw(concept) for cid in chunk.concepts}
    if chunk.misconceptions:
        reply["misconceptions"] = {mid: draw(misconception) for mid in chunk.misconceptions}
    return reply


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)


@given(valid_replies(), st.sampled_from(["compact", "pretty", "fenced"]))
def test_every_reply_the_schema_allows_is_read_back(reply: dict[str, Any], layout: str) -> None:
    text = json.dumps(reply, separators=(",", ":")) if layout == "compact" else json.dumps(reply, indent=2)
    if layout == "fenced":
        text = f"Here it is:\n```json\n{text}\n```"
    verdicts = parse_reply(text, CHUNK, LABELS)
    for cid, said in reply["concepts"].items():
        got = verdicts.concepts[cid]
        assert (got.status, got.evidence, got.reason) == (said["status"], said["evidence"], said["reason"])
    for mid, said in reply["misconceptions"].items():
        assert (verdicts.misconceptions[mid].stated, verdicts.misconceptions[mid].evidence) == (
            said["stated"],
            said["evidence"],
        )


@given(valid_replies(reasons=REASONS))
def test_the_token_budget_holds_every_reply_the_schema_allows(reply: dict[str, Any]) -> None:
    """No token is shorter than a byte, so an ASCII reply's length bounds its tokens (escapes included)."""
    assert len(json.dumps(reply, separators=(",", ":"))) <= token_budget(CHUNK, LABELS, "json_schema")


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=400), JSON.map(json.dumps), valid_replies().map(json.dumps).map(lambda t: t[:-3])))
def test_nothing_a_server_sends_breaks_the_parser(text: str) -> None:
    """Any text: verdicts, or ReplyProblem with a reason; never another exception."""
    try:
        parse_reply(text, CHUNK, LABELS)
    except ReplyProblem as problem:
        assert str(problem)


@given(st.integers(min_value=MAX_DEPTH + 1, max_value=200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_refused_without_recursion(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    reply = opener * depth + closer * depth
    with pytest.raises(ReplyProblem, match="too long" if len(reply) > MAX_REPLY_CHARS else "nested more than"):
        parse_reply(reply, CHUNK, LABELS)


@given(st.text(alphabet='[]{}"\\ab', max_size=60))
def test_nesting_depth_ignores_brackets_inside_strings(text: str) -> None:
    reference = _depth_by_json(text)
    if reference is not None:
        assert nesting_depth(text, 1000) == reference


def _depth_by_json(text: str) -> int | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None

    def depth(item: Any) -> int:
        if isinstance(item, list):
            return 1 + max((depth(i) for i in item), default=0)
        if isinstance(item, dict):
            return 1 + max((depth(i) for i in item.values()), default=0)
        return 0

    return depth(value)


def test_a_reply_too_long_is_refused_before_it_is_read() -> None:
    with pytest.raises(ReplyProblem, match="too long"):
        parse_reply(" " * (MAX_REPLY_CHARS + 1), CHUNK, LABELS)


@pytest.mark.parametrize(
    ("evidence", "read"),
    [
        pytest.param("S2", "S2", id="exact"),
        pytest.param(" s2 ", "S2", id="case-and-space"),
        pytest.param("", "none", id="empty-is-none"),
        pytest.param("NONE", "none", id="none-any-case"),
    ],
)
def test_labels_are_read_leniently_but_only_as_offered(evidence: str, read: str) -> None:
    reply = {"concepts": {"traffic-switch": {"evidence": evidence, "reason": "", "status": "Covered"}}}
    verdicts = parse_reply(json.dumps(reply), Chunk(("traffic-switch",)), LABELS)
    assert verdicts.concepts["traffic-switch"].evidence == read
    assert verdicts.concepts["traffic-switch"].status == "covered"


def test_the_schema_is_keyed_by_id_with_every_string_bounded() -> None:
    schema = verdict_schema(CHUNK, LABELS)
    assert schema["required"] == ["concepts", "misconceptions"]
    assert schema["properties"]["concepts"]["required"] == ["traffic-switch", "rollback"]
    concept = schema["properties"]["concepts"]["properties"]["rollback"]
    assert list(concept["properties"]) == ["evidence", "reason", "status"]  # the citation first, the verdict last
    assert concept["properties"]["reason"]["maxLength"] == MAX_REASON_CHARS
    assert response_format(schema, "json_schema")["json_schema"]["strict"] is True  # type: ignore[index]
    assert response_format(schema, "json_object") == {"type": "json_object"}
    assert response_format(schema, "prompt") is None


@pytest.mark.parametrize(
    ("size", "pieces"),
    [
        pytest.param(10, [(("traffic-switch", "rollback"), ("in-place",))], id="whole"),
        pytest.param(2, [(("traffic-switch", "rollback"), ()), ((), ("in-place",))], id="halves"),
        pytest.param(1, [(("traffic-switch",), ()), (("rollback",), ()), ((), ("in-place",))], id="one-each"),
    ],
)
def test_chunks_split_in_rubric_order(size: int, pieces: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
    assert [(c.concepts, c.misconceptions) for c in CHUNK.split(size)] == pieces


def _depth_char_by_char(text: str, limit: int) -> int:
    """The depth read one character at a time (strings skipped, escapes honoured, an unclosed string running to the
    end): the oracle for `nesting_depth`, which cuts the strings out with one regex."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif char in "]}":
            depth -= 1
    return deepest


@settings(max_examples=500)
@given(st.text(alphabet='[]{}"\\ab\n', max_size=60), st.integers(min_value=0, max_value=8))
def test_nesting_depth_of_any_text_is_the_character_by_character_depth(text: str, limit: int) -> None:
    assert nesting_depth(text, limit) == _depth_char_by_char(text, limit)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        pytest.param('{"a": "[[[", "b": [1]}', 2, id="brackets-in-a-string"),
        pytest.param('{"a": "\\"[[", "b": {}}', 2, id="escaped-quote"),
        pytest.param('{"a": "\\\\", "b": [[]]}', 3, id="escaped-backslash-closes"),
        pytest.param('{"a": "unclosed [[[[', 1, id="unclosed-string-runs-to-the-end"),
        pytest.param('[[ "x\\', 2, id="lone-backslash-at-the-end"),
        pytest.param("", 0, id="empty"),
    ],
)
def test_nesting_depth_examples(text: str, depth: int) -> None:
    assert nesting_depth(text, 100) == depth


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"ab', max_size=3), inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=500)
@given(JSON_VALUES, st.integers(min_value=0, max_value=8), st.booleans())
def test_a_parsed_replys_depth_is_the_depth_of_its_text(value: object, limit: int, spaced: bool) -> None:
    """parse_reply counts the depth of a reply that parses on the parsed value, and of one that does not on its
    text: for every JSON text the two agree (brackets inside strings included), up to the limit and past it."""
    text = json.dumps(value, indent=1 if spaced else None, ensure_ascii=False)
    assert value_depth(json.loads(text), limit) == nesting_depth(text, limit)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        pytest.param("[" * 9 + "]" * 9, "nested more than 8", id="valid-nine-deep"),
        pytest.param('{"a": ' * 9 + "1" + "}" * 9, "nested more than 8", id="valid-objects-nine-deep"),
        pytest.param("[" * 9 + "]" * 8, "nested more than 8", id="invalid-nine-deep"),
        pytest.param("[" * 5000 + "]" * 5000, "nested more than 8", id="past-the-parsers-recursion-limit"),
        pytest.param("[" * 8 + "]" * 7, "not valid JSON", id="invalid-eight-deep"),
        pytest.param('{"concepts": [[[[[[["x"]]]]]]]}', "does not match the schema", id="valid-eight-deep"),
        pytest.param('{"concepts": ' + "7" * 5000 + "}", "not valid JSON: a number has more than", id="long-number"),
        pytest.param("[" * 9 + "7" * 5000 + "]" * 9, "nested more than 8", id="long-number-nine-deep"),
    ],
)
def test_too_deep_is_said_whether_the_reply_parses_or_not(reply: str, problem: str) -> None:
    """Too deep is said first, as when the depth was counted before parsing; a number too long to read (Python
    refuses to convert more than sys.get_int_max_str_digits() digits) is invalid JSON, not an error of ours."""
    with pytest.raises(ReplyProblem, match=problem):
        parse_reply(reply, CHUNK, ["S1", "none"])
