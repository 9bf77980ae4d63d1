"""`grade rubrics check --strict` warns about rubrics fitted to answers rather than describing concepts (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank.validation import MAX_CONCEPT_ALTERNATIVES, check_bank, check_rubric
from grader.models import Concept, Rubric

REPO = Path(__file__).resolve().parent.parent


def rubric(*concepts: Concept) -> Rubric:
    return Rubric(question_id="demo-1", concepts=list(concepts), model_answer="m", draft=True)


def concept(cid: str, keywords: list[str], synonyms: dict[str, list[str]] | None = None) -> Concept:
    return Concept(id=cid, name=cid, description=cid, weight=1, keywords=keywords, synonyms=synonyms or {},
                   follow_up="?")


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        pytest.param(
            rubric(concept("a", ["rollback"], {"rollback": ["rollbacks", "revert"]})),
            "synonym 'rollbacks' repeats its keyword", id="synonym-repeats-keyword",
        ),
        pytest.param(
            rubric(concept("a", ["canary", "the lesson i took away from it"])),
            "longer than 4 words", id="sentence-not-a-term",
        ),
        pytest.param(
            rubric(concept("a", ["canary"]), concept("b", ["canary release", "canaries"])),
            "also credits concept 'a'", id="one-phrase-two-concepts",
        ),
        pytest.param(
            rubric(concept("a", [f"term{i}" for i in range(MAX_CONCEPT_ALTERNATIVES + 1)])),
            f"{MAX_CONCEPT_ALTERNATIVES + 1} keywords and synonyms", id="too-many-alternatives",
        ),
    ],
)
def test_authoring_warnings(built: Rubric, expected: str) -> None:
    problems = [p for p in check_rubric(built, "demo.yaml") if p.severity == "warning"]
    assert any(expected in p.message for p in problems), [p.message for p in problems]


def test_a_clean_rubric_has_no_authoring_warning() -> None:
    built = rubric(concept("a", ["blue-green", "switch traffic"], {"switch traffic": ["cut over"]}),
                   concept("b", ["canary", "small percentage"]))
    assert [p for p in check_rubric(built, "demo.yaml") if p.field != "draft"] == []


def test_the_shipped_bank_passes_strict() -> None:
    report = check_bank(REPO)
    assert (report.questions, report.rubrics, report.problems) == (28, 28, ())


# Standard terms of four words ("read only root filesystem", "on every pull request") occur in any text on the
# subject; the v1 rubrics, fitted to the kit, had 228 alternatives of 4+ words found word for word in it.
MAX_SHARED_PHRASES = 20  # measured: 18 (e.g. "single point of failure", "decouple deploy from release")


def test_rubric_alternatives_are_not_sentences_of_the_kit_answers() -> None:
    """Rubrics describe concepts: almost no alternative of 4 words occurs word for word in our own kit answers."""
    import yaml

    from grader.bank.loader import load_bank
    from grader.keyword.text import analyse

    kits = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in (REPO / "tests" / "kit").glob("*.yaml")]
    texts = [" " + " ".join(analyse(v).words) + " " for kit in kits for k, v in kit.items() if k != "question_id"]
    bank = load_bank(REPO)
    copied = set()
    for question_id in bank.questions:
        for c in bank.rubric(question_id).concepts:
            for alternative in [*c.keywords, *(s for group in c.synonyms.values() for s in group)]:
                words = analyse(alternative.replace("...", " ")).words
                if len(words) >= 4 and any(f" {' '.join(words)} " in text for text in texts):
                    copied.add(alternative)
    print(sorted(copied))
    assert len(copied) <= MAX_SHARED_PHRASES, sorted(copied)
