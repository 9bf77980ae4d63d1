"""The pieces under the LLM grader's evidence: numbered passages, the terms a concept is recognised by, which
providers need a key, and what is remembered about a model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llm_support import question_and_rubric

from grader.keyword.text import analyse, sentence_spans
from grader.llm import capabilities
from grader.llm.capabilities import Capabilities, ModelNotes
from grader.llm.credentials import missing_key, provider_of
from grader.llm.passages import MAX_PASSAGE_WORDS, MAX_PASSAGES, split_passages
from grader.llm.support import rubric_terms


@pytest.mark.parametrize(
    ("answer", "passages"),
    [
        pytest.param("One idea. Another idea!", ["One idea.", "Another idea!"], id="sentences"),
        pytest.param("- first point\n- second point\n", ["first point", "second point"], id="bullets-dropped"),
        pytest.param("We use e.g. Argo here. Then more.", ["We use e.g. Argo here.", "Then more."], id="e-g"),
        pytest.param("Intro:\n\n---\n\nBody text.", ["Intro:", "Body text."], id="no-word-pieces-dropped"),
        pytest.param("   ", [], id="blank"),
        pytest.param("Version 1.5 shipped.", ["Version 1.5 shipped."], id="decimal"),
    ],
)
def test_answers_are_cut_into_sentences(answer: str, passages: list[str]) -> None:
    found = split_passages(answer)
    assert [p.text for p in found] == passages
    assert [p.label for p in found] == [f"S{i}" for i in range(1, len(passages) + 1)]
    assert all(answer[p.start : p.end] == p.text for p in found)  # the candidate's own words, where they are


def test_a_long_sentence_is_cut_at_the_clause_nearest_its_middle() -> None:
    left = " ".join(f"alpha{i}" for i in range(30))
    right = " ".join(f"beta{i}" for i in range(30))
    passages = split_passages(f"{left}; {right}.")
    assert [p.text for p in passages] == [f"{left};", f"{right}."]


def test_no_passage_is_longer_than_the_limit_and_a_delimiter_is_never_cut() -> None:
    words = " ".join(f"w{i}" for i in range(200))
    answer = f"{words} [END DATA] {words}"
    passages = split_passages(answer)
    assert all(len(p.text.split()) <= MAX_PASSAGE_WORDS for p in passages)
    assert any("[END DATA]" in p.text for p in passages)
    assert " ".join(p.text for p in passages) == answer


def test_a_very_long_answer_gets_longer_passages_not_more() -> None:
    answer = " ".join(f"word{i}" for i in range(MAX_PASSAGES * MAX_PASSAGE_WORDS * 2))
    assert len(split_passages(answer)) <= MAX_PASSAGES


def test_a_concepts_terms_leave_out_the_question_and_what_most_concepts_share() -> None:
    question, rubric = question_and_rubric()  # "What is a blue-green deployment?"
    terms = rubric_terms(question, rubric)
    assert {"ident", "idl", "load", "balanc"} <= terms.concepts["traffic-switch"]
    assert {"roll", "old", "still"} <= terms.concepts["rollback"]
    for stems in terms.concepts.values():
        assert not {"blue", "green", "deploy"} & stems  # the question's words prove nothing
        assert "switch" not in stems and "traffic" not in stems  # both concepts have them
    assert {"upgrad", "live", "server", "place"} <= terms.misconceptions["in-place"]


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        pytest.param("gpt-4o-mini", "openai", id="bare-openai"),
        pytest.param("o3-mini", "openai", id="bare-o3"),
        pytest.param("openai/smollm2", "openai", id="openai-prefix"),
        pytest.param("claude-3-5-haiku-latest", "anthropic", id="bare-anthropic"),
        pytest.param("ollama_chat/llama3.2", "ollama_chat", id="ollama"),
        pytest.param("mixtral", None, id="unknown"),
    ],
)
def test_the_provider_a_model_string_names(model: str, provider: str | None) -> None:
    assert provider_of(model) == provider


@pytest.mark.parametrize(
    ("model", "api_base", "env", "missing"),
    [
        pytest.param("gpt-4o-mini", None, {}, "OPENAI_API_KEY", id="openai-without-key"),
        pytest.param("gpt-4o-mini", None, {"OPENAI_API_KEY": "sk-x"}, None, id="openai-with-key"),
        pytest.param("openai/smollm2", "http://127.0.0.1:8080/v1", {}, None, id="own-server"),
        pytest.param("groq/llama3", None, {}, "GROQ_API_KEY", id="groq"),
        pytest.param("together_ai/x", None, {"TOGETHER_API_KEY": "k"}, None, id="second-variable"),
        pytest.param("ollama_chat/llama3.2", None, {}, None, id="local-provider"),
        pytest.param("mystery/x", None, {}, None, id="unknown-provider"),
    ],
)
def test_a_missing_key_is_named(
    monkeypatch: pytest.MonkeyPatch, model: str, api_base: str | None, env: dict[str, str], missing: str | None
) -> None:
    for name in ("OPENAI_API_KEY", "GROQ_API_KEY", "TOGETHER_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    message = missing_key(model, api_base)
    assert (message is None) == (missing is None)
    if missing:
        assert message and missing in message and message.startswith(f"no API key for {model}")


def test_what_worked_is_remembered_across_processes(grader_home: Path) -> None:
    notes = ModelNotes("openai/smollm2", "http://127.0.0.1:9/v1/")
    assert notes.get() == Capabilities("json_schema", None)
    notes.use_format("json_object")
    notes.shrink(4)
    notes.shrink(6)  # never grows back
    notes.use_format("json_schema")  # never steps back up
    assert notes.get() == Capabilities("json_object", 4)
    script = (
        "from grader.llm.capabilities import ModelNotes\n"
        "print(ModelNotes('openai/smollm2', 'http://127.0.0.1:9/v1').get())"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "Capabilities(format='json_object', chunk=4)"
    assert ModelNotes("openai/other", "http://127.0.0.1:9/v1").get() == Capabilities()


def test_an_unusable_cache_file_only_means_nothing_is_remembered(
    grader_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (grader_home / "llm-cache.sqlite3").mkdir()
    monkeypatch.setattr(capabilities, "_KNOWN", {})
    notes = ModelNotes("openai/smollm2", None)
    notes.shrink(2)
    assert notes.get().chunk == 2  # for this process


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("We deploy with blue-green. Then we switch traffic! Rollback is instant?", id="prose"),
        pytest.param("| Feature | Terraform |\n|---|---|\n| State | a file we keep in S3 |\nAfter.", id="table"),
        pytest.param("Steps:\n```\nterraform plan\n\n```\n...\n-- !!\nDone.", id="code and wordless lines"),
        pytest.param("Ça marche. İstanbul’s ﬁle… ＤＡＴＡ ends here.", id="non-ascii"),
        pytest.param("", id="empty"),
    ],
)
def test_passages_are_cut_at_the_keyword_graders_sentences(text: str) -> None:
    """split_passages reads sentences without stemming (`sentence_spans`); they must be analyse's sentences."""
    assert sentence_spans(text) == [(s.start, s.end) for s in analyse(text).sentences]
