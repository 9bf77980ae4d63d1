"""The matcher's variants: case, punctuation, separators, stems, phrases, joins, gaps, typos, abbreviations."""

from __future__ import annotations

import pytest

from grader.keyword.matcher import Matcher
from grader.keyword.patterns import compile_pattern, index_patterns
from grader.keyword.text import analyse
from grader.keyword.vocabulary import pattern_vocabulary


def matches(keyword: str, answer: str, synonyms: tuple[str, ...] = ()) -> bool:
    pattern = compile_pattern(keyword, synonyms)
    matcher = Matcher(analyse(answer), pattern_vocabulary([pattern]))
    return bool(matcher.find(index_patterns([pattern])))


@pytest.mark.parametrize(
    ("keyword", "answer"),
    [
        pytest.param("blue-green", "We use Blue-Green deployments.", id="case"),
        pytest.param("blue-green", "we do blue/green releases", id="slash"),
        pytest.param("blue-green", "we do blue green releases", id="space"),
        pytest.param("blue green", "a blue-green switch", id="hyphen-in-answer"),
        pytest.param("canary release", "we run canary releases daily", id="plural"),
        pytest.param("deploy", "it was deployed twice", id="inflection-past"),
        pytest.param("deployment", "we are deploying now", id="inflection-noun-verb"),
        pytest.param("load balancer", "the load-balancers switch", id="phrase-plural"),
        pytest.param("roll back", "we rollback quickly", id="joined-in-answer"),
        pytest.param("rollback", "we roll back quickly", id="split-in-answer"),
        pytest.param("switch traffic", "we switch the traffic over", id="one-word-gap"),
        pytest.param("kubernetes", "we run k8s clusters", id="abbreviation-in-answer"),
        pytest.param("HA", "designed for high availability", id="abbreviation-in-keyword"),
        pytest.param("kubernetes", "we run kuberntes clusters", id="typo-deletion"),
        pytest.param("canary", "canaery deploys", id="typo-insertion"),
        pytest.param("percent", "5% of users", id="percent-sign-word"),
        pytest.param("dns ... cutover", "DNS records are updated at cutover", id="proximity"),
        pytest.param("feature flag", "behind a feature-flag, yes.", id="punctuation"),
        pytest.param("SLO", "we watch SLOs", id="acronym-plural"),
        pytest.param("postmortem", "we wrote a post-mortem", id="hyphen-vs-joined"),
        pytest.param("behaviour", "its behavior changed", id="british-american"),
        pytest.param("prioritize", "we prioritised reliability", id="british-ise"),
        pytest.param("analyze", "we analysed the logs", id="british-yse"),
        pytest.param("CVE", "patch critical CVEs first", id="acronym-plural-2"),
        pytest.param("it's", "it\u2019s fine", id="curly-apostrophe"),
        pytest.param("load balancer", "we put it behind the load\nbalancer", id="hard-wrapped-line"),
        pytest.param("sli ... successful requests", "an SLI, e.g. successful requests", id="e-g-not-a-sentence-end"),
        pytest.param("deployments", "we automated deploymnets", id="typo-transposition"),
        pytest.param("team", "the team's runbook", id="possessive"),
    ],
)
def test_keyword_matches(keyword: str, answer: str) -> None:
    assert matches(keyword, answer)


@pytest.mark.parametrize(
    ("keyword", "answer"),
    [
        pytest.param("switch traffic", "traffic we switch", id="order-matters"),
        pytest.param("switch traffic", "switch all of the traffic", id="gap-too-wide"),
        pytest.param("dns ... cutover", "DNS is fine. The cutover was late.", id="proximity-crosses-sentence"),
        pytest.param("scale", "a stale cache", id="no-typo-on-short-words"),
        pytest.param("canary", "a binary file", id="different-word"),
        pytest.param("load balancer", "we use an ALB", id="synonym-only-when-listed"),
        pytest.param("load balancer", "the load. Balancer", id="phrase-crosses-sentence"),
        pytest.param("load balancer", "the load\n\nbalancer", id="phrase-crosses-paragraph"),
        pytest.param("load balancer", "- the load\n- balancer", id="phrase-crosses-bullets"),
        pytest.param("ids", "I'd say so", id="contraction-is-not-a-word"),
        pytest.param("on-call", "timeouts on every call", id="hyphenated-words-are-tied"),
        pytest.param("iteration", "integration tests", id="two-edits-need-similar-length"),
        pytest.param("they're basically the same", "they differ", id="apostrophe-phrase-not-cut"),
        pytest.param("consul", "the consumers", id="no-typo-on-different-word"),
        pytest.param("conmon", "a common tool", id="no-typo-on-short-word"),
    ],
)
def test_keyword_does_not_match(keyword: str, answer: str) -> None:
    assert not matches(keyword, answer)


def test_synonym_counts_as_its_keyword() -> None:
    assert matches("load balancer", "we use an ALB", synonyms=("ALB", "ELB"))
