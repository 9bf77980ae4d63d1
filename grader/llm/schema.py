"""What a model is asked to reply: the JSON schema of one request's verdicts, its token budget, and a strict parse
with bounds.

One request judges a `Chunk` of the rubric (every concept and misconception, or a few of them). The reply is an
object keyed by id, every id required and no other allowed, so nothing can be skipped, repeated or invented:

    {"concepts": {"<concept id>": {"evidence": "S3", "reason": "...", "status": "covered"}, ...},
     "misconceptions": {"<misconception id>": {"evidence": "none", "stated": false}, ...}}

`evidence` is the label of a numbered passage of the answer (an enum), `status` an enum, and the one free text,
`reason`, has a maximum length: a small model writing inside an unbounded string can repeat a phrase until the
token limit, and a grammar-constrained server cannot write past `maxLength`. So the reply has a worst case, and
`max_tokens` is sized from it: a reply is never cut off for being long-winded within the schema.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from grader.models import Status

# How the reply's shape is enforced, strictest first: the strict schema; the same without length limits (which
# some strict modes refuse, OpenAI's for fine-tuned models); JSON mode with the shape in the prompt; the prompt alone.
Format = Literal["json_schema", "json_schema_unbounded", "json_object", "prompt"]
FORMATS: tuple[Format, ...] = ("json_schema", "json_schema_unbounded", "json_object", "prompt")
STATUSES: tuple[Status, ...] = ("covered", "partial", "missing")
MAX_REASON_CHARS = 60
MAX_REPLY_CHARS = 64_000  # a reply of every concept of a large rubric is under 10,000
MAX_DEPTH = 8  # the schema nests 4 deep
WHITESPACE_TOKENS = 3  # a grammar lets a model put a line break and indentation between elements
PROMPT_SLACK = 200  # without a schema a model may wrap the JSON in a sentence or a code fence
IGNORED_KEYS = ("score", "total", "total_score", "overall_score", "grade", "marks", "feedback")


class ReplyProblem(Exception):
    """A reply that cannot be used; the message says what is wrong in words a model (and a user) can act on."""


@dataclass(frozen=True)
class Chunk:
    """The ids of the concepts and misconceptions one request judges, in rubric order."""

    concepts: tuple[str, ...]
    misconceptions: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.concepts) + len(self.misconceptions)

    def split(self, size: int) -> list[Chunk]:
        """This chunk in pieces of at most `size` items (concepts first, then misconceptions)."""
        items = [("c", i) for i in self.concepts] + [("m", i) for i in self.misconceptions]
        pieces = [items[n : n + max(1, size)] for n in range(0, len(items), max(1, size))]
        return [
            Chunk(tuple(i for k, i in piece if k == "c"), tuple(i for k, i in piece if k == "m")) for piece in pieces
        ]


@dataclass(frozen=True)
class ConceptSaid:
    """What the model said about one concept."""

    status: Status
    evidence: str  # a passage label, or "none"
    reason: str


@dataclass(frozen=True)
class MisconceptionSaid:
    """What the model said about one misconception."""

    stated: bool
    evidence: str


@dataclass(frozen=True)
class Verdicts:
    concepts: dict[str, ConceptSaid]
    misconceptions: dict[str, MisconceptionSaid]


def verdict_schema(chunk: Chunk, labels: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of the reply to a request about `chunk`, citing one of `labels`."""
    evidence = {"type": "string", "enum": list(labels)}
    concept = _object(
        {
            "evidence": evidence,
            "reason": {"type": "string", "maxLength": MAX_REASON_CHARS},
            "status": {"type": "string", "enum": list(STATUSES)},
        }
    )
    misconception = _object({"evidence": evidence, "stated": {"type": "boolean"}})
    groups: dict[str, Any] = {}
    if chunk.concepts:
        groups["concepts"] = _object({cid: concept for cid in chunk.concepts})
    if chunk.misconceptions:
        groups["misconceptions"] = _object({mid: misconception for mid in chunk.misconceptions})
    return _object(groups)


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def schema_fingerprint() -> str:
    """A digest of the reply schema's shape and limits (part of the cache key)."""
    limits = (MAX_REASON_CHARS, MAX_REPLY_CHARS, MAX_DEPTH, WHITESPACE_TOKENS, PROMPT_SLACK, FORMATS, IGNORED_KEYS)
    return _digest(limits)


@lru_cache(maxsize=4)
def _digest(limits: tuple[object, ...]) -> str:  # by the limits' values: computed once, not once an answer
    import hashlib

    shape = verdict_schema(Chunk(("<concept>",), ("<misconception>",)), ["S1", "none"])
    return hashlib.sha256(json.dumps([shape, list(limits)]).encode()).hexdigest()


def response_format(schema: dict[str, Any], level: Format) -> dict[str, Any] | None:
    """The `response_format` of a request at `level`: the strict schema (with or without its length limits), JSON
    mode, or nothing (prompt only)."""
    if level in ("json_schema", "json_schema_unbounded"):
        if level == "json_schema_unbounded":
            schema = _without_limits(schema)
        return {"type": "json_schema", "json_schema": {"name": "grade_verdict", "strict": True, "schema": schema}}
    if level == "json_object":
        return {"type": "json_object"}
    return None


def request_shape(chunk: Chunk, labels: Sequence[str], level: Format) -> tuple[dict[str, Any] | None, int]:
    """The `response_format` and `token_budget` of a request about `chunk` citing `labels` at `level`, built once
    per shape (the same objects for every answer with as many passages: callers must not change them)."""
    return _shape(chunk, tuple(labels), level, MAX_REASON_CHARS, WHITESPACE_TOKENS, PROMPT_SLACK)


@lru_cache(maxsize=1024)
def _shape(
    chunk: Chunk, labels: tuple[str, ...], level: Format, *limits: int
) -> tuple[dict[str, Any] | None, int]:  # by the limits' values too
    return response_format(verdict_schema(chunk, labels), level), token_budget(chunk, labels, level)


def _without_limits(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: _without_limits(value) for key, value in schema.items() if key != "maxLength"}
    if isinstance(schema, list):
        return [_without_limits(item) for item in schema]
    return schema


def token_budget(chunk: Chunk, labels: Sequence[str], level: Format) -> int:
    """`max_tokens` for a reply about `chunk`: the longest reply the schema allows, counted as one token per
    character (a token is at least a byte; the reply's structure is ASCII), each reason character as two (an
    escape such as \\n or \\" is two characters), plus a line break and indentation between elements. A reply
    past it (a reason in a script of several bytes a character, a loop of \\u escapes) is cut off and asked
    again in halves."""
    longest = max(labels, key=len)
    concept = {"evidence": longest, "reason": "xx" * MAX_REASON_CHARS, "status": max(STATUSES, key=len)}
    misconception = {"evidence": longest, "stated": False}
    widest: dict[str, Any] = {}
    if chunk.concepts:
        widest["concepts"] = dict.fromkeys(chunk.concepts, concept)
    if chunk.misconceptions:
        widest["misconceptions"] = dict.fromkeys(chunk.misconceptions, misconception)
    elements = 2 + len(widest) + 4 * len(chunk.concepts) + 3 * len(chunk.misconceptions)
    budget = len(json.dumps(widest, separators=(",", ":"))) + WHITESPACE_TOKENS * elements
    return budget + (PROMPT_SLACK if level == "prompt" else 0)


# --- parsing ---------------------------------------------------------------------------------------


def parse_reply(content: str, chunk: Chunk, labels: Sequence[str], cut_off: bool = False) -> Verdicts:
    """The verdicts in a reply to a request about `chunk`; ReplyProblem when it is unusable (too long, nested too
    deep, not JSON, not the schema). `cut_off`: the reply stopped at the token limit (said in the problem)."""
    cut = " (the reply was cut off at the token limit)" if cut_off else ""
    if len(content) > MAX_REPLY_CHARS:
        raise ReplyProblem(f"the reply is too long ({len(content):,} characters; at most {MAX_REPLY_CHARS:,})")
    text = _json_part(content)
    if not text:
        raise ReplyProblem("the reply was empty" + cut)
    # Parsed first (the length is bounded, and the parser stops at the recursion limit): the depth of what parsed is
    # the depth of its brackets outside strings, which only a text that does not parse needs counted.
    too_deep = ReplyProblem(f"the reply is nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:  # JSONDecodeError, or a number too long to convert (sys.get_int_max_str_digits)
        if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
            raise too_deep from None
        if isinstance(exc, json.JSONDecodeError):
            where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        else:
            where = f"a number has more than {sys.get_int_max_str_digits()} digits"
        raise ReplyProblem(f"it is not valid JSON: {where}{cut}") from None
    if value_depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise too_deep
    if not isinstance(data, dict):
        raise ReplyProblem("it is not a JSON object" + cut)
    try:
        return _read(data, chunk, {label.casefold(): label for label in labels})
    except ReplyProblem as problem:
        raise ReplyProblem(f"it does not match the schema: {problem}{cut}") from None


def _json_part(content: str) -> str:
    """The JSON object in a reply: the whole reply, or the object inside a code fence or a sentence."""
    text = content.strip()
    if text.startswith("{"):
        return text
    first, last = text.find("{"), text.rfind("}")
    return text[first : last + 1] if 0 <= first < last else text


def nesting_depth(text: str, limit: int) -> int:
    """How deep the brackets of `text` nest outside strings; counting stops once it passes `limit`."""
    depth = deepest = 0
    for char in _BRACKETS.findall(_STRINGS.sub("", text)):  # strings out (an unclosed one runs to the end)
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def value_depth(value: Any, limit: int) -> int:
    """How deep the lists and objects of a parsed JSON value nest (`nesting_depth` of its JSON text); counting stops
    once it passes `limit`."""
    depth, level = 0, [value]
    while depth <= limit:
        level = [item for item in level if isinstance(item, _CONTAINERS)]
        if not level:
            break
        depth += 1
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)]
    return depth


_CONTAINERS = (dict, list)


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _read(data: dict[str, Any], chunk: Chunk, labels: dict[str, str]) -> Verdicts:
    concepts: dict[str, ConceptSaid] = {}
    misconceptions: dict[str, MisconceptionSaid] = {}
    if chunk.concepts:
        for cid, verdict in _group(data, "concepts", chunk.concepts).items():
            status = _field(verdict, f"concepts.{cid}", "status")
            if not isinstance(status, str) or status.strip().lower() not in STATUSES:
                raise ReplyProblem(f"concepts.{cid}.status must be one of {', '.join(STATUSES)}")
            reason = verdict.get("reason", "")
            concepts[cid] = ConceptSaid(
                status=status.strip().lower(),  # type: ignore[arg-type]
                evidence=_label(verdict, f"concepts.{cid}", labels),
                reason=reason if isinstance(reason, str) else "",
            )
    if chunk.misconceptions:
        for mid, verdict in _group(data, "misconceptions", chunk.misconceptions).items():
            stated = _field(verdict, f"misconceptions.{mid}", "stated")
            if not isinstance(stated, bool):
                raise ReplyProblem(f"misconceptions.{mid}.stated must be true or false")
            misconceptions[mid] = MisconceptionSaid(stated, _label(verdict, f"misconceptions.{mid}", labels))
    return Verdicts(concepts, misconceptions)


def _group(data: dict[str, Any], name: str, ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    group = data.get(name)
    if not isinstance(group, dict):
        raise ReplyProblem(f"{name}: an object keyed by id is required")
    missing = [i for i in ids if i not in group]
    unknown = [k for k in group if k not in ids]
    if missing:
        raise ReplyProblem(f"{name}: no verdict for {', '.join(missing)}")
    if unknown:
        raise ReplyProblem(f"{name}: {', '.join(str(k)[:40] for k in unknown[:3])} not asked for")
    for key in ids:
        if not isinstance(group[key], dict):
            raise ReplyProblem(f"{name}.{key} must be an object")
    return {key: group[key] for key in ids}


def _field(verdict: dict[str, Any], where: str, name: str) -> Any:
    if name not in verdict:
        raise ReplyProblem(f"{where}.{name} is required")
    return verdict[name]


def _label(verdict: dict[str, Any], where: str, labels: dict[str, str]) -> str:
    """The passage label a verdict cites; an empty or absent evidence counts as `none`."""
    value = verdict.get("evidence", "")
    if not isinstance(value, str):
        raise ReplyProblem(f"{where}.evidence must be a passage label")
    key = "".join(value.split()).casefold() or "none"
    if key not in labels:
        raise ReplyProblem(f"{where}.evidence must be one of the passage labels (S1, S2, ...) or none")
    return labels[key]
