"""Words as the graders read them: stems (Snowball, British spellings read as American, short acronym plurals),
abbreviations expanded, the words of a keyword phrase, and the small word lists (function words, negations)."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer  # PyStemmer: the Snowball stemmers compiled from C

_STEMMER = Stemmer.Stemmer("english")
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|%")
ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?|%")  # WORD on lower-case ASCII text, 40% faster
QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just me more most my no nor
    not of off on once only or other our ours out over own same she should so some such than that the
    their theirs them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours us let get got make makes
    use used using way first then next also i'm i've we're we've it's that's don't doesn't didn't won't
    can't isn't aren't wasn't weren't within including across via per onto upon among inside outside since
    though although unless whether must may might shall etc e.g i.e like such both either neither whose
    it'll we'll they're they've""".split()
)

NEGATIONS = frozenset(
    """not no never without avoid avoiding instead rather nor don't doesn't didn't won't can't isn't aren't
    wasn't weren't shouldn't mustn't cannot""".split()
)

# Phrases that disown a claim anywhere in its sentence ("a common myth is that ...", "..., which is wrong").
DISCLAIMER = re.compile(
    r"\b(myths?|misconceptions?|fallac(y|ies)|untrue|not true|incorrect(ly)?|mistaken(ly)?|misguided"
    r"|(which|that|this)(\s+is|'s|\s+was)\s+(just\s+)?wrong|it'?s\s+wrong\s+to|wrong\s+(idea|assumption))\b",
    re.IGNORECASE,
)


# Abbreviations read as their expansion, on both the answer and the rubric side.
ABBREVIATIONS: dict[str, str] = {
    "k8s": "kubernetes",
    "k8": "kubernetes",
    "db": "database",
    "dbs": "databases",
    "lb": "load balancer",
    "lbs": "load balancers",
    "env": "environment",
    "envs": "environments",
    "prod": "production",
    "config": "configuration",
    "configs": "configurations",
    "repo": "repository",
    "repos": "repositories",
    "infra": "infrastructure",
    "ha": "high availability",
    "mtls": "mutual tls",
    "iac": "infrastructure as code",
    "cfn": "cloudformation",
    "gha": "github actions",
    "svc": "service",
    "rca": "root cause analysis",
    "perf": "performance",
    "vuln": "vulnerability",
    "vulns": "vulnerabilities",
    "vm": "virtual machine",
    "vms": "virtual machines",
    "az": "availability zone",
    "azs": "availability zones",
    "pr": "pull request",
    "prs": "pull requests",
    "mr": "merge request",
    "mrs": "merge requests",
    "deps": "dependencies",
    "postmortem": "post mortem",
    "postmortems": "post mortems",
    "%": "percent",
}


# British spellings read as American ones (applied to both sides, so a rare false rewrite is harmless).
_BRITISH = (
    (re.compile(r"(?<=\w{3})is(e|es|ed|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"(?<=\w{3})ys(e|es|ed|ing|er|ers)$"), r"yz\1"),
    (re.compile(r"(?<=\w\w[lvnbmpi])our(s|ed|ing|able|ite|ites)?$"), r"or\1"),
    (re.compile(r"(?<=\w{3})tre(s)?$"), r"ter\1"),
    (re.compile(r"(?<=\w{3})ogue(s)?$"), r"og\1"),
)
_BRITISH_WORDS = {"defence": "defense", "licence": "license", "offence": "offense", "grey": "gray"}


# Every ending one of _BRITISH's patterns can match: a word with none of them is left alone without a regex.
_BRITISH_ENDINGS = tuple(
    {f"is{end}" for end in ("e", "es", "ed", "ing", "ation", "ations", "er", "ers")}
    | {f"ys{end}" for end in ("e", "es", "ed", "ing", "er", "ers")}
    | {f"our{end}" for end in ("", "s", "ed", "ing", "able", "ite", "ites")}
    | {"tre", "tres", "ogue", "ogues"}
)


def _americanise(word: str) -> str:
    word = _BRITISH_WORDS.get(word, word)
    if len(word) >= 6 and word.endswith(_BRITISH_ENDINGS):
        for pattern, replacement in _BRITISH:
            word = pattern.sub(replacement, word)
    return word


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Snowball stem of one lower-case word (apostrophes dropped, British spelling made American).

    Short plurals that Snowball keeps (`SLOs`, `CVEs`) lose their `s`, so acronyms match their plurals.
    """
    base, _, suffix = word.partition("'")
    if suffix:  # contractions and possessives: "i'd" -> "i", "team's" -> "team", "don't" -> "dont"
        word = base + "t" if suffix == "t" else base
    word = _americanise(word)
    stemmed = _STEMMER.stemWord(word)
    if stemmed == word and 4 <= len(word) <= 6 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return stemmed


# Memos of the hot path, plain dicts (cheaper to consult than an lru_cache), emptied when they grow too big:
# word -> its stems (abbreviations expand to several), and word -> its one stem for the common words (SINGLE_STEM,
# read directly by grader.keyword.text.analyse on its hot path).
_EXPANSIONS: dict[str, tuple[str, ...]] = {}
SINGLE_STEM: dict[str, str] = {}
_MEMO_LIMIT = 1 << 16


def expand(word: str) -> tuple[str, ...]:
    found = _EXPANSIONS.get(word)
    if found is not None:
        return found
    expansion = ABBREVIATIONS.get(word)
    found = (stem(word),) if expansion is None else tuple(stem(part) for part in expansion.split())
    if len(_EXPANSIONS) >= _MEMO_LIMIT:
        _EXPANSIONS.clear()
        SINGLE_STEM.clear()
    _EXPANSIONS[word] = found
    if len(found) == 1:
        SINGLE_STEM[word] = found[0]
    return found


def phrase_stems(phrase: str) -> tuple[str, ...]:
    """The stems a keyword phrase is matched by, abbreviations expanded."""
    out: list[str] = []
    for match in WORD.finditer(phrase.translate(QUOTES).lower()):
        out.extend(expand(match.group()))
    return tuple(out)


def phrase_words(phrase: str) -> list[str]:
    """The lower-case words of a phrase, as the tokeniser sees them."""
    if phrase.isascii():  # no quote to straighten (they are not ASCII), and ASCII_WORD is WORD on it
        return ASCII_WORD.findall(phrase.lower())
    return WORD.findall(phrase.translate(QUOTES).lower())


def phrase_links(phrase: str) -> list[bool]:
    """For each stem of `phrase_stems(phrase)` after the first: is it tied to the previous one?

    Words joined by a hyphen or slash (`on-call`, `blue/green`) and the parts of an expanded abbreviation are
    tied: nothing may come between them. Words separated by spaces are loose.
    """
    return read_phrase(phrase)[2]


def read_phrase(phrase: str) -> tuple[tuple[str, ...], list[str], list[bool], list[tuple[str, ...]]]:
    """`phrase_stems`, `phrase_words`, `phrase_links` of a phrase, and the stems of each of its words, in one pass
    (compiling a rubric uses them all)."""
    stems: list[str] = []
    words: list[str] = []
    links: list[bool] = []
    word_stems: list[tuple[str, ...]] = []
    previous_end: int | None = None
    for match in WORD.finditer(phrase.translate(QUOTES).lower()):
        word = match.group()
        parts = expand(word)
        if previous_end is not None:
            separator = phrase[previous_end : match.start()]
            links.append(not separator or bool(separator.strip()))
        if len(parts) > 1:
            links.extend([True] * (len(parts) - 1))
        previous_end = match.end()
        stems += parts
        words.append(word)
        word_stems.append(parts)
    return tuple(stems), words, links, word_stems


def joined_stem(phrase: str) -> str | None:
    """The stem of a two- or three-word phrase written as one word (`roll back` -> `rollback`), else None."""
    words = phrase_words(phrase)
    if not 2 <= len(words) <= 3 or any("'" in word for word in words):
        return None
    return stem("".join(words))
